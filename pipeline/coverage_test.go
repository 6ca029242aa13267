package pipeline_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/plan"
)

// TestExemplarCoverage checks weir_exemplar_coverage_points_total against
// what its input allows: an exponential histogram's p99 carries an
// exemplar in the window whose point had one near it and misses it in the
// window whose point had none; an explicit histogram's bucket counts where
// observations landed; a summary's quantiles are counted as impossible.
func TestExemplarCoverage(t *testing.T) {
	s := mustRules(t, `
rollup:
  - name: http
    match: 'http_duration'
    output: http_seconds
    by: [route]
    aggregations: [count, p99]
    policies: [10s:2d]
  - name: db
    match: 'db_duration'
    output: db_seconds
    by: []
    aggregations: [buckets]
    policies: [10s:2d]
mapping:
  - name: rpc
    match: '{__name__=~"rpc_latency(_sum|_count)?"}'
    policies: [10s:2d]
`)
	reg := prometheus.NewRegistry()
	h, _ := testPipeline(t, s, plan.Unmatched{}, reg, "10s:2d")
	ts := func(sec int64) pcommon.Timestamp {
		return pcommon.Timestamp((base + sec*1000) * int64(time.Millisecond))
	}
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	exp := ms.AppendEmpty()
	exp.SetName("http.duration")
	eh := exp.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	for _, sec := range []int64{5, 15} {
		dp := eh.DataPoints().AppendEmpty()
		dp.SetTimestamp(ts(sec))
		dp.Attributes().PutStr("route", "/a")
		dp.SetScale(3)
		dp.Positive().SetOffset(-27) // (2^(-27/8), 2^(-26/8)]: about 96 to 105 ms
		dp.Positive().BucketCounts().FromRaw([]uint64{10})
		dp.SetCount(10)
		if sec == 5 {
			ex := dp.Exemplars().AppendEmpty()
			ex.SetTimestamp(ts(sec))
			ex.SetDoubleValue(0.103) // another sketch bucket than the p99's, within the tolerance
			ex.SetTraceID(pcommon.TraceID{1, 2, 3})
			ex.SetSpanID(pcommon.SpanID{4})
		}
	}
	hist := ms.AppendEmpty()
	hist.SetName("db.duration")
	hh := hist.SetEmptyHistogram()
	hh.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hp := hh.DataPoints().AppendEmpty()
	hp.SetTimestamp(ts(5))
	hp.ExplicitBounds().FromRaw([]float64{0.01, 0.1})
	hp.BucketCounts().FromRaw([]uint64{2, 3, 0}) // two buckets with observations, one with its exemplar
	hp.SetCount(5)
	hex := hp.Exemplars().AppendEmpty()
	hex.SetDoubleValue(0.05)
	hex.SetTimestamp(ts(5))
	hex.SetTraceID(pcommon.TraceID{9})
	sum := ms.AppendEmpty()
	sum.SetName("rpc.latency")
	sdps := sum.SetEmptySummary().DataPoints()
	for _, sec := range []int64{5, 15} {
		dp := sdps.AppendEmpty()
		dp.SetTimestamp(ts(sec))
		for _, q := range []float64{0.5, 0.99} {
			qv := dp.QuantileValues().AppendEmpty()
			qv.SetQuantile(q)
			qv.SetValue(0.2)
		}
	}
	raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(pipeline.Record{Value: raw}); err != nil {
		t.Fatal(err)
	}
	flush(t, h)

	const name = "weir_exemplar_coverage_points_total"
	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"output", "http_seconds", "quantile", "0.99", "source", "exponential_histogram", "exemplar", "attached"}, 1},
		{[]string{"output", "http_seconds", "quantile", "0.99", "source", "exponential_histogram", "exemplar", "missing"}, 1},
		{[]string{"output", "db_seconds_bucket", "source", "explicit_histogram", "exemplar", "attached"}, 1},
		{[]string{"output", "db_seconds_bucket", "source", "explicit_histogram", "exemplar", "missing"}, 1},
		{[]string{"output", "rpc_latency", "quantile", "0.99", "source", "summary", "exemplar", "impossible"}, 2},
		{[]string{"output", "rpc_latency", "source", "summary", "exemplar", "impossible"}, 4},
		{[]string{"source", "summary", "exemplar", "attached"}, 0},
		{[]string{"output", "http_seconds_count"}, 0},
		{[]string{"output", "rpc_latency_sum"}, 0},
	} {
		if got := counter(t, reg, name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", name, tc.labels, got, tc.want)
		}
	}
}
