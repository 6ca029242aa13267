package plan

import (
	"container/heap"
	"math"
	"slices"

	"github.com/weirdev/weir/rules"
)

// Input says where the point being routed comes from: its record's input
// partition and offset, and that partition's watermark.
type Input struct {
	Spans     bool // a record of the spans topic, else of the metrics topic
	Partition int32
	// Offset is the record's offset (negative: none, nothing to hold).
	Offset int64
	// Watermark is the partition's (aggregator.Partition.Watermark):
	// windows ending at or before it were handed on.
	Watermark int64
}

// tenantLimits enforces the rules' per-tenant limits as a deterministic
// function of each input partition's records and their points' event
// times, so that a replay from a committed offset, in this process or in
// another, admits and sheds exactly the points the first reading did.
//
// A tenant's limit of R samples per second with a burst of B is counted in
// intervals of B aligned on event time. In each interval, each input
// partition admits its share of R×B: 1/n of it for each of the n partitions
// of its topic, so the group admits R×B per interval whatever the
// assignment. (A share that is no whole number of points is spread over the
// intervals: floor((k+1)s) - floor(ks) in interval k, which average s, so
// the group may pass R×B by under n points in one interval.) A point is counted in the interval of its own event
// time, in record order; which process reads the partition, and when, does
// not matter.
//
// A tenant's quota pools reserve their shares of each interval's budget:
// a point of a pool (the first whose matchers select its input series) is
// admitted while its pool's share of the interval is not spent. Beyond it,
// and for the series outside every pool, points draw on the rest of the
// budget the pools do not reserve, and there lower priorities are refused
// first: a point of priority rank r (0 = lowest of the P priorities in use
// by rules and pools, 0 always among them for series no rule matched; a
// pool's point has its pool's priority, another its rules' highest) is
// admitted only if the rest stays within (r+1)/P of its budget, so the
// highest priority can use it all and the lowest stops at the first slice.
// Never a random drop.
//
// A replay rebuilds an interval's count only if it reads every record that
// counted in it: the partition's commit point stays at or before the first
// record of each interval a later point could still be admitted to an open
// window in (see hold). An interval is closed once the watermark passed its
// end by the largest resolution in force: every window a point of it feeds
// has been handed on, so its count no longer matters and is dropped.
type tenantLimits struct {
	set    *rules.Set
	limits rules.Limits
	prios  []int
	// maxRes is the largest resolution (ms) of any set put in force: how
	// long after an interval's end one of its points can still feed an
	// open window.
	maxRes int64
	// metricsParts and spansParts are the partitions of the input topics
	// (0: one).
	metricsParts, spansParts int32
	inputs                   map[inputKey]*inputLimits
}

// admit counts one point of event time t (Unix ms) for a tenant, its pool
// (an index into the limit's Pools, -1 for none) and its rules' priority,
// read from in, and reports whether it fits the limit.
func (l *tenantLimits) admit(tenant string, pool, priority int, t int64, in Input) bool {
	q, ok := l.quota(tenant, pool, t, in, true)
	if !ok {
		return true
	}
	iv := q.iv
	if q.pool >= 0 {
		if iv.pools[q.pool] < q.budget(q.lim.Pools[q.pool].Share) {
			iv.pools[q.pool]++
			return true
		}
		priority = q.lim.Pools[q.pool].Priority
	}
	r, _ := slices.BinarySearch(l.prios, priority)
	n := int64(len(l.prios))
	if (iv.rest+1)*n > q.rest()*int64(r+1) {
		return false
	}
	iv.rest++
	return true
}

// judgedAs returns the name of a point's pool ("" for none) and the
// priority admit judged it at.
func (l *tenantLimits) judgedAs(tenant string, pool, priority int) (string, int) {
	if pools := l.limits.For(tenant).Pools; pool >= 0 && pool < len(pools) {
		return pools[pool].Name, pools[pool].Priority
	}
	return "", priority
}

