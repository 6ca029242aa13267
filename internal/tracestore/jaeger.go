package tracestore

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The types below are Jaeger's UI model (jaeger internal/uimodel), field for
// field and tag for tag, so that encoding/json renders what Jaeger's query
// service renders.

type jaegerResponse struct {
	Data   any           `json:"data"`
	Total  int           `json:"total"`
	Limit  int           `json:"limit"`
	Offset int           `json:"offset"`
	Errors []jaegerError `json:"errors"`
}

type jaegerError struct {
	Code    int    `json:"code,omitempty"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID,omitempty"`
}

type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
	Warnings  []string                 `json:"warnings"`
}

type jaegerSpan struct {
	TraceID       string            `json:"traceID"`
	SpanID        string            `json:"spanID"`
	Flags         uint32            `json:"flags,omitempty"`
	OperationName string            `json:"operationName"`
	References    []jaegerReference `json:"references"`
	StartTime     uint64            `json:"startTime"` // µs since the epoch
	Duration      uint64            `json:"duration"`  // µs
	Tags          []jaegerKeyValue  `json:"tags"`
	Logs          []jaegerLog       `json:"logs"`
	ProcessID     string            `json:"processID,omitempty"`
	Warnings      []string          `json:"warnings"`
}

type jaegerReference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jaegerProcess struct {
	ServiceName string           `json:"serviceName"`
	Tags        []jaegerKeyValue `json:"tags"`
}

type jaegerLog struct {
	Timestamp uint64           `json:"timestamp"`
	Fields    []jaegerKeyValue `json:"fields"`
}

type jaegerKeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type,omitempty"`
	Value any    `json:"value"`
}

const (
	childOf     = "CHILD_OF"
	followsFrom = "FOLLOWS_FROM"
	// sampledFlag is Jaeger's span flag for a sampled span. Every span in
	// this store belongs to a trace the sampler kept, so every span has it.
	sampledFlag = 1
	// jsMaxSafeInt bounds the integers a browser reads exactly; Jaeger sends
	// larger int64 tag values as strings.
	jsMaxSafeInt = 1<<53 - 1
)

// toJaeger converts a stored trace the way Jaeger's query service converts
// OTLP for its UI (the collector's OTLP->Jaeger translator, then Jaeger's
// SortCollections adjuster and JSON model):
//   - a span's tags are otel.scope.name, otel.scope.version, its attributes
//     sorted by key, span.kind, otel.status_code, error (true when the status
//     is ERROR), otel.status_description, w3c.tracestate;
//   - the parent is the first reference (CHILD_OF), links follow
//     (FOLLOWS_FROM unless the link says opentracing.ref_type=child_of);
//   - events become logs sorted by name, the name as field "event";
//   - resources become processes p1, p2, ... in order of first use, the
//     service.name attribute as serviceName and the others as tags;
//   - times are microseconds (nanoseconds divided by 1000, truncated).
//
// Jaeger's clock-skew and client/server span-ID adjusters are not applied.
func toJaeger(td ptrace.Traces) jaegerTrace {
	out := jaegerTrace{Spans: []jaegerSpan{}, Processes: map[string]jaegerProcess{}}
	procIDs := map[string]string{} // process key -> p<N>
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		proc := toProcess(rs.Resource())
		key := processKey(proc)
		pid, ok := procIDs[key]
		if !ok {
			pid = "p" + strconv.Itoa(len(procIDs)+1)
			procIDs[key] = pid
			out.Processes[pid] = proc
		}
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := range spans.Len() {
				js := toSpan(spans.At(k), ss.Scope())
				js.ProcessID = pid
				if out.TraceID == "" {
					out.TraceID = js.TraceID
				}
				out.Spans = append(out.Spans, js)
			}
		}
	}
	return out
}

func toSpan(span ptrace.Span, scope pcommon.InstrumentationScope) jaegerSpan {
	traceID := traceIDString(span.TraceID())
	start, end := span.StartTimestamp(), span.EndTimestamp()
	var dur uint64
	if end > start {
		dur = uint64(end-start) / 1000
	}
	return jaegerSpan{
		TraceID:       traceID,
		SpanID:        spanIDString(span.SpanID()),
		Flags:         sampledFlag,
		OperationName: span.Name(),
		References:    references(span, traceID),
		StartTime:     uint64(start) / 1000,
		Duration:      dur,
		Tags:          spanTags(span, scope),
		Logs:          logs(span.Events()),
	}
}

func references(span ptrace.Span, traceID string) []jaegerReference {
	refs := []jaegerReference{}
	parent := span.ParentSpanID()
	hasParent := !parent.IsEmpty()
	if hasParent {
		refs = append(refs, jaegerReference{RefType: childOf, TraceID: traceID, SpanID: spanIDString(parent)})
	}
	links := span.Links()
	for i := range links.Len() {
		l := links.At(i)
		typ := followsFrom
		if v, ok := l.Attributes().Get("opentracing.ref_type"); ok && v.AsString() == "child_of" {
			typ = childOf
		}
		if hasParent && l.TraceID() == span.TraceID() && l.SpanID() == parent {
			// A link to the parent only sets the parent reference's type.
			refs[0].RefType = typ
			continue
		}
		refs = append(refs, jaegerReference{RefType: typ, TraceID: traceIDString(l.TraceID()), SpanID: spanIDString(l.SpanID())})
	}
	return refs
}

