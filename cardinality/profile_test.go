package cardinality

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/sample"
)

var t0 = time.Unix(1_700_000_000, 0)

// TestDistinctCountAccuracy: a million distinct values of one label, and as
// many series, are counted within three standard errors of the sketches'
// stated bound (StdError), through the profiler, a published record and a
// view.
func TestDistinctCountAccuracy(t *testing.T) {
	const n = 1_000_000
	p := New(Config{MaxBytes: 1 << 30})
	pt := &sample.Point{Tenant: "a", T: t0.UnixMilli()}
	for i := range n {
		pt.Labels = labels.FromStrings("__name__", "requests_total", "job", "api", "user_id", fmt.Sprint("u", i))
		pt.Hash = 0
		p.Observe(pt, nil, t0)
	}
	v := publish(t, p, t0.Add(time.Second))
	m := v.Metric("a", "requests_total")
	if m == nil {
		t.Fatal("no profile of requests_total")
	}
	check := func(what string, got uint64, label bool) {
		bound := 3 * StdError(label)
		if e := math.Abs(float64(got)-n) / n; e > bound {
			t.Errorf("%s: %d, want %d within %.2f%%: error %.2f%%", what, got, n, 100*bound, 100*e)
		} else {
			t.Logf("%s: %d of %d, error %.3f%% (bound %.2f%%)", what, got, n, 100*e, 100*bound)
		}
	}
	check("series", m.Series.Estimate(), false)
	check("user_id values", m.Labels["user_id"].Values.Estimate(), true)
	if got := m.Labels["job"].Values.Estimate(); got != 1 {
		t.Errorf("job values: %d, want 1", got)
	}
	if m.Samples != n {
		t.Errorf("samples %d, want %d", m.Samples, n)
	}
}

// publish encodes p's records, decodes them into a view, as a reader of the
// topic does.
func publish(t testing.TB, p *Profiler, now time.Time) *View {
	t.Helper()
	v := NewView()
	p.Records(now, func(tenant, metric string, value []byte) {
		m, err := ParseMetric(value)
		if err != nil {
			t.Fatalf("record of %s/%s: %v", tenant, metric, err)
		}
		v.Add(m)
	})
	return v
}

// TestProfilerSeriesOnceAndTop: a series' points after its first in a
// period only count samples; top values count series; outputs count one
// series per target and aggregation; partitions merge in the view.
func TestProfilerSeriesOnceAndTop(t *testing.T) {
	p := New(Config{Period: time.Minute})
	tgt := &aggregator.Target{Key: 42, Specs: make([]aggregator.Spec, 3)}
	var series []*sample.Series
	for i := range 30 {
		series = append(series, &sample.Series{})
		_ = i
	}
	pod := func(i int) string {
		if i < 20 {
			return "hot"
		}
		return fmt.Sprint("pod-", i)
	}
	for round := range 5 {
		for i, s := range series {
			pt := &sample.Point{Tenant: "t", Labels: labels.FromStrings("__name__", "m", "pod", pod(i), "i", fmt.Sprint(i)), Series: s}
			p.Observe(pt, []*aggregator.Target{tgt}, t0.Add(time.Duration(round)*time.Second))
		}
	}
	v := publish(t, p, t0.Add(10*time.Second))
	m := v.Metric("t", "m")
	if m.Samples != 150 || m.Series.Estimate() != 30 {
		t.Fatalf("samples %d series %d, want 150 and 30", m.Samples, m.Series.Estimate())
	}
	if got := m.Outputs.Estimate(); got != 3 {
		t.Errorf("output series %d, want 3 (one target, three aggregations)", got)
	}
	if got := m.SamplesPerSecond(); got != 15 {
		t.Errorf("samples/s %v, want 15 (150 over 10 s)", got)
	}
	ls := Labels(m, 3)
	if ls[0].Label != "i" || ls[0].Distinct != 30 || ls[1].Label != "pod" || ls[1].Distinct != 11 {
		t.Fatalf("labels %+v, want i (30 values) then pod (11)", ls)
	}
	if top := ls[1].Top[0]; top.Value != "hot" || top.Series != 20 || math.Abs(top.Share-20.0/30) > 1e-9 {
		t.Errorf("pod's top value %+v, want hot on 20 of 30 series", top)
	}
	// A new period describes the series again; after two without points a
	// metric is forgotten.
	p.Tick(t0)
	p.Tick(t0.Add(time.Minute))
	if p.Tracked() != 1 {
		t.Fatalf("tracked %d after one period, want 1 (the previous period stays)", p.Tracked())
	}
	p.Tick(t0.Add(2 * time.Minute))
	if p.Tracked() != 0 || p.Bytes() != 0 {
		t.Errorf("after two idle periods: %d tracked, %d bytes; want none", p.Tracked(), p.Bytes())
	}
}

// TestProfilerMemoryBound: metrics beyond the byte limit are not tracked,
// whatever the input's cardinality.
func TestProfilerMemoryBound(t *testing.T) {
	p := New(Config{MaxBytes: 1 << 20})
	for i := range 200_000 {
		pt := &sample.Point{Labels: labels.FromStrings("__name__", fmt.Sprint("m", i%5000), "id", fmt.Sprint(i))}
		p.Observe(pt, nil, t0)
	}
	if p.Bytes() > 1<<20+64<<10 {
		t.Errorf("profiles hold %d bytes, limit %d", p.Bytes(), 1<<20)
	}
	if p.Tracked() == 0 || p.Tracked() >= 5000 {
		t.Errorf("%d metrics tracked of 5000: want some, not all", p.Tracked())
	}
}
