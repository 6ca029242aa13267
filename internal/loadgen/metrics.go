package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

type metricKind uint8

const (
	mkHTTPDuration metricKind = iota
	mkHTTPRequests
	mkDBDuration
	mkRPCLatency
	numMetricKinds
)

const (
	// Exemplars kept per exponential histogram point and interval (an SDK's
	// fixed-size reservoir).
	expExemplars = 4
	// Observations the summary's quantiles are computed over.
	summaryWindow = 512
)

// dbBounds are Prometheus-style 1-2.5-5 bounds reaching down to the
// sub-millisecond times of cache and database calls.
var dbBounds = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

var summaryQuantiles = [...]float64{0.5, 0.9, 0.99}

type seriesKey struct {
	inst   uint8
	kind   metricKind
	op     opID
	status int16
}

// series is one data point stream; only the part of its kind is set.
type series struct {
	key      seriesKey
	exp      *expHistogram
	res      *fixedReservoir
	hist     *bucketHistogram
	requests int64
	sum      *summary
}

type exemplar struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
	v     float64
	tNs   int64
}

// fixedReservoir is a uniform sample of the interval's measurements.
type fixedReservoir struct {
	ex   [expExemplars]exemplar
	n    int
	seen int
}

func (r *fixedReservoir) offer(rng *rand.Rand, e exemplar) {
	r.seen++
	if r.n < len(r.ex) {
		r.ex[r.n] = e
		r.n++
		return
	}
	if j := rng.IntN(r.seen); j < len(r.ex) {
		r.ex[j] = e
	}
}

// bucketHistogram is an explicit-bucket histogram with an SDK's aligned
// exemplar reservoir: the last measurement of the interval per bucket.
type bucketHistogram struct {
	counts   [len(dbBounds) + 1]uint64
	count    uint64
	sum      float64
	min, max float64
	ex       [len(dbBounds) + 1]exemplar
	has      [len(dbBounds) + 1]bool
}

func (h *bucketHistogram) observe(e exemplar) {
	v := e.v
	if h.count == 0 {
		h.min, h.max = v, v
	} else {
		h.min, h.max = min(h.min, v), max(h.max, v)
	}
	h.count++
	h.sum += v
	b := sort.SearchFloat64s(dbBounds[:], v) // first bound >= v: upper-inclusive
	h.counts[b]++
	h.ex[b], h.has[b] = e, true
}

type summary struct {
	count  uint64
	sum    float64
	window [summaryWindow]float64
	n      int
	next   int
}

func (s *summary) observe(v float64) {
	s.count++
	s.sum += v
	s.window[s.next] = v
	s.next = (s.next + 1) % summaryWindow
	s.n = min(s.n+1, summaryWindow)
}

func (g *Generator) getSeries(inst uint8, kind metricKind, op opID, status int16) *series {
	k := seriesKey{inst: inst, kind: kind, op: op, status: status}
	if s, ok := g.series[k]; ok {
		return s
	}
	s := &series{key: k}
	switch kind {
	case mkHTTPDuration:
		s.exp, s.res = newExpHistogram(), &fixedReservoir{}
	case mkDBDuration:
		s.hist = &bucketHistogram{}
	case mkRPCLatency:
		s.sum = &summary{}
	}
	g.series[k] = s
	g.insts[inst].series[kind] = append(g.insts[inst].series[kind], s)
	return s
}

// recordTrace feeds the trace just built into the instruments, as the
// services' SDKs would have when its spans ended.
func (g *Generator) recordTrace() {
	t := &g.t
	for k := 0; k < t.live; k++ {
		n := &t.nodes[t.order[k]]
		o := &g.m.ops[n.op]
		e := exemplar{trace: t.traceID, span: n.id, v: float64(n.dur) / 1e6, tNs: n.end() * 1000}
		switch {
		case o.kind.server():
			s := g.getSeries(n.inst, mkHTTPDuration, n.op, 0)
			s.exp.observe(e.v)
			s.res.offer(g.exRng, e)
			status := int16(200)
			if n.failed && o.kind == kindHTTPServer {
				status = 500
			}
			g.getSeries(n.inst, mkHTTPRequests, n.op, status).requests++
			if o.kind == kindRPCServer {
				g.getSeries(n.inst, mkRPCLatency, n.op, 0).sum.observe(e.v)
			}
		case o.kind == kindDB:
			g.getSeries(n.inst, mkDBDuration, n.op, 0).hist.observe(e)
		}
	}
}

