package pipeline_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/pipeline/pipelinetest"
	"github.com/weirdev/weir/plan"
)

// BenchmarkHighCardinalityInput feeds one gauge of 1M distinct user_id
// values (1,000 records of 1,000 points), rolled up by job into 5 output
// series, and reports the live heap the worker holds with the windows open:
// per input series and per output series-window. What an input series costs
// is bounded by the caches' byte limits, not by the input's cardinality:
// the benchmark fails above 150 MiB.
func BenchmarkHighCardinalityInput(b *testing.B) {
	const series, perRecord, jobs = 1_000_000, 1000, 5
	at := pcommon.NewTimestampFromTime(time.Now().Add(-time.Minute).Truncate(10 * time.Second))
	records := make([][]byte, 0, series/perRecord)
	for r := range series / perRecord {
		md := pmetric.NewMetrics()
		ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
		m := ms.AppendEmpty()
		m.SetName("session_bytes")
		dps := m.SetEmptyGauge().DataPoints()
		for i := range perRecord {
			dp := dps.AppendEmpty()
			dp.SetTimestamp(at)
			dp.SetDoubleValue(1)
			n := r*perRecord + i
			dp.Attributes().PutStr("job", fmt.Sprint("job-", n%jobs))
			dp.Attributes().PutStr("user_id", fmt.Sprintf("user-%09d", n))
		}
		raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			b.Fatal(err)
		}
		records = append(records, raw)
	}
	rules := mustRules(b, `
rollup:
  - {name: by-job, match: session_bytes, output: session_bytes:by_job, by: [job], aggregations: [sum, count], policies: [10s:1d]}
`)
	for b.Loop() {
		idle := liveHeap()
		out := &countSink{}
		l, err := pipelinetest.New(pipeline.Config{Plan: plan.Config{Rules: rules}, Series: map[string]pipeline.SeriesSink{"": out}})
		if err != nil {
			b.Fatal(err)
		}
		for i, rec := range records {
			if err := l.Handle(pipeline.Record{Offset: int64(i), Value: rec}); err != nil {
				b.Fatal(err)
			}
		}
		held := int64(liveHeap()) - int64(idle)
		if err := l.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		if out.n != series {
			b.Fatalf("_count outputs add up to %v, want %d", out.n, series)
		}
		b.ReportMetric(float64(held)/(1<<20), "MiB-held")
		b.ReportMetric(float64(held)/series, "B/input-series")
		b.ReportMetric(float64(held)/(2*jobs), "B/output-series-window")
		if held > 150<<20 {
			b.Fatalf("%d MiB held for %d input series rolled up into %d outputs: above 150 MiB", held>>20, series, jobs)
		}
		runtime.KeepAlive(l)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
