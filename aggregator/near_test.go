package aggregator

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

// sdkWorkload is what an OpenTelemetry SDK's exponential histograms look
// like to a rollup: many input series (pods, methods, status codes) folded
// into one output, each exporting a delta point per collection whose
// buckets are at the finest scale that fits expMaxBuckets, with a uniform
// reservoir of a few exemplars of the collection's measurements.
type sdkWorkload struct {
	series, perSeries, reservoir, windows int
}

const expMaxBuckets = 160

// sdkPoint builds one SDK collection of vals, exemplars drawn uniformly.
func sdkPoint(r *rand.Rand, vals []float64, reservoir int, t int64, traceSeq *uint64) *sample.Point {
	lo, hi := math.Inf(1), 0.0
	for _, v := range vals {
		lo, hi = min(lo, v), max(hi, v)
	}
	scale := int32(20)
	idx := func(v float64, s int32) int32 { return int32(math.Ceil(math.Log2(v)*math.Ldexp(1, int(s)))) - 1 }
	for scale > -10 && idx(hi, scale)-idx(lo, scale)+1 > expMaxBuckets {
		scale--
	}
	off := idx(lo, scale)
	h := &sample.ExpHistogram{Scale: scale, PosOffset: off, Pos: make([]uint64, idx(hi, scale)-off+1)}
	for _, v := range vals {
		h.Pos[idx(v, scale)-off]++
		h.Count++
		h.Sum += v
	}
	for _, i := range r.Perm(len(vals))[:reservoir] {
		*traceSeq++
		ex := sample.Exemplar{Value: vals[i], T: t - 1, Partition: -1}
		ex.TraceID[0], ex.TraceID[8] = 1, byte(*traceSeq)
		for b := range 7 {
			ex.TraceID[15-b] = byte(*traceSeq >> (8 * b))
		}
		ex.SpanID[7] = byte(i)
		h.Exemplars = append(h.Exemplars, ex)
	}
	return &sample.Point{Kind: sample.ExponentialHistogram, T: t, Exp: h}
}

type coverage struct {
	points, linked, must, may int
}

// run feeds the workload through two stage-1 partitions and a merger and
// checks every p99 point against the exemplars of its own window's input:
// an exemplar within (tol-3α)·p99 must be linked (the sketch bucket holding
// it keeps a candidate at most 2α from it), a linked one must be an input
// exemplar of the window within tol·p99, keeping its true value.
func (wl sdkWorkload) run(t *testing.T, opts ...Opt) coverage {
	t.Helper()
	a := newAgg(t, opts...)
	tol, alpha := a.ExemplarTolerance(), a.RelativeAccuracy()
	// The exact bucket's own candidate is within α of its value whatever
	// the tolerance.
	reach := max(tol, alpha*(1+alpha))
	tg := target("http", 1, Spec{Agg: Quantile, Q: 0.99, Labels: labels.FromStrings("__name__", "http", "quantile", "0.99")})
	r := rand.New(rand.NewPCG(21, 1))
	var seq uint64
	base := t0.UnixMilli() - t0.UnixMilli()%10_000
	inputs := map[int64][]sample.Exemplar{} // by window end
	l := newLocal(a)
	var c coverage
	vals := make([]float64, wl.perSeries)
	for w := range wl.windows {
		at := base + int64(w)*10_000 + 5_000
		for s := range wl.series {
			for i := range vals {
				// Log-normal latencies around 80 ms, each series a little
				// slower or faster than the others.
				vals[i] = 0.08 * math.Exp(0.6*r.NormFloat64()+0.1*float64(s%7-3)/3)
			}
			pt := sdkPoint(r, vals, wl.reservoir, at, &seq)
			inputs[base+int64(w+1)*10_000] = append(inputs[base+int64(w+1)*10_000], pt.Exp.Exemplars...)
			if reason := a.Partition(int32(s%2), t0).Add(pt, tg, t0); reason != "" {
				t.Fatalf("point dropped: %s", reason)
			}
		}
	}
	l.flush(func(s Series) {
		c.points++
		if s.Source != SourceExpHistogram {
			t.Errorf("p99 at %d: source %v, want %v", s.T, s.Source, SourceExpHistogram)
		}
		var must, may, own bool
		for _, e := range inputs[s.T] {
			d := math.Abs(e.Value - s.V)
			must = must || d <= (tol-3*alpha)*s.V
			may = may || d <= reach*s.V
			own = own || (e.TraceID == s.Exemplar.TraceID && e.Value == s.Exemplar.Value)
		}
		if must {
			c.must++
		}
		if may {
			c.may++
		}
		if !s.Exemplar.Valid() {
			if must {
				t.Errorf("p99 %v at %d: no exemplar, though the window's input has one within %.3g of it", s.V, s.T, (tol-3*alpha)*s.V)
			}
			return
		}
		c.linked++
		if !own {
			t.Errorf("p99 %v at %d: exemplar %+v is not one of its window's input", s.V, s.T, s.Exemplar)
		}
		if d := math.Abs(s.Exemplar.Value-s.V) / s.V; d > reach {
			t.Errorf("p99 %v at %d: exemplar %v is %.2f%% from it, beyond the tolerance %.2f%%", s.V, s.T, s.Exemplar.Value, 100*d, 100*reach)
		}
	})
	if c.points != wl.windows {
		t.Fatalf("%d p99 points for %d windows", c.points, wl.windows)
	}
	return c
}

