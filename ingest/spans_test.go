package ingest

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

func TestSpanConvert(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr("deployment.environment", "prod")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	add := func(trace int, name string, kind ptrace.SpanKind, code ptrace.StatusCode, start, end time.Duration, attrs map[string]string) {
		s := spans.AppendEmpty()
		s.SetTraceID(traceID(trace))
		s.SetSpanID(spanID(trace, 1))
		s.SetName(name)
		s.SetKind(kind)
		s.Status().SetCode(code)
		s.SetStartTimestamp(ts(start))
		s.SetEndTimestamp(ts(end))
		for k, v := range attrs {
			s.Attributes().PutStr(k, v)
		}
	}
	add(1, "GET /cart", ptrace.SpanKindServer, ptrace.StatusCodeOk, 0, 250*time.Millisecond, map[string]string{"http.route": "/cart"})
	add(2, "SELECT", ptrace.SpanKindClient, ptrace.StatusCodeError, time.Second, 1500*time.Millisecond,
		map[string]string{"deployment.environment": "canary"}) // Span attribute wins over resource.
	add(3, "tick", ptrace.SpanKindInternal, ptrace.StatusCodeUnset, 3*time.Second, 2*time.Second, nil) // End before start.
	add(4, "GET /cart", ptrace.SpanKindServer, ptrace.StatusCodeOk, 0, time.Second, map[string]string{"http.route": "/cart"})

	c := NewSpanConverter(SpanDimensions("http.route", "deployment.environment", "absent"))
	var got []sample.Point
	c.Convert(td, 7, "acme", collect(&got))

	base := func(name, kind, status string, kv ...string) labels.Labels {
		return labels.FromStrings(append([]string{"__name__", "span_duration_seconds", "service_name", "checkout",
			"span_name", name, "span_kind", kind, "status_code", status}, kv...)...)
	}
	obs := func(trace int, l labels.Labels, end time.Duration, v float64) sample.Point {
		return sample.Point{Labels: l, Tenant: "acme", Kind: sample.Observation, T: ms(end), V: v, Count: 1,
			Exemplar: sample.Exemplar{TraceID: sample.TraceID(traceID(trace)), SpanID: sample.SpanID(spanID(trace, 1)), Value: v, T: ms(end), Partition: 7}}
	}
	checkPoints(t, got, []sample.Point{
		obs(1, base("GET /cart", "SPAN_KIND_SERVER", "STATUS_CODE_OK", "http_route", "/cart", "deployment_environment", "prod"), 250*time.Millisecond, 0.25),
		obs(2, base("SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_ERROR", "deployment_environment", "canary"), 1500*time.Millisecond, 0.5),
		obs(3, base("tick", "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET", "deployment_environment", "prod"), 2*time.Second, 0),
		obs(4, base("GET /cart", "SPAN_KIND_SERVER", "STATUS_CODE_OK", "http_route", "/cart", "deployment_environment", "prod"), time.Second, 1),
	})
}

// The label cache must key on every input: spans that differ only in one
// dimension, kind or status get their own labels.
func TestSpanLabelCacheKeys(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "a")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i, v := range []struct {
		route string
		kind  ptrace.SpanKind
		code  ptrace.StatusCode
	}{
		{"/x", ptrace.SpanKindServer, ptrace.StatusCodeOk},
		{"/y", ptrace.SpanKindServer, ptrace.StatusCodeOk},
		{"/x", ptrace.SpanKindClient, ptrace.StatusCodeOk},
		{"/x", ptrace.SpanKindServer, ptrace.StatusCodeError},
		{"", ptrace.SpanKindServer, ptrace.StatusCodeOk},
		{"/x", ptrace.SpanKindServer, ptrace.StatusCodeOk},
		{"/x", ptrace.SpanKind(42), ptrace.StatusCodeOk},
	} {
		s := spans.AppendEmpty()
		s.SetTraceID(traceID(i))
		s.SetName("op")
		s.SetKind(v.kind)
		s.Status().SetCode(v.code)
		if v.route != "" {
			s.Attributes().PutStr("route", v.route)
		}
	}
	c := NewSpanConverter(SpanDimensions("route"))
	c.cfg.maxSpanCache = 4 // Also exercises the clearing of a full cache.
	var got []sample.Point
	for range 2 {
		got = got[:0]
		c.Convert(td, 0, "", collect(&got))
		want := []string{
			`{__name__="span_duration_seconds", route="/x", service_name="a", span_kind="SPAN_KIND_SERVER", span_name="op", status_code="STATUS_CODE_OK"}`,
			`{__name__="span_duration_seconds", route="/y", service_name="a", span_kind="SPAN_KIND_SERVER", span_name="op", status_code="STATUS_CODE_OK"}`,
			`{__name__="span_duration_seconds", route="/x", service_name="a", span_kind="SPAN_KIND_CLIENT", span_name="op", status_code="STATUS_CODE_OK"}`,
			`{__name__="span_duration_seconds", route="/x", service_name="a", span_kind="SPAN_KIND_SERVER", span_name="op", status_code="STATUS_CODE_ERROR"}`,
			`{__name__="span_duration_seconds", service_name="a", span_kind="SPAN_KIND_SERVER", span_name="op", status_code="STATUS_CODE_OK"}`,
			`{__name__="span_duration_seconds", route="/x", service_name="a", span_kind="SPAN_KIND_SERVER", span_name="op", status_code="STATUS_CODE_OK"}`,
			`{__name__="span_duration_seconds", route="/x", service_name="a", span_name="op", status_code="STATUS_CODE_OK"}`,
		}
		if len(got) != len(want) {
			t.Fatalf("got %d points, want %d", len(got), len(want))
		}
		for i, p := range got {
			if p.Labels.String() != want[i] {
				t.Errorf("span %d: labels %s, want %s", i, p.Labels, want[i])
			}
		}
	}
	if len(c.cache) > 4 {
		t.Errorf("cache holds %d entries, bound 4", len(c.cache))
	}
}
