package receiver_test

import (
	"bytes"
	"encoding/hex"
	"hash/fnv"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/receiver"
)

var hexTraceID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func tid(b byte) pcommon.TraceID { return pcommon.TraceID{15: b, 0: 0xab} }

// mixedBatch is a collector batch: resource A with scopes s1 (spans of
// traces 1, 2, 1) and s2 (trace 1), resource B with scope s3 (trace 2).
func mixedBatch() ptrace.Traces {
	td := ptrace.NewTraces()
	add := func(rs ptrace.ResourceSpans, scope string, spans ...struct {
		name  string
		trace byte
	}) {
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(scope)
		ss.SetSchemaUrl("scope-schema-" + scope)
		for i, s := range spans {
			sp := ss.Spans().AppendEmpty()
			sp.SetName(s.name)
			sp.SetTraceID(tid(s.trace))
			sp.SetSpanID(pcommon.SpanID{7: byte(i + 1)})
		}
	}
	type sp = struct {
		name  string
		trace byte
	}
	a := td.ResourceSpans().AppendEmpty()
	a.Resource().Attributes().PutStr("service.name", "A")
	a.SetSchemaUrl("schema-A")
	add(a, "s1", sp{"a1", 1}, sp{"a2", 2}, sp{"a3", 1})
	add(a, "s2", sp{"a4", 1})
	b := td.ResourceSpans().AppendEmpty()
	b.Resource().Attributes().PutStr("service.name", "B")
	add(b, "s3", sp{"b1", 2})
	return td
}

func TestTraceRecords(t *testing.T) {
	type want struct {
		key, service, scope string
		spans               []string
	}
	for _, tc := range []struct {
		name    string
		td      ptrace.Traces
		want    []want
		wantErr string
	}{
		{
			name: "split per resource, scope and trace",
			td:   mixedBatch(),
			want: []want{
				{hexID(tid(1)), "A", "s1", []string{"a1", "a3"}},
				{hexID(tid(2)), "A", "s1", []string{"a2"}},
				{hexID(tid(1)), "A", "s2", []string{"a4"}},
				{hexID(tid(2)), "B", "s3", []string{"b1"}},
			},
		},
		{name: "empty batch", td: ptrace.NewTraces()},
		{
			name: "empty trace ID",
			td: func() ptrace.Traces {
				td := mixedBatch()
				td.ResourceSpans().At(1).ScopeSpans().At(0).Spans().At(0).SetTraceID(pcommon.TraceID{})
				return td
			}(),
			wantErr: `span 0 ("b1") of scope 0 of resource 1 has an empty trace ID`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := receiver.TraceRecords("otlp_spans", tc.td)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tc.want) {
				t.Fatalf("%d records, want %d", len(recs), len(tc.want))
			}
			u := ptrace.ProtoUnmarshaler{}
			for i, r := range recs {
				w := tc.want[i]
				if r.Topic != "otlp_spans" || string(r.Key) != w.key || len(r.Headers) != 0 {
					t.Fatalf("record %d: topic %q key %q headers %d, want otlp_spans %q none", i, r.Topic, r.Key, len(r.Headers), w.key)
				}
				got, err := u.UnmarshalTraces(r.Value)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if got.ResourceSpans().Len() != 1 || got.ResourceSpans().At(0).ScopeSpans().Len() != 1 {
					t.Fatalf("record %d: %d resources, want 1 with 1 scope", i, got.ResourceSpans().Len())
				}
				rs := got.ResourceSpans().At(0)
				ss := rs.ScopeSpans().At(0)
				if svc := attr(rs.Resource().Attributes(), "service.name"); svc != w.service || ss.Scope().Name() != w.scope {
					t.Fatalf("record %d: %s/%s, want %s/%s", i, svc, ss.Scope().Name(), w.service, w.scope)
				}
				orig := tc.td.ResourceSpans().At(map[string]int{"A": 0, "B": 1}[w.service])
				if rs.SchemaUrl() != orig.SchemaUrl() || ss.SchemaUrl() != "scope-schema-"+w.scope {
					t.Fatalf("record %d: schema URLs %q %q not carried over", i, rs.SchemaUrl(), ss.SchemaUrl())
				}
				var names []string
				for k := 0; k < ss.Spans().Len(); k++ {
					names = append(names, ss.Spans().At(k).Name())
				}
				if strings.Join(names, ",") != strings.Join(w.spans, ",") {
					t.Fatalf("record %d: spans %v, want %v", i, names, w.spans)
				}
			}
		})
	}
}

