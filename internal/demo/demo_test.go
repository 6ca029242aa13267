package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

type promResponse struct {
	Status string          `json:"status"`
	Data   json.RawMessage `json:"data"`
	Error  string          `json:"error"`
}

func getJSON(t *testing.T, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: decode: %v", u, err)
		}
	}
	return resp.StatusCode
}

func promQuery(t *testing.T, base, path string, params url.Values, data any) {
	t.Helper()
	var r promResponse
	if code := getJSON(t, base+path+"?"+params.Encode(), &r); code != http.StatusOK || r.Status != "success" {
		t.Fatalf("%s %v: HTTP %d, status %q, error %q", path, params, code, r.Status, r.Error)
	}
	if err := json.Unmarshal(r.Data, data); err != nil {
		t.Fatalf("%s: data: %v", path, err)
	}
}

type vectorSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

type exemplarSeries struct {
	SeriesLabels map[string]string `json:"seriesLabels"`
	Exemplars    []struct {
		Labels    map[string]string `json:"labels"`
		Value     string            `json:"value"`
		Timestamp float64           `json:"timestamp"`
	} `json:"exemplars"`
}

type jaegerTrace struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			SpanID   string `json:"spanID"`
			Duration int64  `json:"duration"`
		} `json:"spans"`
	} `json:"data"`
}

// TestDemoAcceptance is what a new user does: start the demo, and within 30 s
// find p99 series, their exemplars, and for each (once the decision wait
// passed) the very trace, holding a span whose duration is the exemplar's
// value, within 2% of the p99 of its window.
func TestDemoAcceptance(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	d, err := Start(ctx, Config{Listen: "127.0.0.1:0", Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := d.Wait(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	base := "http://" + d.Addr()
	sel := `span_duration_seconds{quantile="0.99"}`

	var p99 []vectorSample
	for time.Since(start) < 30*time.Second {
		promQuery(t, base, "/api/v1/query", url.Values{"query": {sel}}, &struct {
			Result *[]vectorSample `json:"result"`
		}{&p99})
		if len(p99) > 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(p99) == 0 {
		t.Fatalf("no p99 series within 30 s of start")
	}
	t.Logf("first p99 series after %v: %d series", time.Since(start).Round(time.Millisecond), len(p99))

	// Kept traces are exported a decision wait behind their spans: check
	// the exemplars old enough, once there are at least 50 of them.
	var exs []exemplarSeries
	old := func() int {
		exs = nil
		promQuery(t, base, "/api/v1/query_exemplars", url.Values{
			"query": {sel}, "start": {fmt.Sprint(start.Add(-time.Minute).Unix())}, "end": {fmt.Sprint(time.Now().Add(-DecisionWait - 5*time.Second).Unix())},
		}, &exs)
		n := 0
		for _, es := range exs {
			n += len(es.Exemplars)
		}
		return n
	}
	for time.Since(start) < 2*time.Minute && old() < 50 {
		time.Sleep(time.Second)
	}
	checked := 0
	for _, es := range exs {
		for _, ex := range es.Exemplars {
			traceID := ex.Labels["trace_id"]
			spanID := ex.Labels["span_id"]
			if len(traceID) != 32 || len(spanID) != 16 {
				t.Fatalf("exemplar labels %v: want 32-hex trace_id and 16-hex span_id", ex.Labels)
			}
			exValue, _ := strconv.ParseFloat(ex.Value, 64)

			// The second pass exports a kept trace a decision wait after
			// its spans, later on a loaded machine: a trace not there yet
			// is asked for again, for half a minute.
			var tr jaegerTrace
			code := getJSON(t, base+"/api/traces/"+traceID, &tr)
			for deadline := time.Now().Add(30 * time.Second); code == http.StatusNotFound && time.Now().Before(deadline); {
				time.Sleep(time.Second)
				code = getJSON(t, base+"/api/traces/"+traceID, &tr)
			}
			if code != http.StatusOK {
				t.Fatalf("trace %s of exemplar on %v: HTTP %d", traceID, es.SeriesLabels, code)
			}
			if len(tr.Data) != 1 || tr.Data[0].TraceID != traceID {
				t.Fatalf("trace %s: got %+v", traceID, tr.Data)
			}
			found := false
			for _, sp := range tr.Data[0].Spans {
				if sp.SpanID == spanID {
					found = true
					if want := int64(math.Round(exValue * 1e6)); sp.Duration != want {
						t.Errorf("span %s lasted %d µs, exemplar says %d µs", spanID, sp.Duration, want)
					}
				}
			}
			if !found {
				t.Errorf("trace %s has no span %s", traceID, spanID)
			}

			// The p99 of the exemplar's window: the sample at the window's end.
			windowEnd := (int64(ex.Timestamp*1000)/10_000 + 1) * 10_000
			var at []vectorSample
			m := es.SeriesLabels
			q := fmt.Sprintf(`span_duration_seconds{quantile="0.99",service_name=%q,span_name=%q,span_kind=%q,status_code=%q}`,
				m["service_name"], m["span_name"], m["span_kind"], m["status_code"])
			promQuery(t, base, "/api/v1/query", url.Values{"query": {q}, "time": {fmt.Sprintf("%.3f", float64(windowEnd)/1000)}}, &struct {
				Result *[]vectorSample `json:"result"`
			}{&at})
			if len(at) != 1 {
				t.Fatalf("p99 of %s at %d: %d series", q, windowEnd, len(at))
			}
			p, _ := strconv.ParseFloat(at[0].Value[1].(string), 64)
			if rel := math.Abs(exValue-p) / p; rel > 0.02 {
				t.Errorf("%s: exemplar %v is %.2f%% from the p99 %v of its window", q, exValue, rel*100, p)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("%d p99 exemplars of %s checked, want at least 50", checked, sel)
	}
	t.Logf("checked %d p99 exemplars against their traces", checked)
}
