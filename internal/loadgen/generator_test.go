package loadgen

import (
	"bytes"
	"math"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// t0 is an arbitrary instant with a sub-microsecond part, to check truncation.
var t0 = time.Unix(1_760_000_000, 123_456_789)

// clockAt returns the now of the i-th trace of a run: 5ms apart.
func clockAt(i int) time.Time { return t0.Add(time.Duration(i) * 5 * time.Millisecond) }

type flatSpan struct {
	span    ptrace.Span
	service string
	res     pcommon.Resource
}

func flatten(td ptrace.Traces) []flatSpan {
	var out []flatSpan
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		svc, _ := rs.Resource().Attributes().Get("service.name")
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			spans := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				out = append(out, flatSpan{span: spans.At(k), service: svc.Str(), res: rs.Resource()})
			}
		}
	}
	return out
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

func TestDeterminism(t *testing.T) {
	run := func(seed uint64) (traces [][]byte, metrics []byte) {
		g := New(WithSeed(seed))
		for i := range 300 {
			traces = append(traces, marshalTraces(t, g.NextTrace(clockAt(i))))
		}
		return traces, marshalMetrics(t, g.Metrics(clockAt(300)))
	}
	a, am := run(42)
	b, bm := run(42)
	c, cm := run(43)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("seed 42: trace %d differs between two generators", i)
		}
	}
	if !bytes.Equal(am, bm) {
		t.Fatal("seed 42: metrics differ between two generators")
	}
	same := 0
	for i := range a {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same != 0 || bytes.Equal(am, cm) {
		t.Fatalf("seeds 42 and 43: %d identical traces, identical metrics %v", same, bytes.Equal(am, cm))
	}
}

// TestMetricsDoNotShiftTraces: collecting metrics between traces draws from
// other random streams, so the traces of a seed stay the same.
func TestMetricsDoNotShiftTraces(t *testing.T) {
	a, b := New(WithSeed(7)), New(WithSeed(7))
	for i := range 200 {
		if i%10 == 0 {
			b.Metrics(clockAt(i))
		}
		if !bytes.Equal(marshalTraces(t, a.NextTrace(clockAt(i))), marshalTraces(t, b.NextTrace(clockAt(i)))) {
			t.Fatalf("trace %d differs when metrics are collected in between", i)
		}
	}
}

func TestTraceInvariants(t *testing.T) {
	g := New(WithSeed(1), WithErrorRate(0.2)) // many failures, to check their shape too
	routes := map[string]int{}
	for i := range 5000 {
		now := clockAt(i)
		td := g.NextTrace(now)
		spans := flatten(td)
		if n := len(spans); n < 4 || n > 15 {
			t.Fatalf("trace %d: %d spans, want 4-15", i, n)
		}
		tid := spans[0].span.TraceID()
		if tid.IsEmpty() {
			t.Fatalf("trace %d: empty trace ID", i)
		}
		byID := map[pcommon.SpanID]ptrace.Span{}
		var root ptrace.Span
		roots := 0
		for _, fs := range spans {
			s := fs.span
			if s.TraceID() != tid {
				t.Fatalf("trace %d: span %q has trace ID %v, want %v", i, s.Name(), s.TraceID(), tid)
			}
			if s.SpanID().IsEmpty() {
				t.Fatalf("trace %d: span %q has an empty span ID", i, s.Name())
			}
			if _, dup := byID[s.SpanID()]; dup {
				t.Fatalf("trace %d: span ID %v twice", i, s.SpanID())
			}
			byID[s.SpanID()] = s
			if s.ParentSpanID().IsEmpty() {
				root = s
				roots++
			}
			st, en := int64(s.StartTimestamp()), int64(s.EndTimestamp())
			if st%1000 != 0 || en%1000 != 0 || en <= st {
				t.Fatalf("trace %d: span %q [%d, %d] is not whole positive microseconds", i, s.Name(), st, en)
			}
			if en > now.UnixNano() {
				t.Fatalf("trace %d: span %q ends at %d, after now %d", i, s.Name(), en, now.UnixNano())
			}
			for _, k := range []string{"service.name", "service.version", "host.name"} {
				if _, ok := fs.res.Attributes().Get(k); !ok {
					t.Fatalf("trace %d: resource of span %q lacks %s", i, s.Name(), k)
				}
			}
			if s.Kind() == ptrace.SpanKindServer {
				for _, k := range []string{"http.route", "http.request.method", "http.response.status_code"} {
					if _, ok := s.Attributes().Get(k); !ok {
						t.Fatalf("trace %d: server span %q lacks %s", i, s.Name(), k)
					}
				}
			}
		}
		if roots != 1 {
			t.Fatalf("trace %d: %d root spans", i, roots)
		}
		if root.EndTimestamp() != pcommon.Timestamp(now.UnixNano()/1000*1000) {
			t.Fatalf("trace %d: root ends at %v, want now truncated to µs", i, root.EndTimestamp())
		}
		routes[root.Name()]++
		for _, fs := range spans {
			s := fs.span
			if s.ParentSpanID().IsEmpty() {
				continue
			}
			p, ok := byID[s.ParentSpanID()]
			if !ok {
				t.Fatalf("trace %d: span %q has a parent not in the trace", i, s.Name())
			}
			if s.StartTimestamp() < p.StartTimestamp() || s.EndTimestamp() > p.EndTimestamp() {
				t.Fatalf("trace %d: span %q [%d, %d] outside its parent %q [%d, %d]", i, s.Name(),
					s.StartTimestamp(), s.EndTimestamp(), p.Name(), p.StartTimestamp(), p.EndTimestamp())
			}
			if s.Status().Code() == ptrace.StatusCodeError && p.Status().Code() != ptrace.StatusCodeError {
				t.Fatalf("trace %d: span %q failed but its parent %q did not", i, s.Name(), p.Name())
			}
		}
		// A failed trace has exactly one origin: a failed span with an
		// exception event and no failed child.
		if root.Status().Code() == ptrace.StatusCodeError {
			origins := 0
			for _, fs := range spans {
				if fs.span.Events().Len() > 0 {
					origins++
					if fs.span.Status().Code() != ptrace.StatusCodeError || fs.span.Events().At(0).Name() != "exception" {
						t.Fatalf("trace %d: span %q has an event but is not a failure origin", i, fs.span.Name())
					}
				}
			}
			if origins != 1 {
				t.Fatalf("trace %d failed with %d exception events, want 1", i, origins)
			}
		}
	}
	for _, r := range []string{"GET /api/search", "GET /api/cart", "POST /api/checkout", "GET /api/orders/{id}"} {
		if routes[r] == 0 {
			t.Errorf("no trace of route %s in 5000", r)
		}
	}
}

