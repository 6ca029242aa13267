package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/plan"
)

// weir_ingest_clock_skew_seconds shows one skewed point among correct ones
// for a minute, however many polls with a smaller skew follow it, and then
// lets it go.
func TestClockSkewHeld(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, _ := testPipeline(t, mustRules(t, `
rollup:
  - name: g
    match: g
    output: g_out
    aggregations: [sum]
    policies: [10s:1d]
`), plan.Unmatched{}, reg, "")
	rec := time.UnixMilli(base)
	sendAt := func(off int64, recAt time.Time, ahead time.Duration) {
		t.Helper()
		md := pmetric.NewMetrics()
		m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("g")
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(recAt.Add(ahead)))
		dp.SetDoubleValue(1)
		raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Handle(pipeline.Record{Offset: off, Time: recAt, Value: raw}); err != nil {
			t.Fatal(err)
		}
	}
	skew := func() float64 { return counter(t, reg, "weir_ingest_clock_skew_seconds") }
	advance := func(now time.Time) {
		t.Helper()
		if err := h.Advance(context.Background(), now); err != nil {
			t.Fatal(err)
		}
	}
	sendAt(0, rec, 9*time.Minute)
	advance(rec)
	if got := skew(); got != 540 {
		t.Fatalf("skew after the skewed point = %v s, want 540", got)
	}
	for i := range 5 {
		at := rec.Add(time.Duration(i+1) * 10 * time.Second)
		sendAt(int64(i+1), at, 200*time.Millisecond)
		advance(at)
	}
	if got := skew(); got != 540 {
		t.Fatalf("skew 50 s after the skewed point = %v s, want 540 (held)", got)
	}
	later := rec.Add(70 * time.Second)
	sendAt(6, later, 200*time.Millisecond)
	advance(later)
	if got := skew(); got != 0.2 {
		t.Fatalf("skew a minute after the skewed point = %v s, want the newer 0.2", got)
	}
	advance(later.Add(2 * time.Minute))
	if got := skew(); got != 0 {
		t.Fatalf("skew two minutes without skewed points = %v s, want no series", got)
	}
}
