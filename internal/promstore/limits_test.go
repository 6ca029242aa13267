package promstore

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestDepth(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"up", 0},
		{"sum(rate(x[5m]))", 3},
		{`x{a="((((("}`, 1},
		{`x{a='[[[\'[['}`, 1},
		{"x{a=`((\\`}", 1},
		{"((1)) # (((((\n+ (2)", 2},
		{"((1 # ((((", 2},
		{strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), 300},
		{`"\"(("`, 0},
	} {
		if got := depth(tc.q); got != tc.want {
			t.Errorf("depth(%.40q) = %d, want %d", tc.q, got, tc.want)
		}
	}
}

// TestQueryGuards: each of Prometheus' kinds of guard answers before the
// query costs: a query holding too many samples, too long a query, too
// deep a nesting, too big a form.
func TestQueryGuards(t *testing.T) {
	_, h, _ := apiStore(t)
	for _, tc := range []struct {
		name, method string
		params       url.Values
		code         int
		typ, msg     string
	}{
		{"subquery of too many steps", http.MethodGet, url.Values{"query": {"count_over_time(vector(1)[30d:1ms])"}}, 400, "bad_data", "evaluates 2592000000 steps, more than 10000000"},
		{"nested subqueries", http.MethodGet, url.Values{"query": {"max_over_time(count_over_time(vector(1)[1m:1ms])[3h:1m])"}}, 400, "bad_data", "evaluates 10860000 steps"},
		{"too many samples", http.MethodGet, url.Values{"query": {"count_over_time(vector(1)[2h:1ms]) + count_over_time(vector(1)[2h:1ms])"}}, 422, "execution", "query processing would load too many samples into memory"},
		{"within the samples", http.MethodGet, url.Values{"query": {"count_over_time(vector(1)[1h:1ms])"}}, 200, "", ""},
		{"too long", http.MethodPost, url.Values{"query": {"1" + strings.Repeat("+1", MaxQueryLength/2)}}, 400, "bad_data", "the query is 65537 bytes long, more than 65536"},
		{"too deep", http.MethodPost, url.Values{"query": {strings.Repeat("(", 100_000) + "1" + strings.Repeat(")", 100_000)}}, 400, "bad_data", "the query is 200001 bytes long"},
		{"deep within the length", http.MethodPost, url.Values{"query": {strings.Repeat("(", 257) + "1" + strings.Repeat(")", 257)}}, 400, "bad_data", "the query nests 257 levels deep, more than 256"},
		{"as deep as allowed", http.MethodPost, url.Values{"query": {strings.Repeat("(", 256) + "1" + strings.Repeat(")", 256)}}, 200, "", ""},
		{"10 MB form", http.MethodPost, url.Values{"query": {strings.Repeat("1+", 5<<20) + "1"}}, 400, "bad_data", "cannot parse the form (at most 1048576 bytes)"},
	} {
		code, body := do(t, h, tc.method, "/api/v1/query", tc.params)
		var resp struct {
			Status    string `json:"status"`
			ErrorType string `json:"errorType"`
			Error     string `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatalf("%s: body %.200q: %v", tc.name, body, err)
		}
		if code != tc.code || resp.ErrorType != tc.typ || !strings.Contains(resp.Error, tc.msg) {
			t.Errorf("%s: %d %.300s\nwant %d, errorType %q, error containing %q", tc.name, code, body, tc.code, tc.typ, tc.msg)
		}
	}
}

func TestSlots(t *testing.T) {
	s := make(slots, 2)
	ctx := context.Background()
	for range 2 {
		if _, err := s.Insert(ctx, "q"); err != nil {
			t.Fatal(err)
		}
	}
	full, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Insert(full, "q"); err == nil {
		t.Fatal("a third query got a slot of two")
	}
	s.Delete(0)
	if _, err := s.Insert(ctx, "q"); err != nil {
		t.Fatalf("a freed slot: %v", err)
	}
	if s.GetMaxConcurrent() != 2 {
		t.Errorf("GetMaxConcurrent = %d", s.GetMaxConcurrent())
	}
}
