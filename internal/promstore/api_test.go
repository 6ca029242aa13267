package promstore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// fixture is what apiStore writes: one p50 and one p99 series of a rollup,
// three windows 10s apart, an exemplar on every p99 point.
type fixture struct {
	p50, p99  []prompb.Sample
	exemplars []prompb.Exemplar
}

func apiStore(t *testing.T) (*Store, http.Handler, fixture) {
	t.Helper()
	s := openStore(t)
	f := fixture{
		p50: []prompb.Sample{{Timestamp: base, Value: 0.1}, {Timestamp: base + 10_000, Value: 0.12}, {Timestamp: base + 20_000, Value: 0.11}},
		p99: []prompb.Sample{{Timestamp: base, Value: 0.9}, {Timestamp: base + 10_000, Value: 1.2}, {Timestamp: base + 20_000, Value: 0.95}},
	}
	p99 := series(map[string]string{"__name__": "http_server_duration_seconds", "service": "checkout", "quantile": "0.99"}, f.p99...)
	for i, smp := range f.p99 {
		// Exemplars sit inside their window, off the window's end.
		p99 = withExemplar(p99, fmt.Sprintf("%032x", i+1), fmt.Sprintf("%016x", i+100), smp.Value*0.99, smp.Timestamp-877)
	}
	f.exemplars = p99.Exemplars
	err := s.Write(context.Background(), []prompb.TimeSeries{
		series(map[string]string{"__name__": "http_server_duration_seconds", "service": "checkout", "quantile": "0.5"}, f.p50...),
		p99,
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return s, s.Handler(), f
}

func do(t *testing.T, h http.Handler, method, path string, params url.Values) (int, string) {
	t.Helper()
	var req *http.Request
	if method == http.MethodPost {
		req = httptest.NewRequest(method, path, strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path+"?"+params.Encode(), nil)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusMethodNotAllowed && ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return rec.Code, string(body)
}

// secs renders a millisecond timestamp as Prometheus does: whole seconds,
// then three digits of milliseconds unless they are zero.
func secs(ms int64) string {
	if ms%1000 == 0 {
		return strconv.FormatInt(ms/1000, 10)
	}
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

func val(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

const p99Metric = `{"__name__":"http_server_duration_seconds","quantile":"0.99","service":"checkout"}`

func TestAPIInstantQuery(t *testing.T) {
	_, h, f := apiStore(t)
	last := f.p99[len(f.p99)-1]
	want := `{"status":"success","data":{"resultType":"vector","result":[{"metric":` + p99Metric +
		`,"value":[` + secs(last.Timestamp) + `,"` + val(last.Value) + `"]}]}}`
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		code, body := do(t, h, method, "/api/v1/query", url.Values{"query": {`{quantile="0.99"}`}, "time": {secs(last.Timestamp)}})
		if code != http.StatusOK || body != want {
			t.Errorf("%s: %d %s\nwant 200 %s", method, code, body, want)
		}
	}
}

func TestAPIInstantQueryRFC3339AndScalar(t *testing.T) {
	_, h, f := apiStore(t)
	// Lookback: a query half a window after the first point sees the first point.
	at := f.p50[0].Timestamp + 5_500
	code, body := do(t, h, http.MethodGet, "/api/v1/query", url.Values{
		"query": {`http_server_duration_seconds{quantile="0.5"}`},
		"time":  {time.UnixMilli(at).UTC().Format(time.RFC3339Nano)},
	})
	if code != http.StatusOK || !strings.Contains(body, `"value":[`+secs(at)+`,"`+val(f.p50[0].Value)+`"]`) {
		t.Errorf("RFC 3339 time: %d %s", code, body)
	}

	code, body = do(t, h, http.MethodGet, "/api/v1/query", url.Values{"query": {"1+1"}, "time": {"1700000000.5"}})
	if want := `{"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"2"]}}`; code != http.StatusOK || body != want {
		t.Errorf("scalar: %d %s, want %s", code, body, want)
	}
}

func TestAPIQueryRange(t *testing.T) {
	_, h, f := apiStore(t)
	var points []string
	for _, smp := range f.p99 {
		points = append(points, `[`+secs(smp.Timestamp)+`,"`+val(smp.Value)+`"]`)
	}
	want := `{"status":"success","data":{"resultType":"matrix","result":[{"metric":` + p99Metric +
		`,"values":[` + strings.Join(points, ",") + `]}]}}`
	for _, step := range []string{"10s", "10"} {
		code, body := do(t, h, http.MethodGet, "/api/v1/query_range", url.Values{
			"query": {`{quantile="0.99"}`},
			"start": {secs(f.p99[0].Timestamp)},
			"end":   {secs(f.p99[2].Timestamp)},
			"step":  {step},
		})
		if code != http.StatusOK || body != want {
			t.Errorf("step %s: %d %s\nwant 200 %s", step, code, body, want)
		}
	}
}

func TestAPIQueryExemplars(t *testing.T) {
	_, h, f := apiStore(t)
	var ex []string
	for _, e := range f.exemplars {
		ex = append(ex, fmt.Sprintf(`{"labels":{"span_id":%q,"trace_id":%q},"value":"%s","timestamp":%s}`,
			e.Labels[1].Value, e.Labels[0].Value, val(e.Value), secs(e.Timestamp)))
	}
	want := `{"status":"success","data":[{"seriesLabels":` + p99Metric + `,"exemplars":[` + strings.Join(ex, ",") + `]}]}`
	for _, q := range []string{
		`http_server_duration_seconds{quantile="0.99"}`,
		// Selectors are taken out of any expression, as Prometheus does.
		`max by (service) (http_server_duration_seconds{quantile="0.99"}) > 0`,
	} {
		code, body := do(t, h, http.MethodGet, "/api/v1/query_exemplars", url.Values{
			"query": {q},
			"start": {secs(base - 60_000)},
			"end":   {secs(base + 60_000)},
		})
		if code != http.StatusOK || body != want {
			t.Errorf("%s: %d %s\nwant 200 %s", q, code, body, want)
		}
	}

	// start and end bound the exemplars: only the second one here.
	code, body := do(t, h, http.MethodPost, "/api/v1/query_exemplars", url.Values{
		"query": {`{quantile="0.99"}`},
		"start": {secs(f.exemplars[1].Timestamp)},
		"end":   {secs(f.exemplars[1].Timestamp)},
	})
	var resp struct {
		Data []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || code != http.StatusOK {
		t.Fatalf("bounded: %d %s (%v)", code, body, err)
	}
	if len(resp.Data) != 1 || len(resp.Data[0].Exemplars) != 1 || resp.Data[0].Exemplars[0].Labels["trace_id"] != f.exemplars[1].Labels[0].Value {
		t.Errorf("bounded: %s, want only trace %s", body, f.exemplars[1].Labels[0].Value)
	}

	// No selector in the expression: success without data, as Prometheus.
	code, body = do(t, h, http.MethodGet, "/api/v1/query_exemplars", url.Values{"query": {"1+1"}})
	if code != http.StatusOK || body != `{"status":"success"}` {
		t.Errorf("no selector: %d %s", code, body)
	}
	// Nothing matches: an empty list.
	code, body = do(t, h, http.MethodGet, "/api/v1/query_exemplars", url.Values{"query": {`nothing_here`}})
	if code != http.StatusOK || body != `{"status":"success","data":[]}` {
		t.Errorf("no match: %d %s", code, body)
	}
}

func TestAPIErrors(t *testing.T) {
	_, h, f := apiStore(t)
	start, end := secs(f.p99[0].Timestamp), secs(f.p99[2].Timestamp)
	tests := []struct {
		name, path string
		params     url.Values
		code       int
		typ        string
		msg        string // prefix of the error
		contains   string
	}{
		{"parse error", "/api/v1/query", url.Values{"query": {"sum(rate(x[5m]"}}, 400, "bad_data", `invalid parameter "query": `, "parse error"},
		{"empty query", "/api/v1/query", url.Values{}, 400, "bad_data", `invalid parameter "query": `, "no expression found"},
		{"bad time", "/api/v1/query", url.Values{"query": {"x"}, "time": {"yesterday"}}, 400, "bad_data",
			`invalid parameter "time": invalid time value for 'time': cannot parse "yesterday" to a valid timestamp`, ""},
		{"range parse error", "/api/v1/query_range", url.Values{"query": {"{"}, "start": {start}, "end": {end}, "step": {"10s"}}, 400, "bad_data", `invalid parameter "query": `, "parse error"},
		{"no step", "/api/v1/query_range", url.Values{"query": {"x"}, "start": {start}, "end": {end}}, 400, "bad_data", `invalid parameter "step": cannot parse "" to a valid duration`, ""},
		{"zero step", "/api/v1/query_range", url.Values{"query": {"x"}, "start": {start}, "end": {end}, "step": {"0"}}, 400, "bad_data", `invalid parameter "step": zero or negative`, ""},
		{"end before start", "/api/v1/query_range", url.Values{"query": {"x"}, "start": {end}, "end": {start}, "step": {"1"}}, 400, "bad_data", `invalid parameter "end": end timestamp must not be before start time`, ""},
		{"too many points", "/api/v1/query_range", url.Values{"query": {"x"}, "start": {start}, "end": {end}, "step": {"0.001"}}, 400, "bad_data", "exceeded maximum resolution of 11,000 points", ""},
		{"range vector in range query", "/api/v1/query_range", url.Values{"query": {"x[5m]"}, "start": {start}, "end": {end}, "step": {"10s"}}, 400, "bad_data", `invalid parameter "query": invalid expression type "range vector"`, ""},
		{"execution error", "/api/v1/query", url.Values{"query": {`label_replace(http_server_duration_seconds, "quantile", "x", "", "")`}, "time": {end}}, 422, "execution", "", "same labelset"},
		{"exemplars parse error", "/api/v1/query_exemplars", url.Values{"query": {"sum("}}, 400, "bad_data", "1:5: parse error", ""},
		{"series without match", "/api/v1/series", url.Values{}, 400, "bad_data", "no match[] parameter provided", ""},
		{"series matching everything", "/api/v1/series", url.Values{"match[]": {`{job=""}`}}, 400, "bad_data", `invalid parameter "match[]": match[] must contain at least one non-empty matcher`, ""},
		{"bad label name", "/api/v1/label/%FF/values", url.Values{}, 400, "bad_data", `invalid label name: "\xff"`, ""},
		{"labels bad match", "/api/v1/labels", url.Values{"match[]": {"{"}}, 400, "bad_data", "1:2: parse error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, h, http.MethodGet, tt.path, tt.params)
			var resp struct {
				Status    string `json:"status"`
				ErrorType string `json:"errorType"`
				Error     string `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &resp); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if code != tt.code || resp.Status != "error" || resp.ErrorType != tt.typ ||
				!strings.HasPrefix(resp.Error, tt.msg) || !strings.Contains(resp.Error, tt.contains) {
				t.Errorf("got %d %s\nwant %d, errorType %q, error starting %q containing %q", code, body, tt.code, tt.typ, tt.msg, tt.contains)
			}
		})
	}
}

func TestAPIWarningsAndInfos(t *testing.T) {
	_, h, f := apiStore(t)
	code, body := do(t, h, http.MethodGet, "/api/v1/query", url.Values{
		"query": {`rate(http_server_duration_seconds{quantile="0.5"}[1m])`},
		"time":  {secs(f.p50[2].Timestamp)},
	})
	var resp struct {
		Status string   `json:"status"`
		Infos  []string `json:"infos"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || code != http.StatusOK {
		t.Fatalf("%d %s (%v)", code, body, err)
	}
	if len(resp.Infos) != 1 || !strings.Contains(resp.Infos[0], "might not be a counter") {
		t.Errorf("infos = %q, want PromQL's note that the metric might not be a counter", resp.Infos)
	}
}

func TestAPISeriesAndLabels(t *testing.T) {
	_, h, _ := apiStore(t)
	tests := []struct {
		name, path string
		params     url.Values
		want       string
	}{
		{"series", "/api/v1/series", url.Values{"match[]": {`{quantile="0.99"}`}}, `[` + p99Metric + `]`},
		{"series union", "/api/v1/series", url.Values{"match[]": {`{quantile="0.99"}`, `{service="checkout"}`}},
			`[{"__name__":"http_server_duration_seconds","quantile":"0.5","service":"checkout"},` + p99Metric + `]`},
		{"series none", "/api/v1/series", url.Values{"match[]": {`nothing`}}, `[]`},
		{"labels", "/api/v1/labels", url.Values{}, `["__name__","quantile","service"]`},
		{"labels matched", "/api/v1/labels", url.Values{"match[]": {`{quantile="0.5"}`}}, `["__name__","quantile","service"]`},
		{"label values", "/api/v1/label/quantile/values", url.Values{}, `["0.5","0.99"]`},
		{"label values matched", "/api/v1/label/quantile/values", url.Values{"match[]": {`{quantile=~"0.9.*"}`}}, `["0.99"]`},
		{"label values none", "/api/v1/label/nope/values", url.Values{}, `[]`},
		{"name values", "/api/v1/label/__name__/values", url.Values{}, `["http_server_duration_seconds"]`},
		{"escaped name", "/api/v1/label/U__quantile/values", url.Values{"start": {"0"}}, `["0.5","0.99"]`},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(tt.name+" "+method, func(t *testing.T) {
				code, body := do(t, h, method, tt.path, tt.params)
				if want := `{"status":"success","data":` + tt.want + `}`; code != http.StatusOK || body != want {
					t.Errorf("%d %s\nwant 200 %s", code, body, want)
				}
			})
		}
	}
}

func TestAPIMethodNotAllowed(t *testing.T) {
	_, h, _ := apiStore(t)
	code, _ := do(t, h, http.MethodPut, "/api/v1/query", url.Values{"query": {"1"}})
	if code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d, want 405", code)
	}
}
