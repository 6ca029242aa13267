package pipeline_test

import (
	"context"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/pipeline/pipelinetest"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// protoRecord marshals one resource whose spans belong to the given traces
// (one span per entry); durs are the spans' durations, ending at end.
func protoRecord(t testing.TB, end time.Time, traces []byte, durs []time.Duration, errTrace byte) []byte {
	t.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(tracesOf(end, traces, durs, errTrace))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tracesOf(end time.Time, traces []byte, durs []time.Duration, errTrace byte) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i, tr := range traces {
		s := spans.AppendEmpty()
		s.SetTraceID(traceID(tr))
		s.SetSpanID(pcommon.SpanID{0xcd, byte(i)})
		s.SetName("GET /cart")
		s.SetKind(ptrace.SpanKindServer)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-durs[i])))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
		if tr == errTrace {
			s.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	return td
}

func traceID(n byte) pcommon.TraceID {
	return pcommon.TraceID{0xab, n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
}

type discard struct{}

func (discard) Enqueue(context.Context, []prompb.TimeSeries) error { return nil }

// countSink adds up the _count samples it is given: the spans aggregated.
type countSink struct {
	mu sync.Mutex
	n  float64
}

func (c *countSink) Enqueue(_ context.Context, series []prompb.TimeSeries) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ts := range series {
		for _, l := range ts.Labels {
			if l.Name == "__name__" && strings.HasSuffix(l.Value, "_count") {
				c.n += ts.Samples[0].Value
			}
		}
	}
	return nil
}

// Stage 1 derives the span series of every good record (a replayed record
// counts again: its windows are rebuilt on a replay) and reports the keep
// decisions it can take at once; a bad record is refused, with nothing
// aggregated.
func TestStage1Spans(t *testing.T) {
	counts := &countSink{}
	l, err := pipelinetest.New(pipeline.Config{LatencyThreshold: time.Second, Series: map[string]pipeline.SeriesSink{"": counts}})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(-time.Second)
	ms := time.Millisecond
	// Traces 1 (a span of 2s: kept for latency), 2 (an error: kept) and 3,
	// interleaved; then a record of trace 4 alone, and its replay.
	batch := protoRecord(t, end, []byte{1, 2, 3, 1, 3}, []time.Duration{5 * ms, 7 * ms, 9 * ms, 2 * time.Second, 3 * ms}, 2)
	single := protoRecord(t, end, []byte{4, 4}, []time.Duration{4 * ms, 6 * ms}, 0)
	bad := append(append([]byte(nil), single...), 0x0a, 0x80)
	for i, raw := range [][]byte{batch, single, single} {
		if err := l.Handle(pipeline.Record{Spans: true, Partition: 2, Offset: int64(10 + min(i, 1)), Value: raw}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Handle(pipeline.Record{Spans: true, Partition: 2, Offset: 12, Value: bad}); err == nil || !strings.Contains(err.Error(), "at byte") {
		t.Fatalf("bad record: error %v, want one naming the byte", err)
	}
	want := map[sample.TraceID]tailsampling.Reason{sample.TraceID(traceID(1)): tailsampling.KeepLatency, sample.TraceID(traceID(2)): tailsampling.KeepError}
	if len(l.Keeps) != len(want) {
		t.Fatalf("keep decisions %+v, want trace 1 for latency and trace 2 for its error", l.Keeps)
	}
	for _, d := range l.Keeps {
		if want[d.TraceID] != d.Reason {
			t.Errorf("decision %+v, want %v", d, want[d.TraceID])
		}
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if counts.n != 9 {
		t.Fatalf("_count outputs add up to %v, want 9 spans", counts.n)
	}
}

type traceCapture struct {
	mu    sync.Mutex
	spans map[sample.TraceID]int
}

func (c *traceCapture) Enqueue(_ context.Context, td ptrace.Traces) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				c.spans[sample.TraceID(spans.At(k).TraceID())]++
			}
		}
	}
	return nil
}

// The second pass exports the spans of kept traces only: a record of
// several traces loses the others', a record keyed by a kept trace goes
// whole, and one keyed by a trace not kept is not even decoded.
func TestTracesExport(t *testing.T) {
	sink := &traceCapture{spans: map[sample.TraceID]int{}}
	reg := prometheus.NewRegistry()
	w, err := pipeline.New(pipeline.Config{Series: map[string]pipeline.SeriesSink{"": discard{}}, Traces: sink, Reg: reg, Plan: plan.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	keep := tailsampling.NewKeepSet(tailsampling.KeepSetConfig{BaselineRate: 0, Linger: time.Minute})
	keep.Add(tailsampling.Decision{TraceID: sample.TraceID(traceID(2)), Reason: tailsampling.KeepError}, time.Now())
	keep.Add(tailsampling.Decision{TraceID: sample.TraceID(traceID(4)), Reason: tailsampling.KeepExemplar}, time.Now())
	end := time.Now()
	ms := time.Millisecond
	batch := protoRecord(t, end, []byte{1, 2, 3, 2}, []time.Duration{ms, ms, ms, ms}, 0)
	single := protoRecord(t, end, []byte{4, 4, 4}, []time.Duration{ms, ms, ms}, 0)
	key := func(n byte) []byte { id := traceID(n); return []byte(hex.EncodeToString(id[:])) }
	ctx := context.Background()
	for _, r := range []pipeline.Record{
		{Spans: true, Value: batch},
		{Spans: true, Key: key(4), Value: single},
		{Spans: true, Key: key(5), Value: []byte("not OTLP: a record not kept is not decoded")},
	} {
		if err := w.Traces.Export(ctx, r, keep); err != nil {
			t.Fatal(err)
		}
	}
	want := map[sample.TraceID]int{sample.TraceID(traceID(2)): 2, sample.TraceID(traceID(4)): 3}
	if len(sink.spans) != len(want) || sink.spans[sample.TraceID(traceID(2))] != 2 || sink.spans[sample.TraceID(traceID(4))] != 3 {
		t.Fatalf("exported spans by trace %v, want %v", sink.spans, want)
	}
	if n := counter(t, reg, "weir_tailsampling_undecodable_records_total"); n != 0 {
		t.Errorf("%v records failed to decode: the record of a trace not kept was decoded", n)
	}
	if n := counter(t, reg, "weir_tailsampling_exported_spans_total"); n != 5 {
		t.Errorf("weir_tailsampling_exported_spans_total = %v, want 5", n)
	}
}

// BenchmarkHandleTraces is stage 1's work on a spans record of one trace of
// 100 spans.
func BenchmarkHandleTraces(b *testing.B) {
	end := time.Now()
	const spans = 100
	traces, durs := make([]byte, spans), make([]time.Duration, spans)
	for i := range durs {
		traces[i], durs[i] = 1, time.Duration(i+1)*time.Millisecond
	}
	raw := protoRecord(b, end, traces, durs, 0)
	w, err := pipeline.New(pipeline.Config{Series: map[string]pipeline.SeriesSink{"": discard{}}})
	if err != nil {
		b.Fatal(err)
	}
	r := pipeline.Record{Spans: true, Value: raw}
	keep := func(tailsampling.Decision) {}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Stage1.Handle(r, keep); err != nil {
			b.Fatal(err)
		}
		r.Offset++
	}
	b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}
