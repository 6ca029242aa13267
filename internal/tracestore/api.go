package tracestore

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

// defaultSearchLimit is Jaeger's default number of traces a search returns.
const defaultSearchLimit = 100

// Handler serves a subset of Jaeger's HTTP query API (GET only):
//
//	/api/traces/{traceID}                one trace; 404 when unknown ("trace
//	                                     not found") or evicted ("trace evicted: …")
//	/api/traces?service=S                most recent traces with a span of S;
//	                                     optional operation, limit (default 100),
//	                                     start and end (µs since the epoch, bound a
//	                                     matching span's start), minDuration and
//	                                     maxDuration ("10ms"); other Jaeger
//	                                     parameters (tags, lookback) are ignored
//	/api/services                        service names, sorted
//	/api/services/{service}/operations   span names of a service, sorted
//	/api/operations?service=S[&spanKind=K]  [{"name","spanKind"}]
//
// Answers are Jaeger's envelope {"data":...,"total":N,"limit":0,"offset":0,
// "errors":null}; prettyPrint=true indents them. A trace ID is 1 to 32 hex
// digits, left-padded with zeros as Jaeger reads it; anything else answers
// 400 naming the ID. Errors answer {"data":null,...,"errors":[{"code":C,
// "msg":"..."}]} with status C.
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/traces/{traceID}", s.getTrace)
	mux.HandleFunc("GET /api/traces", s.search)
	mux.HandleFunc("GET /api/services", s.getServices)
	mux.HandleFunc("GET /api/services/{service}/operations", s.getOperationNames)
	mux.HandleFunc("GET /api/operations", s.getOperations)
	return mux
}

// errTraceNotFound is Jaeger's message for an unknown trace.
var errTraceNotFound = errors.New("trace not found")

// errTraceEvicted starts the message for a trace the store had and
// evicted.
var errTraceEvicted = errors.New("trace evicted")

// ParseTraceID reads a trace ID as Jaeger's API does: 1 to 32 hex digits
// (either case), the missing leading digits being zeros, so a 64-bit Jaeger
// ID of 16 digits names the trace whose high half is zero. It fails on an
// empty string, more than 32 digits, or a non-hex character, naming the ID.
func ParseTraceID(s string) (sample.TraceID, error) {
	var id sample.TraceID
	switch {
	case s == "":
		return id, errors.New("malformed trace ID \"\": empty")
	case len(s) > 32:
		return id, fmt.Errorf("malformed trace ID %q: longer than 32 hex digits", s)
	}
	// The last digit is the low nibble of the last byte.
	shift := 32 - len(s)
	for i := range len(s) {
		c := s[i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return sample.TraceID{}, fmt.Errorf("malformed trace ID %q: %q at offset %d is not a hex digit", s, c, i)
		}
		n := shift + i // nibble index, 0 = high nibble of byte 0
		id[n/2] |= v << (4 * (1 - n%2))
	}
	return id, nil
}

func (s *Store) getTrace(w http.ResponseWriter, r *http.Request) {
	id, err := ParseTraceID(r.PathValue("traceID"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	td, ok := s.Trace(id)
	if !ok {
		err := errTraceNotFound
		if s.Evicted(id) {
			err = fmt.Errorf("%w from the trace store to stay within its bound", errTraceEvicted)
		}
		writeError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, r, jaegerResponse{Data: []jaegerTrace{toJaeger(td)}})
}

// query is a parsed search.
type query struct {
	service, operation string
	start, end         time.Time
	minDur, maxDur     time.Duration
	limit              int
}

func parseQuery(r *http.Request) (query, error) {
	p := r.URL.Query()
	q := query{service: p.Get("service"), operation: p.Get("operation"), limit: defaultSearchLimit}
	if q.service == "" {
		return q, errors.New("parameter 'service' is required")
	}
	if v := p.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return q, fmt.Errorf("unable to parse param 'limit': %w", err)
		}
		q.limit = int(n)
	}
	for _, tp := range []struct {
		name string
		dst  *time.Time
	}{{"start", &q.start}, {"end", &q.end}} {
		if v := p.Get(tp.name); v != "" {
			us, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return q, fmt.Errorf("unable to parse param '%s': %w", tp.name, err)
			}
			*tp.dst = time.UnixMicro(us)
		}
	}
	for _, dp := range []struct {
		name string
		dst  *time.Duration
	}{{"minDuration", &q.minDur}, {"maxDuration", &q.maxDur}} {
		if v := p.Get(dp.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return q, fmt.Errorf("unable to parse param '%s': %w", dp.name, err)
			}
			*dp.dst = d
		}
	}
	if q.minDur != 0 && q.maxDur != 0 && q.maxDur < q.minDur {
		return q, errors.New("'maxDuration' should be greater than 'minDuration'")
	}
	return q, nil
}

