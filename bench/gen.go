package main

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Shape of the span input: what the issue asks for.
const (
	services      = 20
	opsPerService = 10 // 200 operations in all
	// traceErrorRate is the share of traces that fail. A failing trace has an
	// error on one span and on each of its ancestors, as a failure propagates
	// to the callers; the other spans are fine.
	traceErrorRate = 0.01
	// eventSpan is how much event time the input covers: the spans of record i
	// end around base + i*eventSpan/records, so a run fills several 10s windows
	// per series instead of one.
	eventSpan = 40 * time.Second
)

// baseTime is the event time of the first record: fixed, so that the input
// is the same on every run.
var baseTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type operation struct {
	service int
	name    string
	route   string
	method  string
	kind    ptrace.SpanKind
	// median is the operation's typical duration; durations spread
	// log-normally around it with a heavy tail.
	median time.Duration
}

type spanInput struct {
	records [][]byte
	keys    [][]byte // the records' kafkaexporter keys: the trace ID in hex
	spans   int
	traces  int
	errors  int // spans with status Error
	// errorTraces and errorTraceSpans count the traces with an error span
	// and all their spans: both tail samplers must keep every one.
	errorTraces     int
	errorTraceSpans int
	bytes           int
}

// genSpans builds OTLP TracesData records of one trace each (kafkaexporter's
// partition_traces_by_id layout, which weir's spans topic expects), about
// spansPerTrace spans per trace spread over the services the trace visits.
// The same seed gives the same bytes.
func genSpans(seed uint64, totalSpans, spansPerTrace int) (*spanInput, error) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	ops := make([]operation, 0, services*opsPerService)
	kinds := []ptrace.SpanKind{ptrace.SpanKindServer, ptrace.SpanKindServer, ptrace.SpanKindServer, ptrace.SpanKindServer,
		ptrace.SpanKindClient, ptrace.SpanKindClient, ptrace.SpanKindClient, ptrace.SpanKindInternal, ptrace.SpanKindInternal, ptrace.SpanKindProducer}
	methods := []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	for s := range services {
		for o := range opsPerService {
			route := fmt.Sprintf("/api/v1/svc%02d/resource%d/{id}", s, o)
			m := methods[r.IntN(len(methods))]
			ops = append(ops, operation{
				service: s,
				name:    m + " " + route,
				route:   route,
				method:  m,
				kind:    kinds[o],
				// Log-uniform between 0.5 ms and 300 ms.
				median: time.Duration(math.Exp(math.Log(0.5e6) + r.Float64()*math.Log(600))),
			})
		}
	}
	in := &spanInput{}
	m := &ptrace.ProtoMarshaler{}
	records := max(1, totalSpans/spansPerTrace)
	for i := range records {
		n := spansPerTrace - spansPerTrace/5 + r.IntN(2*(spansPerTrace/5)+1) // ±20%
		end := baseTime.Add(time.Duration(int64(eventSpan) * int64(i) / int64(records)))
		td, errs := genTrace(r, ops, n, end)
		b, err := m.MarshalTraces(td)
		if err != nil {
			return nil, fmt.Errorf("marshal trace %d: %w", i, err)
		}
		in.records = append(in.records, b)
		id := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID()
		in.keys = append(in.keys, []byte(hex.EncodeToString(id[:])))
		in.spans += n
		in.traces++
		in.errors += errs
		if errs > 0 {
			in.errorTraces++
			in.errorTraceSpans += n
		}
		in.bytes += len(b)
	}
	return in, nil
}

// genTrace builds one trace of n spans. Span 0 is the root, a server span of
// a random service; every other span's parent is a random earlier span, and
// it runs on the parent's service (internal and client work) or on another
// one (a call). Spans are grouped under one ResourceSpans per service.
func genTrace(r *rand.Rand, ops []operation, n int, end time.Time) (ptrace.Traces, int) {
	var tid [16]byte
	fill(r, tid[:])
	type span struct {
		op     *operation
		parent int
		id     [8]byte
		start  time.Time
		dur    time.Duration
		err    bool
	}
	spans := make([]span, n)
	for i := range spans {
		s := &spans[i]
		fill(r, s.id[:])
		if i == 0 {
			s.parent = -1
			s.op = &ops[r.IntN(services)*opsPerService+r.IntN(4)] // a server op
		} else {
			s.parent = r.IntN(i)
			svc := spans[s.parent].op.service
			if r.IntN(3) == 0 {
				svc = r.IntN(services)
			}
			s.op = &ops[svc*opsPerService+r.IntN(opsPerService)]
		}
		s.dur = latency(r, s.op.median)
		s.start = end.Add(-s.dur)
	}
	errs := 0
	if r.Float64() < traceErrorRate {
		for i := n - 1 - r.IntN(n); i >= 0; i = spans[i].parent {
			spans[i].err = true
			errs++
		}
	}

	td := ptrace.NewTraces()
	byService := map[int]ptrace.SpanSlice{}
	for i := range spans {
		s := &spans[i]
		ss, ok := byService[s.op.service]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			res := rs.Resource().Attributes()
			res.PutStr("service.name", fmt.Sprintf("svc-%02d", s.op.service))
			res.PutStr("service.version", "1.4.2")
			res.PutStr("host.name", fmt.Sprintf("node-%02d.prod.internal", s.op.service%7))
			res.PutStr("deployment.environment", "prod")
			res.PutStr("telemetry.sdk.language", "go")
			sc := rs.ScopeSpans().AppendEmpty()
			sc.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
			sc.Scope().SetVersion("0.72.0")
			ss = sc.Spans()
			byService[s.op.service] = ss
		}
		sp := ss.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID(tid))
		sp.SetSpanID(pcommon.SpanID(s.id))
		if s.parent >= 0 {
			sp.SetParentSpanID(pcommon.SpanID(spans[s.parent].id))
		}
		sp.SetName(s.op.name)
		sp.SetKind(s.op.kind)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.start.Add(s.dur)))
		a := sp.Attributes()
		a.PutStr("http.request.method", s.op.method)
		a.PutStr("http.route", s.op.route)
		code := int64(200)
		if s.err {
			code = 500
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("upstream failed")
		}
		a.PutInt("http.response.status_code", code)
	}
	return td, errs
}

// latency draws a duration around median: log-normal (σ 0.7) with a 1 in 200
// chance of a 5-50× slow tail.
func latency(r *rand.Rand, median time.Duration) time.Duration {
	f := math.Exp(r.NormFloat64() * 0.7)
	if r.IntN(200) == 0 {
		f *= 5 + 45*r.Float64()
	}
	return max(time.Microsecond, time.Duration(float64(median)*f))
}

func fill(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	b[0] |= 1 // never the all-zero ID
}
