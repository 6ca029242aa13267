package tracestore

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func get(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func jsonUnmarshal(body string, v any) error { return json.Unmarshal([]byte(body), v) }

func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("expected JSON does not parse: %v", err)
	}
	return b.String()
}

// nestedTrace writes frontend GET /checkout -> frontend POST checkout ->
// checkout Checkout (an error), the deepest span first, in its own call.
func nestedTrace(t *testing.T, s *Store) {
	t.Helper()
	id := tid(1)
	leaf := batch(spanSpec{trace: id, id: sid(3), parent: sid(2), name: "Checkout", kind: ptrace.SpanKindServer,
		service: "checkout", start: t0 + 2_000_000, end: t0 + 3_000_000, errMsg: "card declined",
		attrs: map[string]any{"items": []any{"a", "b"}}})
	ev := leaf.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(pcommon.Timestamp(t0 + 2_500_000))
	ev.Attributes().PutStr("exception.type", "CardError")
	mustWrite(t, s, leaf)
	mustWrite(t, s, batch(
		spanSpec{trace: id, id: sid(1), name: "GET /checkout", kind: ptrace.SpanKindServer, service: "frontend",
			start: t0, end: t0 + 5_000_999, attrs: map[string]any{"http.status_code": 200, "http.method": "GET"}},
		spanSpec{trace: id, id: sid(2), parent: sid(1), name: "POST checkout", kind: ptrace.SpanKindClient, service: "frontend",
			start: t0 + 1_000_000, end: t0 + 4_000_000, attrs: map[string]any{"retry": true, "ratio": 0.25, "big": int64(1) << 60}},
	))
}

// The Jaeger JSON of nestedTrace. Durations are truncated microseconds
// (5000999 ns -> 5000 µs); tags come in Jaeger's order; processes are
// numbered in order of first appearance.
const nestedTraceJSON = `{"data":[{"traceID":"0af7651916cd43dd8448eb211c803101","spans":[
 {"traceID":"0af7651916cd43dd8448eb211c803101","spanID":"b7ad6b7169203303","flags":1,"operationName":"Checkout",
  "references":[{"refType":"CHILD_OF","traceID":"0af7651916cd43dd8448eb211c803101","spanID":"b7ad6b7169203302"}],
  "startTime":1700000000002000,"duration":1000,
  "tags":[{"key":"otel.scope.name","type":"string","value":"weir-loadgen"},{"key":"otel.scope.version","type":"string","value":"1.0.0"},
   {"key":"items","type":"string","value":"[\"a\",\"b\"]"},{"key":"span.kind","type":"string","value":"server"},
   {"key":"otel.status_code","type":"string","value":"ERROR"},{"key":"error","type":"bool","value":true},
   {"key":"otel.status_description","type":"string","value":"card declined"}],
  "logs":[{"timestamp":1700000000002500,"fields":[{"key":"event","type":"string","value":"exception"},{"key":"exception.type","type":"string","value":"CardError"}]}],
  "processID":"p1","warnings":null},
 {"traceID":"0af7651916cd43dd8448eb211c803101","spanID":"b7ad6b7169203301","flags":1,"operationName":"GET /checkout",
  "references":[],"startTime":1700000000000000,"duration":5000,
  "tags":[{"key":"otel.scope.name","type":"string","value":"weir-loadgen"},{"key":"otel.scope.version","type":"string","value":"1.0.0"},
   {"key":"http.method","type":"string","value":"GET"},{"key":"http.status_code","type":"int64","value":200},
   {"key":"span.kind","type":"string","value":"server"}],
  "logs":[],"processID":"p2","warnings":null},
 {"traceID":"0af7651916cd43dd8448eb211c803101","spanID":"b7ad6b7169203302","flags":1,"operationName":"POST checkout",
  "references":[{"refType":"CHILD_OF","traceID":"0af7651916cd43dd8448eb211c803101","spanID":"b7ad6b7169203301"}],
  "startTime":1700000000001000,"duration":3000,
  "tags":[{"key":"otel.scope.name","type":"string","value":"weir-loadgen"},{"key":"otel.scope.version","type":"string","value":"1.0.0"},
   {"key":"big","type":"int64","value":"1152921504606846976"},{"key":"ratio","type":"float64","value":0.25},{"key":"retry","type":"bool","value":true},
   {"key":"span.kind","type":"string","value":"client"}],
  "logs":[],"processID":"p2","warnings":null}],
 "processes":{"p1":{"serviceName":"checkout","tags":[{"key":"host.name","type":"string","value":"node-1"}]},
  "p2":{"serviceName":"frontend","tags":[{"key":"host.name","type":"string","value":"node-1"}]}},
 "warnings":null}],"total":0,"limit":0,"offset":0,"errors":null}`