// overQuota reports whether a point of event time t of a tenant's pool (-1
// for none) read from in is over quota, for the drop rules that act only
// then: a pool's share of the interval is spent, or, outside every pool,
// the interval's unreserved rest has no room left for the lowest priority.
// It counts nothing.
func (l *tenantLimits) overQuota(tenant string, pool int, t int64, in Input) bool {
	q, ok := l.quota(tenant, pool, t, in, false)
	if !ok {
		return false
	}
	if q.pool >= 0 {
		var n int64
		if q.iv != nil {
			n = q.iv.pools[q.pool]
		}
		return n >= q.budget(q.lim.Pools[q.pool].Share)
	}
	var n int64
	if q.iv != nil {
		n = q.iv.rest
	}
	return (n+1)*int64(len(l.prios)) > q.rest()
}

// quota is what a point is judged by: its tenant's limit, the interval of
// its event time on its input partition, and its pool.
type quota struct {
	lim  rules.Limit
	iv   *interval // nil when not created and not open
	pool int       // -1: none
	k    int64     // the interval's number: its start over its length
	per  float64   // points the partition admits per interval on average
}

// budget is what the interval admits of a share of the limit.
func (q quota) budget(share float64) int64 { return intervalBudget(q.per*share, q.k) }

// rest is the interval's budget the pools do not reserve.
func (q quota) rest() int64 {
	b := q.budget(1)
	for _, p := range q.lim.Pools {
		b -= q.budget(p.Share)
	}
	return max(b, 0)
}

// quota looks up (with create, opens) the interval of a point; ok is false
// when the tenant has no limit or every window the point could feed was
// handed on: the aggregator drops it whatever is decided here, and a replay
// that no longer has the interval's count must decide alike.
func (l *tenantLimits) quota(tenant string, pool int, t int64, in Input, create bool) (quota, bool) {
	lim := l.limits.For(tenant)
	if lim.Unlimited() {
		return quota{}, false
	}
	w := lim.Burst.Milliseconds()
	if w <= 0 {
		w = 1000
	}
	start := t - mod(t, w)
	closes := satAdd(satAdd(start, w), l.maxRes)
	if closes <= in.Watermark {
		return quota{}, false
	}
	parts := l.metricsParts
	if in.Spans {
		parts = l.spansParts
	}
	if pool >= len(lim.Pools) {
		pool = -1 // a match of other rules than those in force: no pool
	}
	q := quota{lim: lim, pool: pool, k: start / w, per: lim.SamplesPerSecond * float64(w) / 1000 / float64(max(parts, 1))}
	k := intervalKey{tenant, start}
	il := l.inputs[inputKey{in.Spans, in.Partition}]
	if il != nil {
		q.iv = il.open[k]
	}
	if q.iv == nil && create {
		il = l.input(in)
		q.iv = &interval{key: k, first: max(in.Offset, -1), closes: closes, pools: make([]int64, len(lim.Pools))}
		il.open[k] = q.iv
		heap.Push(&il.byClose, q.iv)
		il.byFirst = append(il.byFirst, q.iv)
		il.live++
	}
	if q.iv != nil && len(q.iv.pools) < len(lim.Pools) {
		// The rules changed the tenant's pools while the interval was open.
		q.iv.pools = append(q.iv.pools, make([]int64, len(lim.Pools)-len(q.iv.pools))...)
	}
	return q, true
}

// intervalBudget is the budget of interval k when intervals average b
// points: floor((k+1)b) - floor(kb).
func intervalBudget(b float64, k int64) int64 {
	return int64(math.Floor(float64(k+1)*b) - math.Floor(float64(k)*b))
}

// use takes the limits of a rule set and the unmatched policies it passes
// series through at; open intervals keep their counts.
func (l *tenantLimits) use(s *rules.Set, unmatched []rules.StoragePolicy) {
	if s == l.set {
		return
	}
	l.set, l.limits = s, s.Limits()
	l.prios = []int{0}
	for _, r := range s.Rules() {
		l.prios = append(l.prios, r.Priority)
	}
	for _, lim := range l.limits.Tenants {
		for _, p := range lim.Pools {
			l.prios = append(l.prios, p.Priority)
		}
	}
	for _, p := range l.limits.Default.Pools {
		l.prios = append(l.prios, p.Priority)
	}
	slices.Sort(l.prios)
	l.prios = slices.Compact(l.prios)
	for _, pol := range slices.Concat(s.Policies(), unmatched) {
		l.maxRes = max(l.maxRes, pol.Resolution.Milliseconds())
	}
}
