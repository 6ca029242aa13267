package otlptrace

import (
	"context"
	"testing"
)

// BenchmarkExport measures one synchronous export of 1000 spans to a loopback
// server (client marshalling, HTTP/2 and the server's decoding included).
func BenchmarkExport(b *testing.B) {
	srv := &traceServer{discard: true}
	addr := srv.start(b)
	e, err := New(addr, WithInsecure())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	td := testTraces(1000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Export(ctx, td); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*td.SpanCount())/b.Elapsed().Seconds(), "spans/s")
}