func TestAPIGetTrace(t *testing.T) {
	s := New()
	nestedTrace(t, s)
	h := s.Handler()
	want := compact(t, nestedTraceJSON)
	for _, path := range []string{
		"/api/traces/0af7651916cd43dd8448eb211c803101",
		"/api/traces/0AF7651916CD43DD8448EB211C803101",
	} {
		code, body := get(t, h, path)
		if code != http.StatusOK || body != want {
			t.Errorf("GET %s: %d\n%s\nwant 200\n%s", path, code, body, want)
		}
	}
	// prettyPrint indents the same document.
	_, pretty := get(t, h, "/api/traces/0af7651916cd43dd8448eb211c803101?prettyPrint=true")
	if !strings.Contains(pretty, "\n    \"data\"") || compact(t, pretty) != want {
		t.Errorf("prettyPrint: %s", pretty)
	}
}

func TestAPIGetTraceShortID(t *testing.T) {
	s := New()
	// A trace ID with a zero high half: Jaeger writes and reads it as 16 digits.
	id := tid(7)
	copy(id[:8], make([]byte, 8))
	mustWrite(t, s, batch(spanSpec{trace: id, id: sid(1), name: "op", service: "a"}))
	code, body := get(t, s.Handler(), "/api/traces/8448eb211c803107")
	if code != http.StatusOK || !strings.Contains(body, `"traceID":"8448eb211c803107","spans"`) {
		t.Errorf("%d %s", code, body)
	}
}

func TestAPIErrors(t *testing.T) {
	s := New()
	nestedTrace(t, s)
	h := s.Handler()
	tests := []struct {
		path string
		code int
		msg  string
	}{
		{"/api/traces/0af7651916cd43dd8448eb211c803199", 404, "trace not found"},
		{"/api/traces/1", 404, "trace not found"},
		{"/api/traces/xyz", 400, `malformed trace ID "xyz": 'x' at offset 0 is not a hex digit`},
		{"/api/traces/0af7651916cd43dd8448eb211c80310100", 400, `malformed trace ID "0af7651916cd43dd8448eb211c80310100": longer than 32 hex digits`},
		{"/api/traces/0x12", 400, `malformed trace ID "0x12": 'x' at offset 1 is not a hex digit`},
		{"/api/traces/%20", 400, `malformed trace ID " ": ' ' at offset 0 is not a hex digit`},
		{"/api/traces", 400, "parameter 'service' is required"},
		{"/api/traces?service=frontend&limit=ten", 400, `unable to parse param 'limit': strconv.ParseInt: parsing "ten": invalid syntax`},
		{"/api/traces?service=frontend&start=yesterday", 400, "unable to parse param 'start'"},
		{"/api/traces?service=frontend&minDuration=5", 400, "unable to parse param 'minDuration'"},
		{"/api/traces?service=frontend&minDuration=5ms&maxDuration=1ms", 400, "'maxDuration' should be greater than 'minDuration'"},
		{"/api/operations", 400, "parameter 'service' is required"},
	}
	for _, tt := range tests {
		code, body := get(t, h, tt.path)
		var resp struct {
			Data   any `json:"data"`
			Errors []struct {
				Code int    `json:"code"`
				Msg  string `json:"msg"`
			} `json:"errors"`
		}
		if err := jsonUnmarshal(body, &resp); err != nil {
			t.Errorf("%s: body %q: %v", tt.path, body, err)
			continue
		}
		if code != tt.code || resp.Data != nil || len(resp.Errors) != 1 || resp.Errors[0].Code != tt.code || !strings.HasPrefix(resp.Errors[0].Msg, tt.msg) {
			t.Errorf("%s: %d %s\nwant %d with message %q", tt.path, code, body, tt.code, tt.msg)
		}
	}
	// Jaeger's exact not-found answer.
	_, body := get(t, h, "/api/traces/0af7651916cd43dd8448eb211c803199")
	if want := `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}` + "\n"; body != want {
		t.Errorf("404 body %q, want %q", body, want)
	}
}

