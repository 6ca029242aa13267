package plan

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

func mustSet(t *testing.T, src string) *rules.Set {
	t.Helper()
	set, err := rules.Parse("limits.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestTenantLimitsShedLowPriorityFirst(t *testing.T) {
	set := mustSet(t, `
rollup:
  - name: low
    match: low_metric
    output: low_out
    aggregations: [sum]
    policies: [10s:2d]
    priority: 1
  - name: high
    match: high_metric
    output: high_out
    aggregations: [sum]
    policies: [10s:2d]
    priority: 10
limits:
  default: {samples_per_second: 100, burst: 1s}
  tenants:
    big: {samples_per_second: 1000000, burst: 1s}
`)
	var l tenantLimits
	l.use(set, nil)
	in := Input{Offset: 1, Watermark: base - 60_000}
	t0 := base + 250 // within the interval [base, base+1s)
	admitted := map[int]int{}
	// 300 points of each priority in one interval of event time,
	// interleaved: more than its 100.
	for range 300 {
		for _, prio := range []int{1, 10} {
			if l.admit("small", -1, prio, t0, in) {
				admitted[prio]++
			}
		}
	}
	// Priorities in use: 0 (unruled), 1, 10. Priority 1 stops once two
	// thirds of the interval's budget are used, priority 10 may use it all.
	if admitted[1] != 33 || admitted[10] != 67 {
		t.Fatalf("admitted %v: want 33 of priority 1 (until 66 in all) and the other 67 of priority 10", admitted)
	}
	// Once the low priority is out, the high one is still admitted while
	// the budget lasts; here it is spent.
	if l.admit("small", -1, 10, t0+500, in) {
		t.Errorf("a point past the interval's budget was admitted")
	}
	// The next interval of event time has its own budget, whenever it
	// is read.
	n := 0
	for range 200 {
		if l.admit("small", -1, 10, t0+1000, in) {
			n++
		}
	}
	if n != 100 {
		t.Errorf("next interval: %d admitted, want 100", n)
	}
	// A late point of the first interval is still judged by its count.
	if l.admit("small", -1, 10, t0, in) {
		t.Errorf("a late point of a spent interval was admitted")
	}
	// Another tenant has its own count and limit.
	for i := range 1000 {
		if !l.admit("big", -1, 1, t0, in) {
			t.Fatalf("tenant big refused point %d", i)
		}
	}
}

// Each partition of an input topic admits its share of a limit, so that
// the group admits what the rule says whatever the assignment; a share that
// is no whole number of points is spread over the intervals.
func TestTenantLimitsSplitOverPartitions(t *testing.T) {
	set := mustSet(t, `
limits:
  default: {samples_per_second: 10, burst: 1s}
`)
	for _, tc := range []struct {
		metrics, spans int32
		spansIn        bool
		want           []int // admitted per interval, on each partition
	}{
		{0, 0, false, []int{10, 10, 10, 10}},
		{1, 4, false, []int{10, 10, 10, 10}},
		{4, 1, false, []int{2, 3, 2, 3}},
		{4, 1, true, []int{10, 10, 10, 10}},
		{3, 3, true, []int{3, 3, 4, 3, 3, 4}},
	} {
		l := tenantLimits{metricsParts: tc.metrics, spansParts: tc.spans}
		l.use(set, nil)
		start := base - base%3000 // interval k a multiple of three
		for i, want := range tc.want {
			for part := range int32(3) {
				in := Input{Spans: tc.spansIn, Partition: part, Offset: int64(i), Watermark: base - 60_000}
				n := 0
				for range 50 {
					if l.admit("t", -1, 0, start+int64(i)*1000, in) {
						n++
					}
				}
				if n != want {
					t.Errorf("%d metrics and %d spans partitions, spans %v: interval %d on partition %d admitted %d, want %d",
						tc.metrics, tc.spans, tc.spansIn, i, part, n, want)
				}
			}
		}
	}
}

const replayRules = `
rollup:
  - name: low
    match: lo
    output: lo_out
    aggregations: [sum]
    policies: [10s:2d]
    priority: 1
  - name: mid
    match: mid
    output: mid_out
    aggregations: [sum]
    policies: [10s:2d]
    priority: 5
  - name: high
    match: hi
    output: hi_out
    aggregations: [sum]
    policies: [10s:2d]
    priority: 10
limits:
  default: {samples_per_second: 4, burst: 30s}
  tenants:
    b: {samples_per_second: 10, burst: 1s}
    free: {samples_per_second: 1000000, burst: 1s}
    c:
      samples_per_second: 6
      burst: 10s
      pools:
        - {name: x0, match: '{x="0"}', share: 0.25, priority: 20}
        - {name: x1, match: '{x="1"}', share: 0.25}
drop:
  - name: lo-x1-over-quota
    match: '{__name__="lo", x="1"}'
    only_over_quota: true
`

// replayRecord is one input record of points.
type replayRecord struct {
	offset int64
	pts    []sample.Point
}

// replayInput is a partition's records: one every 200 ms of event time,
// each with points of four tenants (one with quota pools and a drop rule
// acting over quota) and three priorities, their event
// times up to 8 s behind or 1 s ahead of the record's, so that points come
// out of order and some late.
func replayInput(n int) []replayRecord {
	rng := rand.New(rand.NewPCG(3, 5))
	names := []string{"lo", "mid", "hi"}
	tenants := []string{"a", "b", "free", "c"}
	var recs []replayRecord
	for i := range n {
		at := base + int64(i)*200
		r := replayRecord{offset: int64(100 + i)}
		for j := range 12 {
			r.pts = append(r.pts, sample.Point{
				Labels: labels.FromStrings("__name__", names[rng.IntN(3)], "x", fmt.Sprint(j%4)),
				Tenant: tenants[rng.IntN(len(tenants))], Kind: sample.Gauge, V: 1,
				T: at - 8000 + rng.Int64N(9000),
			})
		}
		recs = append(recs, r)
	}
	return recs
}

// routeReplay routes recs as a stage-1 worker does, from a fresh plan
// whose partition's watermark starts at from: after each record the
// watermark is the newest event time taken less 5 s of lateness. It
// returns each point's verdict (by record offset and index) where the
// point's 10 s window was still open, and every 5 records the offset a
// commit would hold (the limits' hold, else the next record's) with its
// watermark.
func routeReplay(t *testing.T, set *rules.Set, recs []replayRecord, from int64) (verdicts map[[2]int64]bool, commits [][2]int64) {
	t.Helper()
	p, err := New(Config{Rules: set})
	if err != nil {
		t.Fatal(err)
	}
	verdicts = map[[2]int64]bool{}
	wm, maxT := from, int64(-1<<62)
	for i, r := range recs {
		p.Refresh()
		in := Input{Partition: 2, Offset: r.offset, Watermark: wm}
		for j := range r.pts {
			pt := r.pts[j] // a copy: the series cache is the plan's
			admitted := len(p.Route(&pt, in)) > 0
			if end := pt.T - mod(pt.T, 10_000) + 10_000; end > wm {
				verdicts[[2]int64{r.offset, int64(j)}] = admitted
				if admitted {
					maxT = max(maxT, pt.T)
				}
			}
		}
		wm = max(wm, maxT-5000)
		p.AdvanceLimits(false, 2, wm)
		if i%5 == 4 || i == len(recs)-1 {
			c := r.offset + 1
			if h, ok := p.LimitsHold(false, 2); ok {
				c = h
			}
			commits = append(commits, [2]int64{c, wm})
		}
	}
	return verdicts, commits
}

// TestTenantLimitsReplay: the points of a partition routed again from any
// commit point, by a fresh plan as the partition's next owner after a crash
// or a rebalance would, are admitted and shed exactly as the first time.
func TestTenantLimitsReplay(t *testing.T) {
	set := mustSet(t, replayRules)
	recs := replayInput(600)
	first, commits := routeReplay(t, set, recs, -1<<62)
	shed := map[string]int{}
	total := map[string]int{}
	for k, ok := range first {
		pt := recs[k[0]-100].pts[k[1]]
		name := pt.Tenant + "/" + pt.Labels.Get("__name__")
		total[name]++
		if !ok {
			shed[name]++
		}
	}
	t.Logf("shed %v of %v", shed, total)
	// The limits bite, lowest priority first; the tenant far under its limit sheds
	// nothing.
	for _, tenant := range []string{"a", "b"} {
		lo, mid, hi := shed[tenant+"/lo"], shed[tenant+"/mid"], shed[tenant+"/hi"]
		if !(lo > mid && mid > hi && hi > 0) {
			t.Errorf("tenant %s shed lo %d, mid %d, hi %d: want more of each lower priority", tenant, lo, mid, hi)
		}
	}
	if n := shed["free/lo"] + shed["free/mid"] + shed["free/hi"]; n > 0 {
		t.Errorf("the tenant far under its limit shed %d points", n)
	}
	held := 0
	for _, c := range commits[:len(commits)-1] {
		i := int(c[0] - 100)
		if i < len(recs) && c[0] < commitWithoutLimits(recs, c) {
			held++
		}
		again, _ := routeReplay(t, set, recs[i:], c[1])
		compared := 0
		for k, ok := range again {
			want, seen := first[k]
			if !seen {
				t.Fatalf("replay from offset %d (watermark %d): point %v is in an open window, it was not the first time", c[0], c[1], k)
			}
			if ok != want {
				t.Fatalf("replay from offset %d (watermark %d): point %v admitted %v, the first time %v", c[0], c[1], k, ok, want)
			}
			compared++
		}
		if compared == 0 {
			t.Fatalf("replay from offset %d compared nothing", c[0])
		}
	}
	// The 30 s intervals of tenant a outlast the windows: the limits held
	// the commit back where the windows alone would not have.
	if held < len(commits)/2 {
		t.Errorf("the limits held %d of %d commits back, want most", held, len(commits))
	}
}

// commitWithoutLimits is where a commit would be if only the open 10 s
// windows held it: the first record with a point in a window the
// watermark has not passed.
func commitWithoutLimits(recs []replayRecord, c [2]int64) int64 {
	for _, r := range recs {
		for _, pt := range r.pts {
			if pt.T-mod(pt.T, 10_000)+10_000 > c[1] {
				return r.offset
			}
		}
	}
	return recs[len(recs)-1].offset + 1
}
