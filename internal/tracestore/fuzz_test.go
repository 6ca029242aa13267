package tracestore

import (
	"context"
	"encoding/binary"
	"net/http"
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