// matches reports whether a span of the trace satisfies every condition of
// q at once, as Jaeger's memory store does.
func (q query) matches(td ptrace.Traces) bool {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		if serviceName(rs.Resource()) != q.service {
			continue
		}
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				if q.matchesSpan(spans.At(k)) {
					return true
				}
			}
		}
	}
	return false
}

func (q query) matchesSpan(sp ptrace.Span) bool {
	start, d := sp.StartTimestamp().AsTime(), sp.EndTimestamp().AsTime().Sub(sp.StartTimestamp().AsTime())
	return (q.operation == "" || sp.Name() == q.operation) &&
		(q.start.IsZero() || !start.Before(q.start)) &&
		(q.end.IsZero() || !start.After(q.end)) &&
		(q.minDur == 0 || d >= q.minDur) &&
		(q.maxDur == 0 || d <= q.maxDur)
}

// search answers the traces matching the query, the most recent (latest
// first span) first.
func (s *Store) search(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.mu.RLock()
	var found []*trace
	if _, ok := s.services[q.service]; ok {
		for _, t := range s.traces {
			if slices.Contains(t.services, q.service) && q.matches(t.td) {
				found = append(found, t)
			}
		}
	}
	slices.SortFunc(found, func(a, b *trace) int {
		if c := cmp.Compare(b.start, a.start); c != 0 {
			return c
		}
		return slices.Compare(b.id[:], a.id[:])
	})
	if q.limit > 0 && len(found) > q.limit {
		found = found[:q.limit]
	}
	out := make([]jaegerTrace, 0, len(found))
	for _, t := range found {
		out = append(out, toJaeger(t.td))
	}
	s.mu.RUnlock()
	writeJSON(w, r, jaegerResponse{Data: out})
}

func (s *Store) getServices(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	svcs := make([]string, 0, len(s.services))
	for svc := range s.services {
		svcs = append(svcs, svc)
	}
	s.mu.RUnlock()
	slices.Sort(svcs)
	writeJSON(w, r, jaegerResponse{Data: svcs, Total: len(svcs)})
}

// operation is Jaeger's UI model of an operation.
type operation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

// operations lists the distinct (span name, kind) pairs of a service, sorted.
func (s *Store) operations(service string) []operation {
	seen := map[operation]struct{}{}
	s.mu.RLock()
	for _, t := range s.traces {
		if !slices.Contains(t.services, service) {
			continue
		}
		rss := t.td.ResourceSpans()
		for i := range rss.Len() {
			if serviceName(rss.At(i).Resource()) != service {
				continue
			}
			sss := rss.At(i).ScopeSpans()
			for j := range sss.Len() {
				spans := sss.At(j).Spans()
				for k := range spans.Len() {
					sp := spans.At(k)
					seen[operation{Name: sp.Name(), SpanKind: spanKinds[sp.Kind()]}] = struct{}{}
				}
			}
		}
	}
	s.mu.RUnlock()
	ops := make([]operation, 0, len(seen))
	for op := range seen {
		ops = append(ops, op)
	}
	slices.SortFunc(ops, func(a, b operation) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.SpanKind, b.SpanKind))
	})
	return ops
}

func (s *Store) getOperationNames(w http.ResponseWriter, r *http.Request) {
	names := []string{}
	for _, op := range s.operations(r.PathValue("service")) {
		if len(names) == 0 || names[len(names)-1] != op.Name {
			names = append(names, op.Name)
		}
	}
	writeJSON(w, r, jaegerResponse{Data: names, Total: len(names)})
}

func (s *Store) getOperations(w http.ResponseWriter, r *http.Request) {
	service := r.URL.Query().Get("service")
	if service == "" {
		writeError(w, http.StatusBadRequest, errors.New("parameter 'service' is required"))
		return
	}
	kind := r.URL.Query().Get("spanKind")
	ops := []operation{}
	for _, op := range s.operations(service) {
		if kind == "" || op.SpanKind == kind {
			ops = append(ops, op)
		}
	}
	writeJSON(w, r, jaegerResponse{Data: ops, Total: len(ops)})
}

func writeJSON(w http.ResponseWriter, r *http.Request, resp jaegerResponse) {
	var (
		b   []byte
		err error
	)
	if pp := r.URL.Query().Get("prettyPrint"); pp != "" && pp != "false" {
		b, err = json.MarshalIndent(resp, "", "    ")
	} else {
		b, err = json.Marshal(resp)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("failed marshalling HTTP response to JSON: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// writeError answers as Jaeger's handleError does (which ends the body with
// a newline, through http.Error).
func writeError(w http.ResponseWriter, code int, err error) {
	b, _ := json.Marshal(jaegerResponse{Errors: []jaegerError{{Code: code, Msg: err.Error()}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
