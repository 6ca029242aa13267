package tracestore

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

// benchBatch is what the tail sampler forwards in one call: 10 kept traces
// of 10 spans (2 services), each with a few attributes.
func benchBatch(firstTrace uint64) ptrace.Traces {
	var specs []spanSpec
	for tr := range uint64(10) {
		var id sample.TraceID
		binary.BigEndian.PutUint64(id[:8], 0x0af7651916cd43dd)
		binary.BigEndian.PutUint64(id[8:], firstTrace+tr)
		for sp := range byte(10) {
			svc := "frontend"
			if sp >= 5 {
				svc = "checkout"
			}
			specs = append(specs, spanSpec{trace: id, id: sid(sp + 1), parent: sid(sp), name: "op", service: svc,
				kind: ptrace.SpanKindServer, start: t0, end: t0 + 1e6,
				attrs: map[string]any{"http.method": "GET", "http.status_code": 200, "http.route": "/api/checkout"}})
		}
	}
	return batch(specs...)
}

// BenchmarkWriteTraces writes 100 spans of 10 new traces per op into a store
// kept full (every new trace evicts one).
func BenchmarkWriteTraces(b *testing.B) {
	s := New(WithMaxTraces(1000))
	ctx := context.Background()
	batches := make([]ptrace.Traces, 200) // 2000 distinct traces, reused round robin
	for i := range batches {
		batches[i] = benchBatch(uint64(i) * 10)
	}
	b.ReportAllocs()
	i := 0
	for ; b.Loop(); i++ {
		if err := s.WriteTraces(ctx, batches[i%len(batches)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*100), "ns/span")
}

// BenchmarkGetTrace renders a 10-span trace as Jaeger JSON through the handler.
func BenchmarkGetTrace(b *testing.B) {
	s := New()
	if err := s.WriteTraces(context.Background(), benchBatch(1)); err != nil {
		b.Fatal(err)
	}
	var id sample.TraceID
	binary.BigEndian.PutUint64(id[:8], 0x0af7651916cd43dd)
	binary.BigEndian.PutUint64(id[8:], 1)
	h := s.Handler()
	target := "/api/traces/" + id.String()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
