package main

import (
	"fmt"
	"time"

	vmprompb "github.com/VictoriaMetrics/VictoriaMetrics/lib/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// The metric points scenario of VictoriaMetrics' BenchmarkAggregatorsPush
// (lib/streamaggr/streamaggr_timing_test.go): 10,000 series of
// http_requests_total with 12 labels, 100 distinct job values, aggregated
// by [job]; the same batch is pushed again and again.
const (
	pointSeries = 10_000
	pointJobs   = 100
)

// weirPointRules is weir's side of the scenario: one rollup by job.
const weirPointRules = `
rollup:
  - name: requests-by-job
    match: '{__name__="http_requests_total"}'
    output: http_requests_total:1m_by_job
    by: [job]
    aggregations: [sum, count, max, p50, p90, p99]
    policies: [1m:40d]
`

// vmPointConfig is lib/streamaggr's side: the equivalent outputs
// (sum_samples, count_samples, max, quantiles) over the same interval,
// flushed on shutdown so that its close is timed like weir's. Flushes are
// not aligned to the interval: an aligned shutdown flush is stamped at the
// next interval's end, which is past the default staleness interval, and
// writes nothing.
const vmPointConfig = `
- match: http_requests_total
  interval: 1m
  by: [job]
  flush_on_shutdown: true
  no_align_flush_to_interval: true
  outputs: [sum_samples, count_samples, max, "quantiles(0.5, 0.9, 0.99)"]
`

// pointOutputs is how many series a close writes on either side: per job,
// sum, count, max and three quantiles.
const pointOutputs = pointJobs * 6

type pointInput struct {
	// records is the batch as weir reads it: otlp_proto records of 100
	// gauge points each, as the collector's kafkaexporter writes them.
	records [][]byte
	vm      []vmprompb.TimeSeries
}

// genPoints builds the batch in both forms, with the same labels, values
// and timestamp.
func genPoints() *pointInput {
	in := &pointInput{}
	ts := baseTime.UnixMilli()
	var md pmetric.Metrics
	var ms pmetric.MetricSlice
	for j := range pointSeries {
		kv := []string{
			"__name__", "http_requests_total",
			"path", fmt.Sprintf("/foo/%d", j),
			"job", fmt.Sprintf("foo_%d", j%pointJobs),
			"instance", "bar",
			"pod", "pod-123232312",
			"namespace", "kube-foo-bar",
			"node", "node-123-3434-443",
			"some_other_label", "foo-bar-baz",
			"environment", "prod",
			"label1", "value1",
			"label2", "value2",
			"label3", "value3",
		}
		v := float64(j * 1000)
		if j%100 == 0 {
			md = pmetric.NewMetrics()
			ms = md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
		}
		m := ms.AppendEmpty()
		m.SetName(kv[1])
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.Timestamp(ts * int64(time.Millisecond)))
		dp.SetDoubleValue(v)
		for i := 2; i < len(kv); i += 2 {
			dp.Attributes().PutStr(kv[i], kv[i+1])
		}
		if j%100 == 99 {
			b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
			if err != nil {
				panic(err) // a batch of gauges always marshals
			}
			in.records = append(in.records, b)
		}
		var ls []vmprompb.Label
		for i := 0; i < len(kv); i += 2 {
			ls = append(ls, vmprompb.Label{Name: kv[i], Value: kv[i+1]})
		}
		in.vm = append(in.vm, vmprompb.TimeSeries{Labels: ls, Samples: []vmprompb.Sample{{Value: v, Timestamp: ts}}})
	}
	return in
}
