package tracestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

// spanSpec describes a test span; times are nanoseconds since the epoch.
type spanSpec struct {
	trace   sample.TraceID
	id      sample.SpanID
	parent  sample.SpanID
	name    string
	kind    ptrace.SpanKind
	start   int64
	end     int64
	errMsg  string // non-empty: status ERROR with this message
	attrs   map[string]any
	service string
}

// batch builds a ptrace.Traces with one resource per service (in the order
// services first appear) and one scope per resource.
func batch(specs ...spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	scopes := map[string]ptrace.SpanSlice{}
	for _, sp := range specs {
		dst, ok := scopes[sp.service]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", sp.service)
			rs.Resource().Attributes().PutStr("host.name", "node-1")
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("weir-loadgen")
			ss.Scope().SetVersion("1.0.0")
			dst = ss.Spans()
			scopes[sp.service] = dst
		}
		s := dst.AppendEmpty()
		s.SetTraceID(pcommon.TraceID(sp.trace))
		s.SetSpanID(pcommon.SpanID(sp.id))
		s.SetParentSpanID(pcommon.SpanID(sp.parent))
		s.SetName(sp.name)
		s.SetKind(sp.kind)
		s.SetStartTimestamp(pcommon.Timestamp(sp.start))
		s.SetEndTimestamp(pcommon.Timestamp(sp.end))
		if sp.errMsg != "" {
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage(sp.errMsg)
		}
		if err := s.Attributes().FromRaw(sp.attrs); err != nil {
			panic(err)
		}
	}
	return td
}

func tid(n byte) sample.TraceID {
	return sample.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, n}
}

func sid(n byte) sample.SpanID { return sample.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, n} }

const t0 = int64(1_700_000_000_000_000_000) // ns

func spanNames(t *testing.T, s *Store, id sample.TraceID) []string {
	t.Helper()
	td, ok := s.Trace(id)
	if !ok {
		t.Fatalf("trace %s not found", id)
	}
	var names []string
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				names = append(names, spans.At(k).Name())
			}
		}
	}
	slices.Sort(names)
	return names
}

func mustWrite(t *testing.T, s *Store, td ptrace.Traces) {
	t.Helper()
	if err := s.WriteTraces(context.Background(), td); err != nil {
		t.Fatalf("WriteTraces: %v", err)
	}
}

func TestWriteTracesMergesCalls(t *testing.T) {
	s := New()
	id := tid(1)
	mustWrite(t, s, batch(spanSpec{trace: id, id: sid(1), name: "GET /checkout", service: "frontend", start: t0, end: t0 + 5e6}))
	mustWrite(t, s, batch(spanSpec{trace: id, id: sid(2), parent: sid(1), name: "call checkout", service: "frontend", start: t0 + 1e6, end: t0 + 4e6}))
	mustWrite(t, s, batch(
		spanSpec{trace: id, id: sid(3), parent: sid(2), name: "Checkout", service: "checkout", start: t0 + 2e6, end: t0 + 3e6},
		spanSpec{trace: tid(2), id: sid(1), name: "other", service: "checkout", start: t0, end: t0 + 1},
	))

	if got, want := spanNames(t, s, id), []string{"Checkout", "GET /checkout", "call checkout"}; !slices.Equal(got, want) {
		t.Errorf("spans = %q, want %q", got, want)
	}
	td, _ := s.Trace(id)
	// Spans of one process written in two calls share one resource entry.
	if n := td.ResourceSpans().Len(); n != 2 {
		t.Errorf("resource entries = %d, want 2 (frontend, checkout)", n)
	}
	if st := s.Stats(); st.Traces != 2 || st.Spans != 4 || st.SpansWritten != 4 {
		t.Errorf("stats = %+v, want 2 traces, 4 spans", st)
	}
}

func TestWriteTracesDedupe(t *testing.T) {
	s := New()
	id := tid(1)
	root := spanSpec{trace: id, id: sid(1), name: "root", service: "frontend", start: t0, end: t0 + 10}
	child := spanSpec{trace: id, id: sid(2), parent: sid(1), name: "child", service: "frontend", start: t0, end: t0 + 5}
	mustWrite(t, s, batch(root, child))
	mustWrite(t, s, batch(root, child))                                                        // a replay
	mustWrite(t, s, batch(spanSpec{trace: id, id: sid(2), name: "renamed", service: "other"})) // same span ID again
	mustWrite(t, s, batch(spanSpec{trace: id, id: sid(3), name: "late", service: "frontend"}, spanSpec{trace: id, id: sid(3), name: "late", service: "frontend"}))

	if got, want := spanNames(t, s, id), []string{"child", "late", "root"}; !slices.Equal(got, want) {
		t.Errorf("spans = %q, want %q", got, want)
	}
	if st := s.Stats(); st.Spans != 3 || st.SpansDup != 4 {
		t.Errorf("stats = %+v, want 3 spans held, 4 duplicates dropped", st)
	}
	// The refused duplicate did not add its service to the trace.
	if got := services(t, s); !slices.Equal(got, []string{"frontend"}) {
		t.Errorf("services = %q, want [frontend]", got)
	}
}

