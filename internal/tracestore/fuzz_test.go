package tracestore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/weirdev/weir/sample"
)

// jaegerTraceIDFromString is Jaeger's own trace ID parser
// (jaeger-idl model.TraceIDFromString), the reference ParseTraceID follows.
func jaegerTraceIDFromString(s string) (sample.TraceID, bool) {
	var hi, lo uint64
	var err error
	switch {
	case len(s) > 32:
		return sample.TraceID{}, false
	case len(s) > 16:
		hiLen := len(s) - 16
		if hi, err = strconv.ParseUint(s[:hiLen], 16, 64); err != nil {
			return sample.TraceID{}, false
		}
		if lo, err = strconv.ParseUint(s[hiLen:], 16, 64); err != nil {
			return sample.TraceID{}, false
		}
	default:
		if lo, err = strconv.ParseUint(s, 16, 64); err != nil {
			return sample.TraceID{}, false
		}
	}
	var id sample.TraceID
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id, true
}

// FuzzParseTraceID checks the trace ID of the /api/traces/{id} path against
// Jaeger's parser, and that the handler answers every ID with 200, 400 or
// 404 and Jaeger's envelope, never a panic.
func FuzzParseTraceID(f *testing.F) {
	for _, s := range []string{"0af7651916cd43dd8448eb211c80319c", "8448eb211c80319c", "1", "", "0x1", "+1",
		"ABCDEF", strings.Repeat("f", 32), strings.Repeat("f", 33), "zz", "\xff", "1 "} {
		f.Add(s)
	}
	s := New()
	nestedTraceFuzz(s)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseTraceID(in)
		want, ok := jaegerTraceIDFromString(in)
		if (err == nil) != ok || (ok && got != want) {
			t.Fatalf("ParseTraceID(%q) = %s, %v; Jaeger reads %s, %v", in, got, err, want, ok)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Fatalf("error %q does not name the ID %q", err, in)
		}
		if in == "" || in == "." || in == ".." || strings.Contains(in, "/") {
			// Not one path segment: http.ServeMux cleans, redirects or 404s
			// these before the handler sees them.
			return
		}
		code, body := get(t, h, "/api/traces/"+url.PathEscape(in))
		switch {
		case err != nil && code != http.StatusBadRequest,
			err == nil && code != http.StatusOK && code != http.StatusNotFound,
			!strings.HasSuffix(strings.TrimSpace(body), `"offset":0,"errors":null}`) && !strings.Contains(body, `"errors":[{"code":`):
			t.Fatalf("GET /api/traces/%q: %d %s", in, code, body)
		}
	})
}

// nestedTraceFuzz stores one trace so that some fuzzed IDs are found.
func nestedTraceFuzz(s *Store) {
	id, _ := ParseTraceID("1")
	_ = s.WriteTraces(context.Background(), batch(spanSpec{trace: id, id: sid(1), name: "op", service: "a"}))
}

// FuzzSearch feeds /api/traces any query string: parseQuery accepts it only
// with a service, a 32-bit limit (default 100) and durations in order, and
// the handler answers 200 with at most limit traces or 400 with Jaeger's
// error envelope.
func FuzzSearch(f *testing.F) {
	for _, s := range []string{"service=a", "service=a&operation=op&limit=1&start=0&end=99999999999999&minDuration=1us&maxDuration=1h",
		"service=a&limit=-1", "service=a&limit=0", "service=a&limit=2147483648", "limit=1", "service=a&minDuration=2s&maxDuration=1s",
		"service=a&start=x", "service=%zz", "service=a;b", "service=a&service=b&prettyPrint=true"} {
		f.Add(s)
	}
	s := New()
	nestedTraceFuzz(s)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/api/traces", nil)
		r.URL.RawQuery = raw
		p := r.URL.Query()
		q, err := parseQuery(r)
		if err == nil {
			limit := int64(defaultSearchLimit)
			if v := p.Get("limit"); v != "" {
				limit, _ = strconv.ParseInt(v, 10, 32)
			}
			if q.service == "" || q.service != p.Get("service") || int64(q.limit) != limit ||
				(q.minDur != 0 && q.maxDur != 0 && q.maxDur < q.minDur) {
				t.Fatalf("parseQuery(%q) = %+v", raw, q)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var body struct {
			Data   []json.RawMessage `json:"data"`
			Errors []struct {
				Code int    `json:"code"`
				Msg  string `json:"msg"`
			} `json:"errors"`
		}
		if jerr := json.Unmarshal(rec.Body.Bytes(), &body); jerr != nil {
			t.Fatalf("GET /api/traces?%s: %d, body not JSON (%v): %s", raw, rec.Code, jerr, rec.Body)
		}
		switch {
		case err == nil && (rec.Code != http.StatusOK || body.Data == nil || (q.limit > 0 && len(body.Data) > q.limit)),
			err != nil && (rec.Code != http.StatusBadRequest || len(body.Errors) != 1 || body.Errors[0].Code != http.StatusBadRequest || body.Errors[0].Msg == ""):
			t.Fatalf("GET /api/traces?%s (parse error %v): %d %s", raw, err, rec.Code, rec.Body)
		}
	})
}
