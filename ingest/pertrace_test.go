package ingest

import (
	"bytes"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

type traceCall struct {
	id       sample.TraceID
	raw      []byte
	spans    int
	hasError bool
}

func forEach(t *testing.T, enc Encoding, raw []byte) (ptrace.Traces, []traceCall) {
	t.Helper()
	td, err := DecodeTraces(enc, raw)
	if err != nil {
		t.Fatal(err)
	}
	var calls []traceCall
	err = ForEachTrace(enc, raw, td, func(id sample.TraceID, raw []byte, spans int, hasError bool) {
		calls = append(calls, traceCall{id, raw, spans, hasError})
	})
	if err != nil {
		t.Fatal(err)
	}
	return td, calls
}

func TestForEachTraceSingleTraceIsZeroCopy(t *testing.T) {
	for _, enc := range []Encoding{EncodingProto, EncodingJSON} {
		t.Run(string(enc), func(t *testing.T) {
			rec := traceRecords(t, enc, []int{3}, 5, 1, true)[0]
			_, calls := forEach(t, enc, rec.value)
			if len(calls) != 1 {
				t.Fatalf("%d calls, want 1", len(calls))
			}
			c := calls[0]
			if c.id != sample.TraceID(traceID(3)) || c.spans != 5 || !c.hasError {
				t.Errorf("call = %s %d spans error=%v, want %s 5 spans error=true", c.id, c.spans, c.hasError, sample.TraceID(traceID(3)))
			}
			if &c.raw[0] != &rec.value[0] || len(c.raw) != len(rec.value) {
				t.Error("raw is not the record's own bytes")
			}
		})
	}
}

func TestForEachTraceSplitsBatch(t *testing.T) {
	for _, enc := range []Encoding{EncodingProto, EncodingJSON} {
		t.Run(string(enc), func(t *testing.T) {
			traces := []int{1, 2, 3, 4}
			rec := traceRecords(t, enc, traces, 3, 2, false)[0]
			td, calls := forEach(t, enc, rec.value)
			if len(calls) != len(traces) {
				t.Fatalf("%d calls, want %d", len(calls), len(traces))
			}
			// Order of first appearance: svc-0 (even traces) comes first.
			wantOrder := []int{2, 4, 1, 3}
			total := 0
			for i, c := range calls {
				tr := wantOrder[i]
				if c.id != sample.TraceID(traceID(tr)) || c.spans != 3 || c.hasError != (tr%3 == 0) {
					t.Errorf("call %d = %s %d spans error=%v, want trace %d, 3 spans, error=%v", i, c.id, c.spans, c.hasError, tr, tr%3 == 0)
				}
				if bytes.Equal(c.raw, rec.value) {
					t.Errorf("call %d got the whole batch", i)
				}
				// Each part decodes in the same encoding to exactly its trace,
				// with resource and scope kept.
				part, err := DecodeTraces(enc, c.raw)
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if part.SpanCount() != 3 || part.ResourceSpans().Len() != 1 {
					t.Fatalf("call %d: part has %d spans in %d resources", i, part.SpanCount(), part.ResourceSpans().Len())
				}
				rs := part.ResourceSpans().At(0)
				svc, _ := rs.Resource().Attributes().Get("service.name")
				if want := []string{"svc-0", "svc-1"}[tr%2]; svc.Str() != want || rs.SchemaUrl() == "" {
					t.Errorf("call %d: resource %v schema %q, want service %s", i, rs.Resource().Attributes().AsRaw(), rs.SchemaUrl(), want)
				}
				if rs.ScopeSpans().At(0).Scope().Name() == "" {
					t.Errorf("call %d: scope lost", i)
				}
				for _, s := range rs.ScopeSpans().At(0).Spans().All() {
					if sample.TraceID(s.TraceID()) != c.id {
						t.Errorf("call %d holds a span of trace %s", i, s.TraceID())
					}
				}
				total += c.spans
			}
			if total != td.SpanCount() {
				t.Errorf("calls cover %d spans, batch has %d", total, td.SpanCount())
			}
		})
	}
}

func TestForEachTraceEdges(t *testing.T) {
	called := false
	fn := func(sample.TraceID, []byte, int, bool) { called = true }
	if err := ForEachTrace(EncodingProto, nil, ptrace.NewTraces(), fn); err != nil || called {
		t.Errorf("empty batch: err %v, called %v; want no error, no call", err, called)
	}
	if err := ForEachTrace("zipkin", nil, traceBatch([]int{1}, 1, 1), fn); err == nil || called {
		t.Errorf("unknown encoding: err %v, called %v; want an error before any call", err, called)
	}
}