var spanKinds = map[ptrace.SpanKind]string{
	ptrace.SpanKindServer:   "server",
	ptrace.SpanKindClient:   "client",
	ptrace.SpanKindInternal: "internal",
	ptrace.SpanKindProducer: "producer",
	ptrace.SpanKindConsumer: "consumer",
}

func spanTags(span ptrace.Span, scope pcommon.InstrumentationScope) []jaegerKeyValue {
	tags := make([]jaegerKeyValue, 0, span.Attributes().Len()+6)
	if n := scope.Name(); n != "" {
		tags = append(tags, strTag("otel.scope.name", n))
	}
	if v := scope.Version(); v != "" {
		tags = append(tags, strTag("otel.scope.version", v))
	}
	tags = appendAttrs(tags, span.Attributes(), "")
	if k, ok := spanKinds[span.Kind()]; ok {
		tags = append(tags, strTag("span.kind", k))
	}
	st := span.Status()
	switch st.Code() {
	case ptrace.StatusCodeError:
		tags = append(tags, strTag("otel.status_code", "ERROR"), jaegerKeyValue{Key: "error", Type: "bool", Value: true})
	case ptrace.StatusCodeOk:
		tags = append(tags, strTag("otel.status_code", "OK"))
	}
	if m := st.Message(); m != "" {
		tags = append(tags, strTag("otel.status_description", m))
	}
	if ts := span.TraceState().AsRaw(); ts != "" {
		tags = append(tags, strTag("w3c.tracestate", ts))
	}
	return tags
}

func logs(events ptrace.SpanEventSlice) []jaegerLog {
	out := make([]jaegerLog, 0, events.Len())
	order := make([]int, events.Len())
	for i := range order {
		order[i] = i
	}
	// Jaeger sorts events by name (stable, so equal names keep their order).
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(events.At(a).Name(), events.At(b).Name()) })
	for _, i := range order {
		e := events.At(i)
		fields := make([]jaegerKeyValue, 0, e.Attributes().Len()+1)
		if _, has := e.Attributes().Get("event"); e.Name() != "" && !has {
			fields = append(fields, strTag("event", e.Name()))
		}
		out = append(out, jaegerLog{
			Timestamp: uint64(e.Timestamp()) / 1000,
			Fields:    appendAttrs(fields, e.Attributes(), ""),
		})
	}
	return out
}

func toProcess(r pcommon.Resource) jaegerProcess {
	return jaegerProcess{
		ServiceName: serviceName(r),
		Tags:        appendAttrs(make([]jaegerKeyValue, 0, r.Attributes().Len()), r.Attributes(), "service.name"),
	}
}

// processKey identifies equal processes, as Jaeger's process hashtable does.
func processKey(p jaegerProcess) string {
	var b strings.Builder
	b.WriteString(p.ServiceName)
	for _, t := range p.Tags {
		fmt.Fprintf(&b, "\x00%s\x00%s\x00%v", t.Key, t.Type, t.Value)
	}
	return b.String()
}

// appendAttrs appends attrs as tags sorted by key, skipping the key skip.
func appendAttrs(dst []jaegerKeyValue, attrs pcommon.Map, skip string) []jaegerKeyValue {
	first := len(dst)
	for k, v := range attrs.All() {
		if k != skip {
			dst = append(dst, tag(k, v))
		}
	}
	slices.SortStableFunc(dst[first:], func(a, b jaegerKeyValue) int { return cmp.Compare(a.Key, b.Key) })
	return dst
}

func strTag(k, v string) jaegerKeyValue { return jaegerKeyValue{Key: k, Type: "string", Value: v} }

func tag(k string, v pcommon.Value) jaegerKeyValue {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		i := v.Int()
		if i > jsMaxSafeInt || i < -jsMaxSafeInt {
			return jaegerKeyValue{Key: k, Type: "int64", Value: strconv.FormatInt(i, 10)}
		}
		return jaegerKeyValue{Key: k, Type: "int64", Value: i}
	case pcommon.ValueTypeBool:
		return jaegerKeyValue{Key: k, Type: "bool", Value: v.Bool()}
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// JSON has no NaN nor Inf, and Jaeger fails the whole response on
			// them; the value is sent as text instead.
			return jaegerKeyValue{Key: k, Type: "float64", Value: strconv.FormatFloat(f, 'g', -1, 64)}
		}
		return jaegerKeyValue{Key: k, Type: "float64", Value: f}
	case pcommon.ValueTypeBytes:
		return jaegerKeyValue{Key: k, Type: "binary", Value: v.Bytes().AsRaw()} // base64 in JSON
	case pcommon.ValueTypeStr:
		return strTag(k, v.Str())
	default: // Maps and slices as their JSON text; empty values as "".
		return strTag(k, v.AsString())
	}
}

// traceIDString renders a trace ID as Jaeger does: 32 hex digits, or 16 when
// the high half is zero (a 64-bit Jaeger trace ID).
func traceIDString(id pcommon.TraceID) string {
	hi := binary.BigEndian.Uint64(id[:8])
	lo := binary.BigEndian.Uint64(id[8:])
	if hi == 0 {
		return fmt.Sprintf("%016x", lo)
	}
	return fmt.Sprintf("%016x%016x", hi, lo)
}

func spanIDString(id pcommon.SpanID) string {
	return fmt.Sprintf("%016x", binary.BigEndian.Uint64(id[:]))
}