func services(t *testing.T, s *Store) []string {
	t.Helper()
	var resp struct{ Data []string }
	code, body := get(t, s.Handler(), "/api/services")
	if err := jsonUnmarshal(body, &resp); err != nil || code != 200 {
		t.Fatalf("/api/services: %d %s (%v)", code, body, err)
	}
	return resp.Data
}

func TestEvictionBound(t *testing.T) {
	const max = 3
	reg := prometheus.NewRegistry()
	s := New(WithMaxTraces(max), WithRegisterer(reg))
	for i := range byte(5) {
		mustWrite(t, s, batch(
			spanSpec{trace: tid(i), id: sid(1), name: "root", service: fmt.Sprintf("svc-%d", i), start: t0 + int64(i)},
			spanSpec{trace: tid(i), id: sid(2), name: "child", service: "shared", start: t0 + int64(i)},
		))
	}
	for i := range byte(5) {
		_, ok := s.Trace(tid(i))
		if want := i >= 5-max; ok != want {
			t.Errorf("trace %d held = %v, want %v", i, ok, want)
		}
	}
	st := s.Stats()
	if st.Traces != max || st.Spans != 2*max || st.Evicted != 2 {
		t.Errorf("stats = %+v, want %d traces, %d spans, 2 evicted", st, max, 2*max)
	}
	if got, want := services(t, s), []string{"shared", "svc-2", "svc-3", "svc-4"}; !slices.Equal(got, want) {
		t.Errorf("services = %q, want %q (those of evicted traces gone)", got, want)
	}
	if got := gathered(t, reg, "weir_tracestore_traces_evicted_total"); got != 2 {
		t.Errorf("weir_tracestore_traces_evicted_total = %v, want 2", got)
	}

	// Eviction is by first write: more spans of the oldest trace do not save it.
	mustWrite(t, s, batch(spanSpec{trace: tid(2), id: sid(3), name: "late", service: "shared"}))
	mustWrite(t, s, batch(spanSpec{trace: tid(9), id: sid(1), name: "new", service: "shared"}))
	if _, ok := s.Trace(tid(2)); ok {
		t.Error("the first-written trace survived an eviction because it got a late span")
	}
	if _, ok := s.Trace(tid(3)); !ok {
		t.Error("a newer trace was evicted before the oldest one")
	}

	// One write bringing more new traces than the bound keeps the last ones.
	var specs []spanSpec
	for i := range byte(2 * max) {
		specs = append(specs, spanSpec{trace: tid(100 + i), id: sid(1), name: "burst", service: "burst"})
	}
	mustWrite(t, s, batch(specs...))
	for i := range byte(2 * max) {
		if _, ok := s.Trace(tid(100 + i)); ok != (i >= max) {
			t.Errorf("burst trace %d held = %v, want %v", i, ok, i >= max)
		}
	}
	if st := s.Stats(); st.Traces != max || st.Spans != max {
		t.Errorf("after the burst: %+v, want %d traces of one span", st, max)
	}
	checkEvictedRemembered(t, s, max)
}

// checkEvictedRemembered: the store tells evicted traces from traces it
// never had, over its API too.
func checkEvictedRemembered(t *testing.T, s *Store, max int) {
	t.Helper()
	for i := range byte(max) {
		if !s.Evicted(tid(i)) || !s.Evicted(tid(100+i)) {
			t.Errorf("trace %d or burst trace %d, evicted, is not known as evicted", i, i)
		}
		if s.Evicted(tid(100 + byte(max) + i)) {
			t.Errorf("burst trace %d, held, is known as evicted", int(i)+max)
		}
	}
	if s.Evicted(tid(77)) {
		t.Error("a trace never written is known as evicted")
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for id, want := range map[sample.TraceID]string{tid(100): "trace evicted from the trace store", tid(77): "trace not found"} {
		resp, err := http.Get(srv.URL + "/api/traces/" + id.String())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), want) {
			t.Errorf("trace %s: HTTP %d %s, want 404 saying %q", id, resp.StatusCode, b, want)
		}
	}
}

func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestEmptyTraceIDRefused(t *testing.T) {
	s := New()
	err := s.WriteTraces(context.Background(), batch(
		spanSpec{trace: tid(1), id: sid(1), name: "good", service: "a"},
		spanSpec{id: sid(2), name: "no-trace", service: "a"},
	))
	if !errors.Is(err, ErrEmptyTraceID) || !strings.Contains(err.Error(), `"no-trace"`) || !strings.Contains(err.Error(), sid(2).String()) {
		t.Fatalf("err = %v, want ErrEmptyTraceID naming span \"no-trace\" %s", err, sid(2))
	}
	if got := spanNames(t, s, tid(1)); !slices.Equal(got, []string{"good"}) {
		t.Errorf("spans of the valid trace = %q, want [good]", got)
	}
	if st := s.Stats(); st.SpansRejected != 1 || st.Traces != 1 {
		t.Errorf("stats = %+v, want 1 rejected, 1 trace", st)
	}
}