// TestParentCoversChildren checks the stronger form: a parent is at least
// as long as the union of its children's intervals, and as long as the sum
// of those that do not overlap (sequential calls).
func TestParentCoversChildren(t *testing.T) {
	g := New(WithSeed(3))
	for i := range 2000 {
		spans := flatten(g.NextTrace(clockAt(i)))
		kids := map[pcommon.SpanID][]ptrace.Span{}
		byID := map[pcommon.SpanID]ptrace.Span{}
		for _, fs := range spans {
			byID[fs.span.SpanID()] = fs.span
			kids[fs.span.ParentSpanID()] = append(kids[fs.span.ParentSpanID()], fs.span)
		}
		for pid, cs := range kids {
			if pid.IsEmpty() {
				continue
			}
			p := byID[pid]
			slices.SortFunc(cs, func(a, b ptrace.Span) int { return int(a.StartTimestamp()) - int(b.StartTimestamp()) })
			var union, end int64
			for _, c := range cs {
				st, en := int64(c.StartTimestamp()), int64(c.EndTimestamp())
				if st >= end {
					union += en - st
				} else if en > end {
					union += en - end
				}
				end = max(end, en)
			}
			if d := int64(p.EndTimestamp() - p.StartTimestamp()); d < union {
				t.Fatalf("trace %d: %q lasts %dns, its children cover %dns", i, p.Name(), d, union)
			}
		}
	}
}

func TestErrorRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64
	}{
		{"none", 0},
		{"default", DefaultErrorRate},
		{"high", 0.1},
		{"all", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New(WithSeed(11), WithErrorRate(tc.rate))
			const n = 20000
			failed := 0
			for i := range n {
				td := g.NextTrace(clockAt(i))
				for _, fs := range flatten(td) {
					if fs.span.ParentSpanID().IsEmpty() && fs.span.Status().Code() == ptrace.StatusCodeError {
						failed++
					}
				}
			}
			got := float64(failed) / n
			// Binomial: allow 5 standard deviations (the seed is fixed, so
			// this is a check of the model, not a flaky bound).
			tol := 5 * math.Sqrt(tc.rate*(1-tc.rate)/n)
			if math.Abs(got-tc.rate) > tol {
				t.Fatalf("failed share %.4f, want %.4f ± %.4f", got, tc.rate, tol)
			}
		})
	}
}

// TestLatencyTail checks the slow tail: a small share of requests is several
// times slower than the typical request of its route.
func TestLatencyTail(t *testing.T) {
	g := New(WithSeed(5), WithErrorRate(0))
	durs := map[string][]int64{}
	for i := range 30000 {
		for _, fs := range flatten(g.NextTrace(clockAt(i))) {
			if s := fs.span; s.ParentSpanID().IsEmpty() {
				durs[s.Name()] = append(durs[s.Name()], int64(s.EndTimestamp()-s.StartTimestamp()))
			}
		}
	}
	slow, total := 0, 0
	for route, ds := range durs {
		slices.Sort(ds)
		med := ds[len(ds)/2]
		if ds[len(ds)-1] < 20*med {
			t.Errorf("%s: slowest %dns is under 20x the median %dns: no outlier", route, ds[len(ds)-1], med)
		}
		for _, d := range ds {
			if d > 4*med {
				slow++
			}
		}
		total += len(ds)
	}
	if share := float64(slow) / float64(total); share < 0.003 || share > 0.03 {
		t.Fatalf("share of requests over 4x their route's median: %.4f, want 0.3%%-3%%", share)
	}
}