func TestAPISearch(t *testing.T) {
	s := New()
	// Four frontend traces 1s apart, written newest first; the third calls checkout.
	for i := range byte(4) {
		start := t0 + int64(i)*1e9
		specs := []spanSpec{{trace: tid(10 + i), id: sid(1), name: "GET /", kind: ptrace.SpanKindServer, service: "frontend", start: start, end: start + int64(i+1)*1e6}}
		if i == 2 {
			specs = append(specs, spanSpec{trace: tid(10 + i), id: sid(2), parent: sid(1), name: "Checkout", kind: ptrace.SpanKindServer, service: "checkout", start: start, end: start + 1e6})
		}
		mustWrite(t, s, batch(specs...))
	}
	h := s.Handler()
	tests := []struct {
		query string
		want  []string // trace IDs, most recent first
	}{
		{"service=frontend", []string{tid(13).String(), tid(12).String(), tid(11).String(), tid(10).String()}},
		{"service=frontend&limit=2", []string{tid(13).String(), tid(12).String()}},
		{"service=checkout", []string{tid(12).String()}},
		{"service=frontend&operation=Checkout", nil}, // the span of that name is not frontend's
		{"service=checkout&operation=Checkout", []string{tid(12).String()}},
		{"service=frontend&start=1700000001000000&end=1700000002000000", []string{tid(12).String(), tid(11).String()}},
		{"service=frontend&minDuration=2ms&maxDuration=3ms", []string{tid(12).String(), tid(11).String()}},
		{"service=nobody", nil},
	}
	for _, tt := range tests {
		code, body := get(t, h, "/api/traces?"+tt.query)
		var resp struct {
			Data []struct {
				TraceID string `json:"traceID"`
			} `json:"data"`
			Total, Limit, Offset int
			Errors               []any
		}
		if err := jsonUnmarshal(body, &resp); err != nil || code != http.StatusOK {
			t.Errorf("%s: %d %s (%v)", tt.query, code, body, err)
			continue
		}
		var got []string
		for _, d := range resp.Data {
			got = append(got, d.TraceID)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: traces %q, want %q", tt.query, got, tt.want)
		}
		if !strings.HasPrefix(body, `{"data":[`) || !strings.HasSuffix(body, `],"total":0,"limit":0,"offset":0,"errors":null}`) {
			t.Errorf("%s: envelope of %s is not Jaeger's search envelope", tt.query, body)
		}
	}
}

func TestAPIServicesAndOperations(t *testing.T) {
	s := New()
	nestedTrace(t, s)
	h := s.Handler()
	tests := []struct{ path, want string }{
		{"/api/services", `{"data":["checkout","frontend"],"total":2,"limit":0,"offset":0,"errors":null}`},
		{"/api/services/frontend/operations", `{"data":["GET /checkout","POST checkout"],"total":2,"limit":0,"offset":0,"errors":null}`},
		{"/api/services/nobody/operations", `{"data":[],"total":0,"limit":0,"offset":0,"errors":null}`},
		{"/api/operations?service=frontend", `{"data":[{"name":"GET /checkout","spanKind":"server"},{"name":"POST checkout","spanKind":"client"}],"total":2,"limit":0,"offset":0,"errors":null}`},
		{"/api/operations?service=frontend&spanKind=client", `{"data":[{"name":"POST checkout","spanKind":"client"}],"total":1,"limit":0,"offset":0,"errors":null}`},
	}
	for _, tt := range tests {
		if code, body := get(t, h, tt.path); code != http.StatusOK || body != tt.want {
			t.Errorf("%s: %d %s\nwant 200 %s", tt.path, code, body, tt.want)
		}
	}
	if code, _ := get(t, New().Handler(), "/api/services"); code != http.StatusOK {
		t.Errorf("services of an empty store: %d", code)
	}
	if _, body := get(t, New().Handler(), "/api/services"); body != `{"data":[],"total":0,"limit":0,"offset":0,"errors":null}` {
		t.Errorf("services of an empty store: %s", body)
	}
}

func TestParseTraceID(t *testing.T) {
	tests := []struct {
		in   string
		want string // hex of the 16 bytes; "" = error
	}{
		{"0af7651916cd43dd8448eb211c80319c", "0af7651916cd43dd8448eb211c80319c"},
		{"0AF7651916CD43DD8448EB211C80319C", "0af7651916cd43dd8448eb211c80319c"},
		{"8448eb211c80319c", "00000000000000008448eb211c80319c"},
		{"1", "00000000000000000000000000000001"},
		{"abc", "00000000000000000000000000000abc"},
		{"", ""},
		{"0af7651916cd43dd8448eb211c80319c0", ""},
		{"0af7651916cd43dd8448eb211c80319g", ""},
		{"+1", ""},
		{"-1", ""},
		{"0x1", ""},
		{"1_0", ""},
	}
	for _, tt := range tests {
		got, err := ParseTraceID(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParseTraceID(%q) = %s, want an error", tt.in, got)
		case tt.want == "" && !strings.Contains(err.Error(), `"`+tt.in+`"`):
			t.Errorf("ParseTraceID(%q): error %q does not name the ID", tt.in, err)
		case tt.want != "" && (err != nil || got.String() != tt.want):
			t.Errorf("ParseTraceID(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}
