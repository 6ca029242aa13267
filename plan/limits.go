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
// When an interval is short of budget, points of lower-priority rules are
// refused first: a point of priority rank r (0 = lowest of the P priorities
// in use, 0 always among them for series no rule matched) is admitted only
// if the interval stays within (r+1)/P of its budget, so the highest
// priority can use it all and the lowest stops at the first slice. Never a
// random drop.
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

type inputKey struct {
	spans     bool
	partition int32
}

// inputLimits holds the open intervals of one input partition.
type inputLimits struct {
	open map[intervalKey]*interval
	// byClose orders the open intervals by closing watermark; byFirst by
	// their first record (the order they were opened in, offsets only
	// growing), with closed ones dropped from its front and compacted.
	byClose intervalHeap
	byFirst []*interval
	live    int
}

type intervalKey struct {
	tenant string
	start  int64 // Unix ms
}

type interval struct {
	key    intervalKey
	used   int64 // points admitted
	first  int64 // offset of the record that opened it, -1 for none
	closes int64 // the watermark at which it closes
	closed bool
}

// admit counts one point of event time t (Unix ms) for a tenant and
// priority read from in, and reports whether it fits the limit.
func (l *tenantLimits) admit(tenant string, priority int, t int64, in Input) bool {
	lim := l.limits.For(tenant)
	if lim.Unlimited() {
		return true
	}
	w := lim.Burst.Milliseconds()
	if w <= 0 {
		w = 1000
	}
	start := t - mod(t, w)
	closes := satAdd(satAdd(start, w), l.maxRes)
	if closes <= in.Watermark {
		// Every window the point could feed was handed on: the aggregator
		// drops it whatever is decided here, and a replay that no longer
		// has the interval's count must decide alike.
		return true
	}
	il := l.input(in)
	k := intervalKey{tenant, start}
	iv := il.open[k]
	if iv == nil {
		iv = &interval{key: k, first: max(in.Offset, -1), closes: closes}
		il.open[k] = iv
		heap.Push(&il.byClose, iv)
		il.byFirst = append(il.byFirst, iv)
		il.live++
	}
	parts := l.metricsParts
	if in.Spans {
		parts = l.spansParts
	}
	budget := intervalBudget(lim.SamplesPerSecond*float64(w)/1000/float64(max(parts, 1)), start/w)
	r, _ := slices.BinarySearch(l.prios, priority)
	n := int64(len(l.prios))
	if (iv.used+1)*n > budget*int64(r+1) {
		return false
	}
	iv.used++
	return true
}

// intervalBudget is the budget of interval k when intervals average b
// points: floor((k+1)b) - floor(kb).
func intervalBudget(b float64, k int64) int64 {
	return int64(math.Floor(float64(k+1)*b) - math.Floor(float64(k)*b))
}

func (l *tenantLimits) input(in Input) *inputLimits {
	k := inputKey{in.Spans, in.Partition}
	il := l.inputs[k]
	if il == nil {
		if l.inputs == nil {
			l.inputs = map[inputKey]*inputLimits{}
		}
		il = &inputLimits{open: map[intervalKey]*interval{}}
		l.inputs[k] = il
	}
	return il
}

// advance closes the intervals of a partition that its watermark wm passed.
func (l *tenantLimits) advance(spans bool, partition int32, wm int64) {
	il := l.inputs[inputKey{spans, partition}]
	if il == nil {
		return
	}
	for len(il.byClose) > 0 && il.byClose[0].closes <= wm {
		iv := heap.Pop(&il.byClose).(*interval)
		iv.closed = true
		delete(il.open, iv.key)
		il.live--
	}
	n := 0
	for n < len(il.byFirst) && il.byFirst[n].closed {
		n++
	}
	il.byFirst = il.byFirst[n:]
	// Intervals of a tenant that sends rarely would keep the ones closed
	// behind them: drop those once they are half.
	if len(il.byFirst) > 64 && len(il.byFirst) > 2*il.live {
		il.byFirst = slices.DeleteFunc(il.byFirst, func(iv *interval) bool { return iv.closed })
	}
	if il.live == 0 {
		delete(l.inputs, inputKey{spans, partition})
	}
}

// hold returns the offset of the first record of a partition's open
// intervals: where a replay must start to rebuild their counts.
func (l *tenantLimits) hold(spans bool, partition int32) (int64, bool) {
	il := l.inputs[inputKey{spans, partition}]
	if il == nil {
		return 0, false
	}
	for _, iv := range il.byFirst {
		if !iv.closed && iv.first >= 0 {
			return iv.first, true
		}
	}
	return 0, false
}

// forget drops a partition's counts: its next reader replays them.
func (l *tenantLimits) forget(spans bool, partition int32) {
	delete(l.inputs, inputKey{spans, partition})
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
	slices.Sort(l.prios)
	l.prios = slices.Compact(l.prios)
	for _, pol := range slices.Concat(s.Policies(), unmatched) {
		l.maxRes = max(l.maxRes, pol.Resolution.Milliseconds())
	}
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// satAdd adds b >= 0 to a, saturating: event times are the input's.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// intervalHeap is a min-heap of intervals by closing watermark.
type intervalHeap []*interval

func (h intervalHeap) Len() int           { return len(h) }
func (h intervalHeap) Less(i, j int) bool { return h[i].closes < h[j].closes }
func (h intervalHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intervalHeap) Push(x any)        { *h = append(*h, x.(*interval)) }
func (h *intervalHeap) Pop() any {
	old := *h
	iv := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return iv
}
