package interop

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// A small checkout application, as an SDK would report it: every trace is
// frontend "GET /checkout" (server) → cart "GetCart" (server) → cart
// "SELECT cart" (client), and in most traces payment "Charge" (server),
// which sometimes fails. Durations are log-normal around a per-operation
// median, rounded to the microsecond (Jaeger's unit), so that an exemplar's
// value can be found again among the trace's span durations.

const window = 10 * time.Second // the rules' resolution (10s:2d)

// operation is one kind of span.
type operation struct {
	service, name string
	kind          ptrace.SpanKind
	median        time.Duration
}

var (
	opRoot    = operation{"frontend", "GET /checkout", ptrace.SpanKindServer, 40 * time.Millisecond}
	opCart    = operation{"cart", "GetCart", ptrace.SpanKindServer, 8 * time.Millisecond}
	opDB      = operation{"cart", "SELECT cart", ptrace.SpanKindClient, 3 * time.Millisecond}
	opPayment = operation{"payment", "Charge", ptrace.SpanKindServer, 25 * time.Millisecond}
)

// workload is what the generator produced, and what the test expects of it.
type workload struct {
	batches []ptrace.Traces // in event-time order, each a few seconds of traces
	metrics pmetric.Metrics
	spans   map[string]int // trace ID (hex) -> its span count
	records int            // resources (services) of all traces: the exporter's records
	// durations: trace ID (hex) -> span durations in µs, for finding an
	// exemplar's span again.
	durations map[string][]int64
	// windows: the (service, span name, status, window) cells that got at
	// least one span: each gets one p99 sample (with an exemplar).
	windows map[string]bool
	// jobCount and jobSum: what the gauge rollup must add up to per job.
	jobCount map[string]int
	jobSum   map[string]float64
	nSpans   int
	from, to time.Time // event times of the traces
}

type span struct {
	op         operation
	parent     pcommon.SpanID
	id         pcommon.SpanID
	start, end time.Time
	err        bool
	traceID    pcommon.TraceID
}

// generate makes traces over [from, from+n*every) and gauge points over the
// same range. seed fixes everything.
func generate(seed uint64, from time.Time, traces int, every time.Duration, perBatch int) *workload {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := &workload{spans: map[string]int{}, durations: map[string][]int64{}, windows: map[string]bool{},
		jobCount: map[string]int{}, jobSum: map[string]float64{}, from: from}
	dur := func(op operation) time.Duration {
		d := float64(op.median) * math.Exp(0.6*rng.NormFloat64())
		return max(time.Duration(d).Round(time.Microsecond), time.Microsecond)
	}
	spanID := func() (id pcommon.SpanID) {
		for id.IsEmpty() {
			for i := range id {
				id[i] = byte(rng.Uint32())
			}
		}
		return id
	}
	var batch ptrace.Traces
	for i := range traces {
		if i%perBatch == 0 {
			batch = ptrace.NewTraces()
			w.batches = append(w.batches, batch)
		}
		var tid pcommon.TraceID
		for j := range tid {
			tid[j] = byte(rng.Uint32())
		}
		start := from.Add(time.Duration(i) * every)
		root := span{op: opRoot, id: spanID(), start: start, traceID: tid}
		cart := span{op: opCart, parent: root.id, id: spanID(), start: start.Add(time.Millisecond), traceID: tid}
		db := span{op: opDB, parent: cart.id, id: spanID(), traceID: tid}
		dbDur := dur(opDB)
		cartDur := max(dur(opCart), dbDur+time.Millisecond)
		db.start = cart.start.Add(cartDur - dbDur - 500*time.Microsecond).Truncate(time.Microsecond)
		db.end = db.start.Add(dbDur)
		cart.end = cart.start.Add(cartDur)
		spans := []span{root, cart, db}
		next := cart.end.Add(time.Millisecond)
		if rng.IntN(10) < 7 {
			pay := span{op: opPayment, parent: root.id, id: spanID(), start: next, traceID: tid, err: rng.IntN(50) == 0}
			pay.end = pay.start.Add(dur(opPayment))
			next = pay.end
			spans = append(spans, pay)
		}
		spans[0].end = start.Add(dur(opRoot))
		if floor := next.Add(time.Millisecond); spans[0].end.Before(floor) {
			spans[0].end = floor
		}
		w.add(batch, spans)
	}
	w.to = from.Add(time.Duration(traces) * every)
	w.metrics = w.gauges(from, w.to)
	return w
}

func (w *workload) add(td ptrace.Traces, spans []span) {
	byService := map[string]ptrace.SpanSlice{}
	tid := spans[0].traceID.String()
	for _, s := range spans {
		ss, ok := byService[s.op.service]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", s.op.service)
			rs.Resource().Attributes().PutStr("deployment.environment", "interop")
			sc := rs.ScopeSpans().AppendEmpty()
			sc.Scope().SetName("interop-generator")
			ss = sc.Spans()
			byService[s.op.service] = ss
			w.records++
		}
		sp := ss.AppendEmpty()
		sp.SetTraceID(s.traceID)
		sp.SetSpanID(s.id)
		sp.SetParentSpanID(s.parent)
		sp.SetName(s.op.name)
		sp.SetKind(s.op.kind)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.end))
		sp.Attributes().PutStr("net.peer.name", "10.0.0.1") // not a dimension: dropped by the rollup
		status := "unset"
		if s.err {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("card declined")
			status = "error"
		}
		w.spans[tid]++
		w.durations[tid] = append(w.durations[tid], s.end.Sub(s.start).Microseconds())
		w.nSpans++
		w.windows[fmt.Sprintf("%s|%s|%s|%d", s.op.service, s.op.name, status, s.end.UnixMilli()/window.Milliseconds())] = true
	}
}

var jobs = []string{"ingest", "query", "compact"}

// gauges makes interop_queue_depth{job, instance} every second: small
// integers, so that their sums are exact. Each job and instance is a
// resource of its own, as the collector's prometheus receiver writes a
// scrape target (service.name and service.instance.id, which weir makes job
// and instance as Prometheus' OTLP receiver does).
func (w *workload) gauges(from, to time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for j, job := range jobs {
		for inst := range 4 {
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("service.name", job)
			rm.Resource().Attributes().PutStr("service.instance.id", fmt.Sprintf("i-%d", inst))
			m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			m.SetName("interop_queue_depth")
			m.SetDescription("Items waiting, per worker.")
			dps := m.SetEmptyGauge().DataPoints()
			for at, s := from.Add(500*time.Millisecond), 0; at.Before(to); at, s = at.Add(time.Second), s+1 {
				dp := dps.AppendEmpty()
				dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
				v := float64((s*7 + inst*3 + j) % 20)
				dp.SetDoubleValue(v)
				w.jobCount[job]++
				w.jobSum[job] += v
			}
		}
	}
	return md
}
