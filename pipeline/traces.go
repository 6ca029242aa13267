package pipeline

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// Traces is the second pass over the spans topic: it reads each spans
// record again once its decisions are due and sends the spans of its kept
// traces to the trace sink. A record keyed by its trace ID (the
// kafkaexporter's partition_traces_by_id) is judged by its key, and decoded
// only when its trace is kept; any other record is decoded and its kept
// traces' spans taken out. It is safe for concurrent use by the goroutines
// of different partitions.
type Traces struct {
	sink TraceSink
	enc  ingest.Encoding
	log  *slog.Logger
	m    *tracesMetrics
}

func newTraces(cfg Config) *Traces {
	return &Traces{sink: cfg.Traces, enc: cfg.TracesEncoding, log: cfg.Logger, m: newTracesMetrics(cfg.Reg)}
}

// Export sends the kept traces of one spans record to the trace sink, and
// tells keep which were exported. It blocks while the sink does (its queue
// is full); its error is ctx's or the sink's. A record that does not decode
// was dead-lettered by stage 1: it is counted and skipped.
func (t *Traces) Export(ctx context.Context, r Record, keep *tailsampling.KeepSet) error {
	t.m.records.Inc()
	if id, ok := keyTraceID(r.Key); ok {
		if _, _, kept := keep.Kept(id); !kept {
			return nil
		}
	}
	td, err := ingest.DecodeTraces(t.enc, r.Value)
	if err != nil {
		t.m.undecodable.Inc()
		return nil
	}
	out, reasons, late := keptSpans(td, keep, r.Time)
	if len(reasons) == 0 {
		return nil
	}
	if t.sink == nil {
		t.m.noSink.Add(float64(out.SpanCount()))
		return nil
	}
	if err := t.sink.Enqueue(ctx, out); err != nil {
		return fmt.Errorf("pipeline: trace sink: %w", err)
	}
	for id, why := range reasons {
		keep.Exported(id)
		t.m.exported(why).Inc()
	}
	t.m.spans.Add(float64(out.SpanCount()))
	t.m.late.Add(float64(late))
	return nil
}

// Flush waits until the trace sink acknowledged what was handed to it.
func (t *Traces) Flush(ctx context.Context) error {
	if f, ok := t.sink.(Flusher); ok {
		return f.Flush(ctx)
	}
	return nil
}

// keyTraceID reads a record key written by partition_traces_by_id: the
// trace ID in 32 lowercase hex digits.
func keyTraceID(key []byte) (sample.TraceID, bool) {
	var id sample.TraceID
	if len(key) != 2*len(id) {
		return id, false
	}
	if _, err := hex.Decode(id[:], key); err != nil {
		return id, false
	}
	return id, !id.IsZero()
}

// keptSpans returns td itself when all its spans are of kept traces, else
// a copy holding only those, the kept traces' reasons, and how many of the
// spans were written (at written) after their trace's keep decision.
func keptSpans(td ptrace.Traces, keep *tailsampling.KeepSet, written time.Time) (ptrace.Traces, map[sample.TraceID]tailsampling.Reason, int) {
	reasons := map[sample.TraceID]tailsampling.Reason{}
	lateTrace := map[sample.TraceID]bool{}
	all, late := true, 0
	forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
		id := sample.TraceID(sp.TraceID())
		if _, seen := reasons[id]; !seen {
			why, decided, ok := keep.Kept(id)
			if !ok {
				all = false
				return
			}
			reasons[id] = why
			lateTrace[id] = !decided.IsZero() && written.After(decided)
		}
		if lateTrace[id] {
			late++
		}
	})
	if all || len(reasons) == 0 {
		return td, reasons, late
	}
	out := ptrace.NewTraces()
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		var nrs ptrace.ResourceSpans
		for j := range rs.ScopeSpans().Len() {
			ss := rs.ScopeSpans().At(j)
			var nss ptrace.ScopeSpans
			for k := range ss.Spans().Len() {
				sp := ss.Spans().At(k)
				if _, ok := reasons[sample.TraceID(sp.TraceID())]; !ok {
					continue
				}
				if nss == (ptrace.ScopeSpans{}) {
					if nrs == (ptrace.ResourceSpans{}) {
						nrs = out.ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(nrs.Resource())
						nrs.SetSchemaUrl(rs.SchemaUrl())
					}
					nss = nrs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(nss.Scope())
					nss.SetSchemaUrl(ss.SchemaUrl())
				}
				sp.CopyTo(nss.Spans().AppendEmpty())
			}
		}
	}
	return out, reasons, late
}

func forEachSpan(td ptrace.Traces, fn func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		for j := range rs.ScopeSpans().Len() {
			ss := rs.ScopeSpans().At(j)
			for k := range ss.Spans().Len() {
				fn(rs, ss, ss.Spans().At(k))
			}
		}
	}
}

// traceFacts appends to facts, per trace of td, whether it has an error
// span and its longest span: what the fast decoder reports for a record.
func traceFacts(facts []spanTrace, td ptrace.Traces) []spanTrace {
	forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) {
		id := sample.TraceID(sp.TraceID())
		i := len(facts) - 1
		for ; i >= 0 && facts[i].id != id; i-- {
		}
		if i < 0 {
			facts = append(facts, spanTrace{id: id})
			i = len(facts) - 1
		}
		f := &facts[i]
		f.hasErr = f.hasErr || sp.Status().Code() == ptrace.StatusCodeError
		if d := time.Duration(sp.EndTimestamp() - sp.StartTimestamp()); sp.EndTimestamp() >= sp.StartTimestamp() && d > f.maxDur {
			f.maxDur = d
		}
	})
	return facts
}

type tracesMetrics struct {
	records     prometheus.Counter
	undecodable prometheus.Counter
	noSink      prometheus.Counter
	spans       prometheus.Counter
	late        prometheus.Counter
	byReason    *prometheus.CounterVec
}

func (m *tracesMetrics) exported(r tailsampling.Reason) prometheus.Counter {
	return m.byReason.WithLabelValues(r.String())
}

func newTracesMetrics(reg prometheus.Registerer) *tracesMetrics {
	late := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_tailsampling_late_spans_total", Help: "Spans of kept traces written to the spans topic after their trace's keep decision, exported all the same (decision=\"keep\").",
	}, []string{"decision"})
	m := &tracesMetrics{
		late: late.WithLabelValues("keep"),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_tailsampling_records_read_total", Help: "Spans records read by the second pass over the spans topic.",
		}),
		undecodable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_tailsampling_undecodable_records_total", Help: "Spans records the second pass skipped because they do not decode (stage 1 dead-lettered them).",
		}),
		noSink: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_tailsampling_unexported_spans_total", Help: "Spans of kept traces not exported because no trace sink is configured.",
		}),
		spans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_tailsampling_exported_spans_total", Help: "Spans of kept traces handed to the trace sink.",
		}),
		byReason: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_pipeline_exported_traces_total", Help: "Kept traces handed to the trace sink, by keep reason (a trace whose spans came in several records counts once per record).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.undecodable, m.noSink, m.spans, m.byReason, late)
	}
	return m
}