func TestWriteCanceled(t *testing.T) {
	s := New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.WriteTraces(ctx, batch(spanSpec{trace: tid(1), id: sid(1), service: "a"})); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if st := s.Stats(); st.Traces != 0 {
		t.Errorf("a canceled write stored %d traces", st.Traces)
	}
}

func TestTraceIsACopy(t *testing.T) {
	s := New()
	in := batch(spanSpec{trace: tid(1), id: sid(1), name: "root", service: "a"})
	mustWrite(t, s, in)
	in.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetName("changed by the writer")
	out, _ := s.Trace(tid(1))
	out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetName("changed by the reader")
	if got := spanNames(t, s, tid(1)); !slices.Equal(got, []string{"root"}) {
		t.Errorf("stored span renamed through a shared reference: %q", got)
	}
	if _, ok := s.Trace(tid(2)); ok {
		t.Error("Trace of an unknown ID reported found")
	}
}

func TestConcurrentWritesAndReads(t *testing.T) {
	s := New(WithMaxTraces(50))
	h := s.Handler()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				id := tid(byte(i % 64))
				id[0] = byte(w)
				_ = s.WriteTraces(context.Background(), batch(spanSpec{trace: id, id: sid(byte(i)), name: "op", service: "svc"}))
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 100 {
				get(t, h, "/api/traces?service=svc&limit=5")
				get(t, h, "/api/services")
				s.Trace(tid(1))
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if st.Traces != 50 {
		t.Errorf("traces = %d, want the bound 50", st.Traces)
	}
	// The span count kept beside the traces matches the traces.
	var held int64
	for w := range byte(4) {
		for i := range byte(64) {
			id := tid(i)
			id[0] = w
			if td, ok := s.Trace(id); ok {
				held += int64(td.SpanCount())
			}
		}
	}
	if held != st.Spans {
		t.Errorf("spans in the held traces = %d, Stats.Spans = %d", held, st.Spans)
	}
}

// TestByteBound: the store evicts the oldest traces to stay within its byte
// bound, and remembers which it evicted.
func TestByteBound(t *testing.T) {
	s := New(WithMaxBytes(100 * (traceBytes + 2*spanBytes)))
	ctx := context.Background()
	var ids []sample.TraceID
	for i := range 300 {
		td := ptrace.NewTraces()
		spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
		id := sample.TraceID{byte(i), byte(i >> 8), 1}
		ids = append(ids, id)
		for j := range 2 {
			sp := spans.AppendEmpty()
			sp.SetTraceID(pcommon.TraceID(id))
			sp.SetSpanID(pcommon.SpanID{byte(j + 1)})
		}
		if err := s.WriteTraces(ctx, td); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Traces > 100 || st.Traces < 90 || st.Evicted != uint64(300-st.Traces) {
		t.Fatalf("%d traces held, %d evicted: want about 100 held within the bound", st.Traces, st.Evicted)
	}
	if !s.Evicted(ids[0]) || s.Evicted(ids[299]) || s.Evicted(sample.TraceID{9, 9, 9}) {
		t.Fatalf("Evicted: first %v (want true), last %v (want false), unknown %v (want false)", s.Evicted(ids[0]), s.Evicted(ids[299]), s.Evicted(sample.TraceID{9, 9, 9}))
	}
}

// TestEvictedBounded: the store forgets the oldest evicted IDs beyond
// evictedMemory, and a trace written again is not evicted any more.
func TestEvictedBounded(t *testing.T) {
	s := New(WithMaxTraces(1))
	id := func(i int) sample.TraceID { return sample.TraceID{1, byte(i >> 16), byte(i >> 8), byte(i)} }
	n := evictedMemory + 10
	for i := range n + 1 {
		mustWrite(t, s, batch(spanSpec{trace: id(i), id: sid(1), name: "x", service: "s"}))
	}
	for _, tc := range []struct {
		i    int
		want bool
	}{{0, false}, {9, false}, {10, true}, {n - 1, true}, {n, false}} {
		if got := s.Evicted(id(tc.i)); got != tc.want {
			t.Errorf("trace %d of %d evicted: Evicted %v, want %v", tc.i, n+1, got, tc.want)
		}
	}
	mustWrite(t, s, batch(spanSpec{trace: id(n - 1), id: sid(1), name: "x", service: "s"}))
	if s.Evicted(id(n - 1)) {
		t.Error("a trace written again after its eviction is still reported evicted")
	}
}