// TestTraceRecordsOfGenerated: a generated trace gives one record per
// service instance, each byte-identical to that instance's spans marshaled
// alone, all keyed by the trace ID.
func TestTraceRecordsOfGenerated(t *testing.T) {
	g := loadgen.New(loadgen.WithSeed(8))
	for i := range 300 {
		td := g.NextTrace(clockAt(i))
		recs, err := receiver.TraceRecords("otlp_spans", td)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != td.ResourceSpans().Len() {
			t.Fatalf("trace %d: %d records for %d resources", i, len(recs), td.ResourceSpans().Len())
		}
		id := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID()
		for k, r := range recs {
			if !hexTraceID.Match(r.Key) || string(r.Key) != hex.EncodeToString(id[:]) {
				t.Fatalf("trace %d record %d: key %q, want lowercase hex of %v", i, k, r.Key, id)
			}
			alone := ptrace.NewTraces()
			td.ResourceSpans().At(k).CopyTo(alone.ResourceSpans().AppendEmpty())
			if !bytes.Equal(r.Value, marshalTraces(t, alone)) {
				t.Fatalf("trace %d record %d: value differs from the resource's spans marshaled alone", i, k)
			}
		}
	}
}

func TestMetricsRecord(t *testing.T) {
	g := loadgen.New(loadgen.WithSeed(2))
	for i := range 50 {
		g.NextTrace(clockAt(i))
	}
	md := g.Metrics(clockAt(50))
	r, err := receiver.MetricsRecord("otlp_metrics", md)
	if err != nil {
		t.Fatal(err)
	}
	if r.Key != nil || r.Topic != "otlp_metrics" || len(r.Headers) != 0 {
		t.Fatalf("record key %q topic %q headers %d, want nil key, no headers", r.Key, r.Topic, len(r.Headers))
	}
	u := pmetric.ProtoUnmarshaler{}
	back, err := u.UnmarshalMetrics(r.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(marshalMetrics(t, back), r.Value) || back.DataPointCount() != md.DataPointCount() {
		t.Fatal("record value does not round-trip to the metrics")
	}
	if _, err := receiver.MetricsRecord("", md); err == nil {
		t.Fatal("empty topic accepted")
	}
}

func TestFNV1a32(t *testing.T) {
	for _, in := range []string{"", "a", "key1", "ключ", "0af7651916cd43dd8448eb211c80319c"} {
		h := fnv.New32a()
		h.Write([]byte(in))
		if got, want := receiver.FNV1a32([]byte(in)), h.Sum32(); got != want {
			t.Errorf("FNV1a32(%q) = %#x, hash/fnv says %#x", in, got, want)
		}
	}
}

// FuzzTraceRecords: whatever decodes as OTLP traces splits into records that
// decode again, each of one trace keyed by its ID, together holding every
// span once.
func FuzzTraceRecords(f *testing.F) {
	m := ptrace.ProtoMarshaler{}
	g := loadgen.New(loadgen.WithSeed(4), loadgen.WithErrorRate(0.5))
	for i := range 4 {
		b, _ := m.MarshalTraces(g.NextTrace(clockAt(i)))
		f.Add(b)
	}
	b, _ := m.MarshalTraces(mixedBatch())
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		u := ptrace.ProtoUnmarshaler{}
		td, err := u.UnmarshalTraces(data)
		if err != nil {
			return
		}
		recs, err := receiver.TraceRecords("otlp_spans", td)
		if err != nil {
			if !strings.Contains(err.Error(), "empty trace ID") {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		spans := 0
		for i, r := range recs {
			one, err := u.UnmarshalTraces(r.Value)
			if err != nil {
				t.Fatalf("record %d does not decode: %v", i, err)
			}
			if one.ResourceSpans().Len() != 1 || one.ResourceSpans().At(0).ScopeSpans().Len() != 1 {
				t.Fatalf("record %d: %d resources", i, one.ResourceSpans().Len())
			}
			ss := one.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
			for k := 0; k < ss.Len(); k++ {
				id := ss.At(k).TraceID()
				if string(r.Key) != hex.EncodeToString(id[:]) {
					t.Fatalf("record %d keyed %q holds a span of trace %v", i, r.Key, id)
				}
			}
			spans += ss.Len()
		}
		if spans != td.SpanCount() {
			t.Fatalf("records hold %d spans, the input %d", spans, td.SpanCount())
		}
	})
}

// t0 is an arbitrary instant; clockAt(i) is the now of the i-th trace, 5ms apart.
var t0 = time.Unix(1_760_000_000, 123_456_789)

func clockAt(i int) time.Time { return t0.Add(time.Duration(i) * 5 * time.Millisecond) }

func hexID(id pcommon.TraceID) string { return hex.EncodeToString(id[:]) }

func attr(m pcommon.Map, k string) string {
	v, _ := m.Get(k)
	return v.AsString()
}

func marshalTraces(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	m := ptrace.ProtoMarshaler{}
	b, err := m.MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func marshalMetrics(t testing.TB, md pmetric.Metrics) []byte {
	t.Helper()
	m := pmetric.ProtoMarshaler{}
	b, err := m.MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
