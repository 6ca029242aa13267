package ingest

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

// ForEachTrace calls fn once per trace ID in td, the decoded form of raw, in
// order of first appearance, with the trace's spans encoded in enc, the number
// of spans, and whether any has status Error. Spans without a trace ID are
// grouped under the zero TraceID. A td without spans makes no call.
//
// When every span shares one trace ID (kafkaexporter's partition_traces_by_id
// writes one trace per record), fn gets raw itself: no copy, no re-marshal.
// Otherwise each trace's spans are copied, under copies of their resource and
// scope, into a batch of their own and marshaled into a fresh buffer that fn
// may keep.
//
// The error reports an unknown encoding (before any call) or a failed
// marshal, naming the trace; calls made before it stand.
func ForEachTrace(enc Encoding, raw []byte, td ptrace.Traces, fn func(id sample.TraceID, raw []byte, spans int, hasError bool)) error {
	var m ptrace.Marshaler
	switch enc {
	case EncodingProto:
		m = &ptrace.ProtoMarshaler{}
	case EncodingJSON:
		m = &ptrace.JSONMarshaler{}
	default:
		return fmt.Errorf("ingest: split traces: unknown encoding %q", enc)
	}
	var (
		first  pcommon.TraceID
		n      int
		single = true
		hasErr bool
	)
	eachSpan(td, func(_, _ int, _ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		if n == 0 {
			first = s.TraceID()
		} else if s.TraceID() != first {
			single = false
		}
		n++
		hasErr = hasErr || s.Status().Code() == ptrace.StatusCodeError
	})
	switch {
	case n == 0:
		return nil
	case single:
		fn(sample.TraceID(first), raw, n, hasErr)
		return nil
	}
	for _, g := range splitTraces(td) {
		b, err := m.MarshalTraces(g.td)
		if err != nil {
			return fmt.Errorf("ingest: split traces: marshal %s trace %s: %w", enc, g.id, err)
		}
		fn(g.id, b, g.spans, g.hasErr)
	}
	return nil
}

// traceGroup is the spans of one trace being copied out of a batch.
type traceGroup struct {
	id     sample.TraceID
	td     ptrace.Traces
	rs     ptrace.ResourceSpans
	ss     ptrace.ScopeSpans
	ri, si int // Indexes in the source batch of the resource and scope copied last.
	spans  int
	hasErr bool
}

func splitTraces(td ptrace.Traces) []*traceGroup {
	var groups []*traceGroup
	byID := map[sample.TraceID]*traceGroup{}
	eachSpan(td, func(i, j int, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span) {
		id := sample.TraceID(s.TraceID())
		g := byID[id]
		if g == nil {
			g = &traceGroup{id: id, td: ptrace.NewTraces(), ri: -1}
			byID[id] = g
			groups = append(groups, g)
		}
		if g.ri != i {
			g.rs = g.td.ResourceSpans().AppendEmpty()
			rs.Resource().CopyTo(g.rs.Resource())
			g.rs.SetSchemaUrl(rs.SchemaUrl())
			g.ri, g.si = i, -1
		}
		if g.si != j {
			g.ss = g.rs.ScopeSpans().AppendEmpty()
			ss.Scope().CopyTo(g.ss.Scope())
			g.ss.SetSchemaUrl(ss.SchemaUrl())
			g.si = j
		}
		s.CopyTo(g.ss.Spans().AppendEmpty())
		g.spans++
		g.hasErr = g.hasErr || s.Status().Code() == ptrace.StatusCodeError
	})
	return groups
}

func eachSpan(td ptrace.Traces, f func(i, j int, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				f(i, j, rs, ss, spans.At(k))
			}
		}
	}
}
