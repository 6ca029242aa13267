package loadgen

import (
	"testing"
	"time"

	"github.com/weirdev/weir/receiver"
)

func BenchmarkNextTrace(b *testing.B) {
	g := New(WithSeed(1))
	now := t0
	spans := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(5 * time.Millisecond)
		spans += g.NextTrace(now).SpanCount()
	}
	b.ReportMetric(float64(spans)/float64(b.N), "spans/trace")
}

// BenchmarkTraceRecords is Run's per-trace work on top of NextTrace:
// splitting and marshaling into kafkaexporter's records.
func BenchmarkTraceRecords(b *testing.B) {
	g := New(WithSeed(1))
	td := g.NextTrace(t0)
	b.ReportAllocs()
	bytes := 0
	for b.Loop() {
		recs, err := receiver.TraceRecords("otlp_spans", td)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			bytes += len(r.Value)
		}
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/trace")
}

func BenchmarkMetrics(b *testing.B) {
	g := New(WithSeed(1))
	for i := range 5000 {
		g.NextTrace(clockAt(i))
	}
	now := clockAt(5000)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		g.Metrics(now)
	}
}
