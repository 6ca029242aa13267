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
		p.FlushAll(func(pt Partial) { pt.w.emit(pt.Target, a.cfg.tolerance, emit) })
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

// TestSeriesSource checks which samples count in the exemplar coverage and
// under which source: percentiles by their points' kind, a summary's
// quantiles passing through as gauges, histogram buckets that observations
// landed in; nothing else.
func TestSeriesSource(t *testing.T) {
	a := newAgg(t)
	spans := target("s", 1, Spec{Agg: Quantile, Q: 0.99}, Spec{Agg: Max}, Spec{Agg: Count})
	exp := target("e", 2, Spec{Agg: Quantile, Q: 0.5})
	hist := target("h", 3, Spec{Agg: Buckets, Labels: labels.FromStrings("__name__", "h_bucket")})
	summary := target("q", 4, Spec{Agg: Last, Labels: labels.FromStrings("__name__", "rpc", "quantile", "0.99")})
	gauge := target("g", 5, Spec{Agg: Last})
	mixed := target("m", 6, Spec{Agg: Quantile, Q: 0.9})
	p := a.Partition(0, t0)
	ms := t0.UnixMilli()
	p.Add(obs(ms, 0.2, 1), spans, t0)
	expPt := &sample.Point{Kind: sample.ExponentialHistogram, T: ms, Exp: &sample.ExpHistogram{Scale: 3, Pos: []uint64{2}, Count: 2}}
	p.Add(expPt, exp, t0)
	p.Add(&sample.Point{Kind: sample.Histogram, T: ms, Hist: &sample.BucketHistogram{Bounds: []float64{1}, Counts: []uint64{3, 0}, Count: 3}}, hist, t0)
	p.Add(&sample.Point{Kind: sample.Gauge, T: ms, V: 0.3}, summary, t0)
	p.Add(&sample.Point{Kind: sample.Gauge, T: ms, V: 0.3}, gauge, t0)
	p.Add(obs(ms, 0.2, 2), mixed, t0)
	p.Add(expPt, mixed, t0)
	want := map[string]Source{
		`{__name__="s_q"}`: SourceSpans, `{__name__="s_max"}`: SourceNone, `{__name__="s_count"}`: SourceNone,
		`{__name__="e_q"}`:                  SourceExpHistogram,
		`{__name__="h_bucket", le="1"}`:     SourceHistogram,
		`{__name__="h_bucket", le="+Inf"}`:  SourceNone, // empty in the window
		`{__name__="rpc", quantile="0.99"}`: SourceSummary,
		`{__name__="g_last"}`:               SourceNone,
		`{__name__="m_q"}`:                  SourceMixed,
	}
	got := collect(func(emit func(Series)) { flushAll(a, emit) })
	for k, src := range want {
		s, ok := got[k]
		if !ok {
			t.Errorf("%s not emitted", k)
		} else if s.Source != src {
			t.Errorf("%s: source %v, want %v", k, s.Source, src)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d series emitted, want %d", len(got), len(want))
	}
}
