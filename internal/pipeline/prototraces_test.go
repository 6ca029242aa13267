package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// protoRecord marshals one resource whose spans belong to the given traces
// (one span per entry); durs are the spans' durations, ending at end.
func protoRecord(t testing.TB, end time.Time, traces []byte, durs []time.Duration, errTrace byte) []byte {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i, tr := range traces {
		s := spans.AppendEmpty()
		s.SetTraceID(pcommon.TraceID{0xab, tr})
		s.SetSpanID(pcommon.SpanID{0xcd, byte(i)})
		s.SetName("GET /cart")
		s.SetKind(ptrace.SpanKindServer)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-durs[i])))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
		if tr == errTrace {
			s.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandleProtoTraces(t *testing.T) {
	discard := SeriesSinkFunc(func(context.Context, []prompb.TimeSeries) error { return nil })
	p, err := New(Config{Rules: rules.Default(), Aggregator: clusterAggOpts(), Series: map[string]SeriesSink{"": discard},
		Buffer: []tailsampling.BufferOpt{tailsampling.LatencyThreshold(time.Second), tailsampling.BaselineRate(0)}})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(-time.Second)
	ms := time.Millisecond
	// Traces 1 (one span of 2s: kept for latency), 2 (an error: kept) and
	// 3 (buffered), interleaved; then a record of trace 4 alone.
	batch := protoRecord(t, end, []byte{1, 2, 3, 1, 3}, []time.Duration{5 * ms, 7 * ms, 9 * ms, 2 * time.Second, 3 * ms}, 2)
	single := protoRecord(t, end, []byte{4, 4}, []time.Duration{4 * ms, 6 * ms}, 0)
	bad := append(append([]byte(nil), single...), 0x0a, 0x80)

	decodes := 0
	handle := func(offset int64, raw []byte) error {
		src := ingest.Source{Topic: "otlp_spans", Partition: 2, Offset: offset, Value: raw}
		return p.handleProtoTraces(src, func() (ptrace.Traces, error) {
			decodes++
			return ingest.DecodeTraces(ingest.EncodingProto, raw)
		})
	}
	p.spansBuffered = map[int32]int64{} // As in a cluster: replays are not buffered again.
	for i, raw := range [][]byte{batch, single, single} {
		if err := handle(int64(10+min(i, 1)), raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := handle(12, bad); err == nil || !strings.Contains(err.Error(), "at byte") {
		t.Fatalf("bad record: error %v, want one naming the byte", err)
	}
	if decodes != 1 {
		t.Fatalf("pdata decoded %d records, want only the one of several traces", decodes)
	}

	kept := map[byte]tailsampling.Kept{}
	for _, k := range p.kept {
		kept[k.TraceID[1]] = k
	}
	if len(kept) != 2 || kept[1].Reason != tailsampling.KeepLatency || kept[2].Reason != tailsampling.KeepError {
		t.Fatalf("kept %+v, want trace 1 for latency and trace 2 for its error", p.kept)
	}
	part, err := ingest.DecodeTraces(ingest.EncodingProto, kept[1].Chunks[0])
	if err != nil || part.SpanCount() != 2 || len(kept[1].Chunks) != 1 {
		t.Fatalf("trace 1 kept as %d chunks, the first of %d spans (error %v); want its 2 spans split out", len(kept[1].Chunks), part.SpanCount(), err)
	}
	if st := p.buffer.Stats(); st.Traces != 2 || st.Spans != 4 {
		t.Fatalf("buffer holds %d traces of %d spans, want traces 3 and 4 (2 spans each, the replay of 4 not again)", st.Traces, st.Spans)
	}
	p.buffer.Keep(sample.TraceID{0xab, 4}, tailsampling.KeepExemplar, time.Now())
	if k := p.kept[len(p.kept)-1]; len(k.Chunks) != 1 || string(k.Chunks[0]) != string(single) {
		t.Fatalf("trace 4 kept as %d chunks, want its record as it was", len(k.Chunks))
	}

	// Every span of the good records counted once, the replay's too (the
	// windows are rebuilt on replay), the bad record's none.
	count := flushedSpanCount(p)
	if count != 9 {
		t.Fatalf("_count outputs add up to %v, want 9 spans", count)
	}
}

// TestHandleRawTraces is the single-process consumer's path: records come
// undecoded, a bad one is refused (for the dead-letter topic) with nothing
// aggregated or buffered.
func TestHandleRawTraces(t *testing.T) {
	discard := SeriesSinkFunc(func(context.Context, []prompb.TimeSeries) error { return nil })
	p, err := New(Config{Rules: rules.Default(), Aggregator: clusterAggOpts(), Series: map[string]SeriesSink{"": discard},
		Buffer: []tailsampling.BufferOpt{tailsampling.BaselineRate(0)}})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(-time.Second)
	ms := time.Millisecond
	batch := protoRecord(t, end, []byte{1, 2, 1}, []time.Duration{5 * ms, 7 * ms, 9 * ms}, 0)
	single := protoRecord(t, end, []byte{3}, []time.Duration{4 * ms}, 0)
	bad := append(append([]byte(nil), single...), 0x0a, 0x80)
	for i, raw := range [][]byte{batch, single} {
		if err := p.HandleRawTraces(ingest.Source{Topic: "otlp_spans", Offset: int64(i), Value: raw}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.HandleRawTraces(ingest.Source{Topic: "otlp_spans", Offset: 2, Value: bad}); err == nil {
		t.Fatal("a record pdata refuses was taken")
	}
	if st := p.buffer.Stats(); st.Traces != 3 || st.Spans != 4 {
		t.Fatalf("buffer holds %d traces of %d spans, want 3 traces of 4 spans", st.Traces, st.Spans)
	}
	count := flushedSpanCount(p)
	if count != 4 {
		t.Fatalf("_count outputs add up to %v, want the 4 spans of the good records", count)
	}
}

// BenchmarkHandleTraces is the per-record span work of the consumers of the
// spans topic on records of one trace of 100 spans: stage 1 (RunCluster)
// hands the raw record to handleProtoTraces; the single-process
// ingest.Consumer to HandleRawTraces; "pdata" is HandleTraces after a pdata
// decode, for consumers of other encodings.
func BenchmarkHandleTraces(b *testing.B) {
	end := time.Now()
	const spans = 100
	traces, durs := make([]byte, spans), make([]time.Duration, spans)
	for i := range durs {
		traces[i], durs[i] = 1, time.Duration(i+1)*time.Millisecond
	}
	raw := protoRecord(b, end, traces, durs, 0)
	for _, path := range []string{"stage1", "consumer", "pdata"} {
		b.Run(path, func(b *testing.B) {
			discard := SeriesSinkFunc(func(context.Context, []prompb.TimeSeries) error { return nil })
			p, err := New(Config{Rules: rules.Default(), Aggregator: clusterAggOpts(), Series: map[string]SeriesSink{"": discard},
				Buffer: []tailsampling.BufferOpt{tailsampling.DecisionWait(time.Millisecond)}})
			if err != nil {
				b.Fatal(err)
			}
			src := ingest.Source{Topic: "otlp_spans", Value: raw}
			b.ReportAllocs()
			for b.Loop() {
				switch path {
				case "stage1":
					if err := p.handleProtoTraces(src, func() (ptrace.Traces, error) { return ingest.DecodeTraces(ingest.EncodingProto, raw) }); err != nil {
						b.Fatal(err)
					}
				case "consumer":
					if err := p.HandleRawTraces(src); err != nil {
						b.Fatal(err)
					}
				default:
					td, err := ingest.DecodeTraces(ingest.EncodingProto, raw)
					if err != nil {
						b.Fatal(err)
					}
					p.HandleTraces(src, td)
				}
				src.Offset++
				if src.Offset%1000 == 0 {
					p.buffer.Tick(time.Now()) // Decide what waits, as PollDone does.
				}
			}
			b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// flushedSpanCount closes every window of p and adds up its _count outputs:
// the spans aggregated.
func flushedSpanCount(p *Pipeline) float64 {
	var count float64
	p.agg.Flush(time.Now(), func(s aggregator.Series) {
		if strings.HasSuffix(s.Labels.Get("__name__"), "_count") {
			count += s.V
		}
	})
	return count
}

// TestKeptChunksFreeTheirSlabs checks that the pipeline releases a kept
// trace's chunks once it has decoded them for export: the span buffer then
// copies new chunks into the same slabs instead of allocating, and what was
// exported is still the spans that were kept.
func TestKeptChunksFreeTheirSlabs(t *testing.T) {
	pool := tailsampling.NewSlabPool(64 << 20)
	exported := &traceCapture{}
	discard := SeriesSinkFunc(func(context.Context, []prompb.TimeSeries) error { return nil })
	p, err := New(Config{Rules: rules.Default(), Aggregator: clusterAggOpts(), Series: map[string]SeriesSink{"": discard},
		Traces: exported, Buffer: []tailsampling.BufferOpt{tailsampling.Slabs(pool), tailsampling.BaselineRate(0)}})
	if err != nil {
		t.Fatal(err)
	}
	p.spansBuffered = map[int32]int64{}
	end := time.Now().Add(-time.Second)
	const traces, spans = 1000, 200 // about 12 KB a record: a dozen slabs in all
	record := func(n int, fail bool) []byte {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "checkout")
		ss := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range spans {
			s := ss.AppendEmpty()
			s.SetTraceID(pcommon.TraceID{0xab, byte(n >> 8), byte(n)})
			s.SetSpanID(pcommon.SpanID{0xcd, byte(i)})
			s.SetName("GET /cart")
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-time.Millisecond)))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
			if fail && i == 0 {
				s.Status().SetCode(ptrace.StatusCodeError)
			}
		}
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var offset int64
	handle := func(raw []byte) {
		offset++
		src := ingest.Source{Topic: "otlp_spans", Offset: offset, Value: raw}
		if err := p.handleProtoTraces(src, func() (ptrace.Traces, error) { return ingest.DecodeTraces(ingest.EncodingProto, raw) }); err != nil {
			t.Fatal(err)
		}
	}
	copied := 0
	for n := range traces {
		// The first record of a trace is buffered, in a slab; the second
		// has an error and keeps both.
		first := record(n, false)
		copied += len(first)
		handle(first)
		handle(record(n, true))
		if n%10 == 9 {
			if err := p.drainTraces(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for n := range traces {
		if got := exported.ids[sample.TraceID{0xab, byte(n >> 8), byte(n)}]; got != 2*spans {
			t.Fatalf("trace %d: %d spans exported, want %d", n, got, 2*spans)
		}
	}
	if got := exported.count(); got != traces {
		t.Fatalf("%d traces exported, want %d", got, traces)
	}
	if fresh, filled := pool.Fresh(), copied>>20; filled < 8 || fresh > 2 {
		t.Errorf("%d slabs allocated for %d MB buffered: kept chunks did not free their slabs", fresh, filled)
	}
}
