package tailsampling

import (
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/internal/loadgen"
)

// otlpChunk is one kafkaexporter record of a loadgen trace: the spans of one
// service, as the buffer gets them from the pipeline.
type otlpChunk struct {
	raw    []byte
	spans  int
	hasErr bool
	maxDur time.Duration
}

// otlpTraces returns n loadgen traces as their kafkaexporter records
// (partition_traces_by_id: one record per service), and the wire bytes and
// spans of them all.
func otlpTraces(tb testing.TB, n int) (traces [][]otlpChunk, wire, spans int) {
	tb.Helper()
	g := loadgen.New(loadgen.WithSeed(42))
	var u ptrace.ProtoUnmarshaler
	at := sbT0
	for range n {
		at = at.Add(5 * time.Millisecond)
		recs, err := loadgen.TraceRecords("spans", g.NextTrace(at))
		if err != nil {
			tb.Fatal(err)
		}
		var tr []otlpChunk
		for _, r := range recs {
			td, err := u.UnmarshalTraces(r.Value)
			if err != nil {
				tb.Fatal(err)
			}
			c := otlpChunk{raw: r.Value, spans: td.SpanCount()}
			ss := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
			for i := range ss.Len() {
				s := ss.At(i)
				c.hasErr = c.hasErr || s.Status().Code() == ptrace.StatusCodeError
				c.maxDur = max(c.maxDur, s.EndTimestamp().AsTime().Sub(s.StartTimestamp().AsTime()))
			}
			tr = append(tr, c)
			wire += len(c.raw)
			spans += c.spans
		}
		traces = append(traces, tr)
	}
	return traces, wire, spans
}

// BenchmarkBufferBytesPerSpanOTLP is BenchmarkBufferBytesPerSpan on real
// records: loadgen traces (the demo app: 1 to 15 spans over 1 to 5 services,
// resource and span attributes as OTel SDKs set them), one record per
// service and trace as kafkaexporter writes them. It reports the records'
// wire bytes per span, the bytes charged to MaxBytes per span and what the Go
// heap grew by per span, for 20k traces buffered.
func BenchmarkBufferBytesPerSpanOTLP(b *testing.B) {
	traces, wire, spans := otlpTraces(b, 20_000)
	var charged, heap float64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		buf := NewBuffer(BaselineRate(0))
		for i, tr := range traces {
			for _, c := range tr {
				// No error or latency keeps: everything stays buffered.
				buf.Add(sbBenchID(uint64(i)), 0, -1, "otlp_proto", c.raw, c.spans, false, 0, sbT0)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := buf.Stats()
		if st.Spans != int64(spans) || st.Traces != len(traces) {
			b.Fatalf("buffer holds %d traces, %d spans; want %d, %d", st.Traces, st.Spans, len(traces), spans)
		}
		charged = float64(st.Bytes) / float64(spans)
		heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(spans)
		runtime.KeepAlive(buf)
	}
	w := float64(wire) / float64(spans)
	b.ReportMetric(w, "wire-B/span")
	b.ReportMetric(charged, "charged-B/span")
	b.ReportMetric(heap, "heap-B/span")
	b.ReportMetric(charged/w, "charged/wire")
	b.ReportMetric(heap/w, "heap/wire")
	b.ReportMetric(float64(len(traces)), "traces")
}

// BenchmarkBufferDecide measures the whole life of traces in the buffer, on
// real records: every record of a trace is added (errors kept at once), one
// trace in 20 is named by an exemplar decision a window (1 s of traffic)
// after it arrived, the others expire by Tick after a 3 s decision wait (1%
// kept by the baseline), and one trace in 10 has its last record arrive
// 1.5 s late, after its decision: it follows its trace through the decision
// cache. The clock advances 100 µs per trace, so about 30k traces are
// buffered. One op is one trace; spans/s counts every span added.
func BenchmarkBufferDecide(b *testing.B) {
	traces, _, spans := otlpTraces(b, 4096)
	const (
		perSecond    = 10_000
		decisionWait = 3 * time.Second
		windowDelay  = perSecond         // traces between arrival and exemplar decision
		lateDelay    = perSecond * 3 / 2 // traces between arrival and a late record
	)
	step := time.Second / perSecond
	buf := NewBuffer(DecisionWait(decisionWait), BaselineRate(0.01), OnKeep(func(Kept) {}))
	now := sbT0
	added := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now = now.Add(step)
		tr := traces[i%len(traces)]
		last := len(tr)
		if i%10 == 3 && last > 1 {
			last-- // held back
		}
		id := sbBenchID(uint64(i))
		for _, c := range tr[:last] {
			buf.Add(id, 0, -1, "otlp_proto", c.raw, c.spans, c.hasErr, c.maxDur, now)
			added += c.spans
		}
		if j := i - windowDelay; j >= 0 && j%20 == 0 {
			buf.Keep(sbBenchID(uint64(j)), KeepExemplar, now)
		}
		if j := i - lateDelay; j >= 0 && j%10 == 3 {
			if tj := traces[j%len(traces)]; len(tj) > 1 {
				c := tj[len(tj)-1]
				buf.Add(sbBenchID(uint64(j)), 0, -1, "otlp_proto", c.raw, c.spans, c.hasErr, c.maxDur, now)
				added += c.spans
			}
		}
		if i%1024 == 0 {
			buf.Tick(now)
		}
	}
	b.ReportMetric(float64(added)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "traces/s")
	b.ReportMetric(float64(spans)/float64(len(traces)), "spans/trace")
	st := buf.Stats()
	b.ReportMetric(float64(st.Traces), "traces-held")
	b.ReportMetric(float64(st.Bytes)/(1<<20), "MiB-held")
}