// TestSDKExemplarCoverage is issue 21's acceptance: an exponential-histogram
// workload shaped like an SDK's links at least 90% of its p99 points to an
// exemplar within the tolerance, and at least as many as its own input
// allows (the exemplars within tol-3α of each p99). The exact bucket alone
// (tolerance 0) links far fewer.
func TestSDKExemplarCoverage(t *testing.T) {
	wl := sdkWorkload{series: 200, perSeries: 200, reservoir: 4, windows: 40}
	c := wl.run(t)
	share := func(n int) float64 { return float64(n) / float64(c.points) }
	t.Logf("default tolerance: %d of %d p99 points linked (%.1f%%); the input allows %.1f%% for certain, %.1f%% at most",
		c.linked, c.points, 100*share(c.linked), 100*share(c.must), 100*share(c.may))
	if share(c.linked) < 0.9 {
		t.Errorf("%.1f%% of p99 points carry an exemplar, want at least 90%%", 100*share(c.linked))
	}
	if c.linked < c.must || c.linked > c.may {
		t.Errorf("%d linked, want between %d and %d (what the input allows)", c.linked, c.must, c.may)
	}
	exact := wl.run(t, ExemplarTolerance(0))
	t.Logf("exact bucket only: %d of %d linked", exact.linked, exact.points)
	if exact.linked*3 > c.linked*2 {
		t.Errorf("the exact bucket alone links %d, the tolerance %d: want the tolerance to matter", exact.linked, c.linked)
	}
}

// TestNearIsOrderFree checks that the exemplar a tolerance picks does not
// depend on the order the points arrived in or on how they were split
// between partitions.
func TestNearIsOrderFree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	var seq uint64
	var pts []*sample.Point
	for range 40 {
		vals := make([]float64, 50)
		for i := range vals {
			vals[i] = 0.05 * math.Exp(0.5*r.NormFloat64())
		}
		pts = append(pts, sdkPoint(r, vals, 2, t0.UnixMilli()-t0.UnixMilli()%10_000+3_000, &seq))
	}
	tg := target("h", 1, Spec{Agg: Quantile, Q: 0.99}, Spec{Agg: Quantile, Q: 0.9})
	var want map[string]Series
	for trial := range 4 {
		a := newAgg(t)
		order := r.Perm(len(pts))
		for _, i := range order {
			a.Partition(int32((i+trial)%(trial+1)), t0).Add(pts[i], tg, t0)
		}
		got := collect(func(emit func(Series)) { flushAll(a, emit) })
		if trial == 0 {
			want = got
			continue
		}
		for k, s := range want {
			if got[k].Exemplar != s.Exemplar {
				t.Errorf("trial %d: %s exemplar %+v, first trial %+v", trial, k, got[k].Exemplar, s.Exemplar)
			}
		}
	}
}

func TestExemplarToleranceOption(t *testing.T) {
	for _, tc := range []struct {
		opts []Opt
		want float64
		ok   bool
	}{
		{nil, DefaultExemplarTolerance * DefaultRelativeAccuracy, true},
		{[]Opt{RelativeAccuracy(0.02)}, DefaultExemplarTolerance * 0.02, true},
		{[]Opt{ExemplarTolerance(0)}, 0, true},
		{[]Opt{ExemplarTolerance(0.1)}, 0.1, true},
		{[]Opt{ExemplarTolerance(-0.1)}, 0, false},
		{[]Opt{ExemplarTolerance(1)}, 0, false},
		{[]Opt{ExemplarTolerance(math.NaN())}, 0, false},
	} {
		a, err := New(tc.opts...)
		if (err == nil) != tc.ok {
			t.Errorf("%d options: error %v, want ok=%v", len(tc.opts), err, tc.ok)
			continue
		}
		if err == nil && math.Abs(a.ExemplarTolerance()-tc.want) > 1e-15 {
			t.Errorf("tolerance %v, want %v", a.ExemplarTolerance(), tc.want)
		}
	}
}
