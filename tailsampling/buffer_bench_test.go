package tailsampling

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/weirdev/weir/sample"
)

// sbWireBytesPerSpan is the OTLP protobuf size of a typical span, measured
// with the collector peers (RECIPES.md: 235 wire bytes per span).
const sbWireBytesPerSpan = 235

// sbBenchID returns the n-th trace ID of a benchmark: distinct, with random
// looking low bytes so that the baseline picks its usual share.
func sbBenchID(n uint64) sample.TraceID {
	var id sample.TraceID
	binary.BigEndian.PutUint64(id[:8], n+1)
	binary.BigEndian.PutUint64(id[8:], (n+1)*0x9e3779b97f4a7c15)
	return id
}

// sbChunk returns random bytes the size of spans OTLP spans.
func sbChunk(spans int) []byte {
	c := make([]byte, spans*sbWireBytesPerSpan)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(c)
	return c
}

// BenchmarkBufferAdd measures the steady state of a span buffer: each chunk
// is a new trace (a kafkaexporter record with partition_traces_by_id), the
// clock advances so that about 100k spans are buffered when Tick expires the
// oldest, and 1% of traces are kept by the baseline. "full" makes the byte
// bound, not Tick, shed traces.
func BenchmarkBufferAdd(b *testing.B) {
	for _, bc := range []struct {
		spans, chunksPerTrace int
		maxBytes              int64
		name                  string
	}{
		{1, 1, 0, "spans=1"},
		{10, 1, 0, "spans=10"},
		{100, 1, 0, "spans=100"},
		{10, 4, 0, "spans=10/chunks=4"},
		{10, 1, 4 << 20, "spans=10/full"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			chunk := sbChunk(bc.spans)
			opts := []BufferOpt{DecisionWait(time.Second), OnKeep(func(Kept) {})}
			if bc.maxBytes > 0 {
				opts = append(opts, MaxBytes(bc.maxBytes))
			}
			buf := NewBuffer(opts...)
			// 100k spans per DecisionWait of 1s.
			step := time.Duration(bc.spans) * 10 * time.Microsecond
			now := sbT0
			b.ReportAllocs()
			b.SetBytes(int64(len(chunk)))
			b.ResetTimer()
			for i := range b.N {
				now = now.Add(step)
				buf.Add(sbBenchID(uint64(i/bc.chunksPerTrace)), 0, -1, "otlp_proto", chunk, bc.spans, false, 0, now)
				if i%1024 == 0 {
					buf.Tick(now)
				}
			}
			b.ReportMetric(float64(b.N*bc.spans)/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(buf.Stats().Traces), "traces-held")
		})
	}
}

// BenchmarkBufferBytesPerSpan fills a buffer with 100k spans and reports the
// memory per span against the spans' wire size: "charged" is what counts
// against MaxBytes, "heap" what the Go heap grew by (the buffer, its map and
// the copies of the chunks). charged/heap ≥ 1 means the byte bound is honest.
func BenchmarkBufferBytesPerSpan(b *testing.B) {
	const totalSpans = 100_000
	for _, bc := range []struct{ spans, chunksPerTrace int }{
		{1, 1}, {5, 1}, {10, 1}, {100, 1}, {5, 4},
	} {
		b.Run(fmt.Sprintf("spans=%d/chunks=%d", bc.spans, bc.chunksPerTrace), func(b *testing.B) {
			chunk := sbChunk(bc.spans)
			chunks := totalSpans / bc.spans
			var charged, heap float64
			b.ReportAllocs()
			for range b.N {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				buf := NewBuffer(BaselineRate(0))
				for i := range chunks {
					buf.Add(sbBenchID(uint64(i/bc.chunksPerTrace)), 0, -1, "otlp_proto", chunk, bc.spans, false, 0, sbT0)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				st := buf.Stats()
				if st.Spans != totalSpans/int64(bc.spans)*int64(bc.spans) {
					b.Fatalf("buffer holds %d spans, want %d", st.Spans, totalSpans)
				}
				charged = float64(st.Bytes) / float64(st.Spans)
				heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(st.Spans)
				runtime.KeepAlive(buf)
			}
			b.ReportMetric(sbWireBytesPerSpan, "wire-B/span")
			b.ReportMetric(charged, "charged-B/span")
			b.ReportMetric(heap, "heap-B/span")
			b.ReportMetric(charged/sbWireBytesPerSpan, "charged/wire")
			b.ReportMetric(heap/sbWireBytesPerSpan, "heap/wire")
			b.ReportMetric(charged/heap, "charged/heap")
		})
	}
}

// BenchmarkBufferKeep measures an exemplar decision for a buffered trace:
// unlinking it and handing its chunks over.
func BenchmarkBufferKeep(b *testing.B) {
	chunk := sbChunk(10)
	buf := NewBuffer(OnKeep(func(Kept) {}))
	b.ReportAllocs()
	for i := range b.N {
		id := sbBenchID(uint64(i))
		buf.Add(id, 0, -1, "otlp_proto", chunk, 10, false, 0, sbT0)
		buf.Keep(id, KeepExemplar, sbT0)
	}
}
