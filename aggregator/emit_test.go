package aggregator

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

// TestExemplarInItsWindow feeds SDK-shaped points, whose exemplars were
// measured before the point's timestamp (a collection interval earlier),
// and checks that every emitted exemplar is stamped within its window.
func TestExemplarInItsWindow(t *testing.T) {
	a := newAgg(t)
	hist := target("h", 1, Spec{Agg: Buckets, Labels: labels.FromStrings("__name__", "h_bucket")})
	dist := target("d", 2, Spec{Agg: Quantile, Q: 0.99}, Spec{Agg: Max})
	p := a.Partition(0, t0)
	start := t0.UnixMilli() - t0.UnixMilli()%10_000
	at := start + 1 // just after the window's start: the SDK measured the exemplars in the window before
	ex := sample.Exemplar{TraceID: sample.TraceID{9}, SpanID: sample.SpanID{9}, Value: 0.5, T: at - 15_000, Partition: -1}
	p.Add(&sample.Point{Kind: sample.Histogram, T: at, Hist: &sample.BucketHistogram{
		Bounds: []float64{1}, Counts: []uint64{3, 0}, Count: 3, Sum: 1.5, Exemplars: []sample.Exemplar{ex}}}, hist, t0)
	p.Add(&sample.Point{Kind: sample.Observation, T: at, V: 0.5, Count: 1, Exemplar: ex}, dist, t0)
	late := ex
	late.T = at + 60_000 // a clock ahead of the point's
	p.Add(&sample.Point{Kind: sample.Observation, T: at, V: 0.5, Count: 1, Exemplar: late}, dist, t0)
	n := 0
	for _, s := range collect(func(emit func(Series)) {
		p.FlushAll(func(pt Partial) { pt.w.emit(pt.Target, emit) })
	}) {
		if !s.Exemplar.Valid() {
			continue
		}
		n++
		if s.Exemplar.T < s.T-10_000 || s.Exemplar.T >= s.T {
			t.Errorf("%s: exemplar at %d, outside its window [%d, %d)", s.Labels, s.Exemplar.T, s.T-10_000, s.T)
		}
	}
	if n < 3 {
		t.Fatalf("%d exemplars emitted, want the bucket's, the quantile's and the max's", n)
	}
}