// Metrics returns one batch of every metric of every instance at now, with
// cumulative temporality: counts and sums since the generator's first call.
// Exemplars are those of the measurements since the previous Metrics call;
// a point without measurements since then carries none. now should not go
// backwards.
func (g *Generator) Metrics(now time.Time) pmetric.Metrics {
	g.mu.Lock()
	defer g.mu.Unlock()
	nowNs := now.UnixNano()
	g.begin(nowNs / 1000)
	start, ts := pcommon.Timestamp(g.startUS*1000), pcommon.Timestamp(nowNs)

	md := pmetric.NewMetrics()
	rms := md.ResourceMetrics()
	rms.EnsureCapacity(len(g.insts))
	var scratch []float64
	for i := range g.insts {
		inst := &g.insts[i]
		rm := rms.AppendEmpty()
		inst.res.CopyTo(rm.Resource())
		rm.SetSchemaUrl(schemaURL)
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(scopeName)
		sm.Scope().SetVersion(scopeVersion)
		ms := sm.Metrics()

		if ss := inst.series[mkHTTPDuration]; len(ss) > 0 {
			m := ms.AppendEmpty()
			m.SetName("http.server.request.duration")
			m.SetDescription("Duration of HTTP server requests.")
			m.SetUnit("s")
			h := m.SetEmptyExponentialHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for _, s := range ss {
				g.fillExp(h.DataPoints().AppendEmpty(), s, start, ts)
			}
		}
		if ss := inst.series[mkHTTPRequests]; len(ss) > 0 {
			m := ms.AppendEmpty()
			m.SetName("http.server.requests")
			m.SetDescription("Number of HTTP server requests.")
			m.SetUnit("{request}")
			sum := m.SetEmptySum()
			sum.SetIsMonotonic(true)
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for _, s := range ss {
				dp := sum.DataPoints().AppendEmpty()
				g.routeAttrs(dp.Attributes(), s.key.op)
				dp.Attributes().PutInt("http.response.status_code", int64(s.key.status))
				dp.SetStartTimestamp(start)
				dp.SetTimestamp(ts)
				dp.SetIntValue(s.requests)
			}
		}
		if ss := inst.series[mkDBDuration]; len(ss) > 0 {
			m := ms.AppendEmpty()
			m.SetName("db.client.operation.duration")
			m.SetDescription("Duration of database client operations.")
			m.SetUnit("s")
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for _, s := range ss {
				g.fillHist(h.DataPoints().AppendEmpty(), s, start, ts)
			}
		}
		if ss := inst.series[mkRPCLatency]; len(ss) > 0 {
			m := ms.AppendEmpty()
			m.SetName("rpc.legacy.latency")
			m.SetDescription("Latency of gRPC calls served, as the legacy client library reports it.")
			m.SetUnit("s")
			sm := m.SetEmptySummary()
			for _, s := range ss {
				scratch = g.fillSummary(sm.DataPoints().AppendEmpty(), s, start, ts, scratch)
			}
		}

		base := g.m.svcs[inst.svc].memMiB
		inst.memMiB += 0.1*(base-inst.memMiB) + 0.02*base*g.gaugeRng.NormFloat64()
		inst.memMiB = min(max(inst.memMiB, base/2), base*3)
		m := ms.AppendEmpty()
		m.SetName("process.memory.usage")
		m.SetDescription("The amount of physical memory in use.")
		m.SetUnit("By")
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(ts)
		dp.SetIntValue(int64(inst.memMiB * (1 << 20)))
	}
	return md
}

func (g *Generator) routeAttrs(a pcommon.Map, op opID) {
	a.EnsureCapacity(3)
	a.PutStr("http.request.method", g.m.ops[op].method)
	a.PutStr("http.route", g.m.ops[op].route)
}

func putExemplars(dst pmetric.ExemplarSlice, ex []exemplar) {
	dst.EnsureCapacity(len(ex))
	for _, e := range ex {
		x := dst.AppendEmpty()
		x.SetTimestamp(pcommon.Timestamp(e.tNs))
		x.SetDoubleValue(e.v)
		x.SetTraceID(e.trace)
		x.SetSpanID(e.span)
	}
}

func (g *Generator) fillExp(dp pmetric.ExponentialHistogramDataPoint, s *series, start, ts pcommon.Timestamp) {
	h := s.exp
	g.routeAttrs(dp.Attributes(), s.key.op)
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(ts)
	dp.SetCount(h.count)
	dp.SetSum(h.sum)
	dp.SetMin(h.min)
	dp.SetMax(h.max)
	dp.SetScale(h.scale)
	dp.SetZeroCount(0)
	dp.Positive().SetOffset(h.offset)
	dp.Positive().BucketCounts().FromRaw(h.counts)
	putExemplars(dp.Exemplars(), s.res.ex[:s.res.n])
	s.res.n, s.res.seen = 0, 0
}

func (g *Generator) fillHist(dp pmetric.HistogramDataPoint, s *series, start, ts pcommon.Timestamp) {
	h := s.hist
	o := &g.m.ops[s.key.op]
	a := dp.Attributes()
	a.EnsureCapacity(3)
	a.PutStr("db.system", o.dbSystem)
	a.PutStr("db.operation.name", o.dbOp)
	a.PutStr("db.collection.name", o.dbTable)
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(ts)
	dp.SetCount(h.count)
	dp.SetSum(h.sum)
	dp.SetMin(h.min)
	dp.SetMax(h.max)
	dp.ExplicitBounds().FromRaw(dbBounds[:])
	dp.BucketCounts().FromRaw(h.counts[:])
	var ex [len(dbBounds) + 1]exemplar
	n := 0
	for b := range h.ex {
		if h.has[b] {
			ex[n] = h.ex[b]
			n++
		}
	}
	putExemplars(dp.Exemplars(), ex[:n])
	clear(h.has[:])
}

func (g *Generator) fillSummary(dp pmetric.SummaryDataPoint, s *series, start, ts pcommon.Timestamp, scratch []float64) []float64 {
	sm := s.sum
	o := &g.m.ops[s.key.op]
	a := dp.Attributes()
	a.EnsureCapacity(3)
	a.PutStr("rpc.system", "grpc")
	a.PutStr("rpc.service", o.rpcService)
	a.PutStr("rpc.method", o.rpcMethod)
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(ts)
	dp.SetCount(sm.count)
	dp.SetSum(sm.sum)
	scratch = append(scratch[:0], sm.window[:sm.n]...)
	slices.Sort(scratch)
	qs := dp.QuantileValues()
	qs.EnsureCapacity(len(summaryQuantiles))
	for _, q := range summaryQuantiles {
		// Nearest rank: the reported value is one that was observed.
		r := max(int(math.Ceil(q*float64(len(scratch))))-1, 0)
		qv := qs.AppendEmpty()
		qv.SetQuantile(q)
		qv.SetValue(scratch[r])
	}
	return scratch
}
