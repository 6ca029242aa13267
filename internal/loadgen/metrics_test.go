package loadgen

import (
	"math"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type spanFact struct {
	trace pcommon.TraceID
	dur   float64 // seconds
	host  string
	key   string // http.route of server spans, operation and collection of db spans
	kind  ptrace.SpanKind
	db    bool
	rpc   bool
}

// seen is what the test learned from the traces themselves, to check the
// metrics against.
type seen struct {
	spans    map[pcommon.SpanID]spanFact
	server   map[[2]string]uint64 // host, route
	requests map[[3]string]int64  // host, route, status
	db       map[[2]string]uint64 // host, operation and collection
	rpc      map[[2]string]uint64 // host, route
	rpcDurs  map[float64]bool
}

func observe(td ptrace.Traces, s *seen) {
	for _, fs := range flatten(td) {
		sp := fs.span
		host, _ := fs.res.Attributes().Get("host.name")
		f := spanFact{trace: sp.TraceID(), dur: float64(sp.EndTimestamp()-sp.StartTimestamp()) / 1e9, host: host.Str(), kind: sp.Kind()}
		a := sp.Attributes()
		if sys, ok := a.Get("db.system"); ok && sys.Str() != "" {
			f.db, f.key = true, attr(a, "db.operation.name")+" "+attr(a, "db.collection.name")
			s.db[[2]string{f.host, f.key}]++
		}
		if sp.Kind() == ptrace.SpanKindServer {
			route, _ := a.Get("http.route")
			status, _ := a.Get("http.response.status_code")
			f.key = route.Str()
			s.server[[2]string{f.host, f.key}]++
			s.requests[[3]string{f.host, f.key, status.AsString()}]++
			if _, ok := a.Get("rpc.system"); ok {
				f.rpc = true
				s.rpc[[2]string{f.host, f.key}]++
				s.rpcDurs[f.dur] = true
			}
		}
		s.spans[sp.SpanID()] = f
	}
}

func attr(m pcommon.Map, k string) string {
	v, _ := m.Get(k)
	return v.AsString()
}

func TestMetrics(t *testing.T) {
	g := New(WithSeed(21), WithErrorRate(0.05))
	s := &seen{spans: map[pcommon.SpanID]spanFact{}, server: map[[2]string]uint64{}, requests: map[[3]string]int64{},
		db: map[[2]string]uint64{}, rpc: map[[2]string]uint64{}, rpcDurs: map[float64]bool{}}
	const n = 3000
	for i := range n {
		observe(g.NextTrace(clockAt(i)), s)
	}
	wantStart := pcommon.Timestamp(clockAt(0).UnixNano() / 1000 * 1000)
	now := clockAt(n)
	md := g.Metrics(now)

	instances := 0
	for _, spec := range g.m.svcs {
		instances += len(spec.hosts)
	}
	if got := md.ResourceMetrics().Len(); got != instances {
		t.Fatalf("%d resource metrics, want one per instance (%d)", got, instances)
	}
	var exemplars, expPoints, histPoints, sumPoints, summaryPoints int
	var totalServer, totalDB, totalReq uint64
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		host := attr(rm.Resource().Attributes(), "host.name")
		ms := rm.ScopeMetrics().At(0).Metrics()
		gauges := 0
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			switch m.Name() {
			case "http.server.request.duration":
				if m.Type() != pmetric.MetricTypeExponentialHistogram || m.ExponentialHistogram().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
					t.Fatalf("%s: %v %v, want cumulative exponential histogram", m.Name(), m.Type(), m.ExponentialHistogram().AggregationTemporality())
				}
				dps := m.ExponentialHistogram().DataPoints()
				for k := 0; k < dps.Len(); k++ {
					dp := dps.At(k)
					expPoints++
					route := attr(dp.Attributes(), "http.route")
					if want := s.server[[2]string{host, route}]; dp.Count() != want {
						t.Fatalf("%s %s %s: count %d, the traces had %d server spans", m.Name(), host, route, dp.Count(), want)
					}
					totalServer += dp.Count()
					if dp.StartTimestamp() != wantStart || dp.Timestamp() != pcommon.Timestamp(now.UnixNano()) {
						t.Fatalf("%s: timestamps %v..%v, want %v..%v", m.Name(), dp.StartTimestamp(), dp.Timestamp(), wantStart, now.UnixNano())
					}
					var sum uint64
					for _, c := range dp.Positive().BucketCounts().AsRaw() {
						sum += c
					}
					if sum != dp.Count() || dp.ZeroCount() != 0 || dp.Negative().BucketCounts().Len() != 0 {
						t.Fatalf("%s: buckets hold %d, zero %d, count %d", m.Name(), sum, dp.ZeroCount(), dp.Count())
					}
					if dp.Scale() > expInitScale || dp.Positive().BucketCounts().Len() > expMaxSize {
						t.Fatalf("%s: scale %d with %d buckets", m.Name(), dp.Scale(), dp.Positive().BucketCounts().Len())
					}
					if dp.Exemplars().Len() == 0 || dp.Exemplars().Len() > expExemplars {
						t.Fatalf("%s %s %s: %d exemplars", m.Name(), host, route, dp.Exemplars().Len())
					}
					for e := 0; e < dp.Exemplars().Len(); e++ {
						ex := dp.Exemplars().At(e)
						f := checkExemplar(t, s, ex, host, route)
						if f.kind != ptrace.SpanKindServer {
							t.Fatalf("%s: exemplar of a %v span", m.Name(), f.kind)
						}
						idx := bucketIndex(ex.DoubleValue(), dp.Scale())
						if idx < dp.Positive().Offset() || int(idx-dp.Positive().Offset()) >= dp.Positive().BucketCounts().Len() ||
							dp.Positive().BucketCounts().At(int(idx-dp.Positive().Offset())) == 0 {
							t.Fatalf("%s: exemplar %v falls in bucket %d, which is empty or outside", m.Name(), ex.DoubleValue(), idx)
						}
						exemplars++
					}
				}
			case "http.server.requests":
				if m.Type() != pmetric.MetricTypeSum || !m.Sum().IsMonotonic() || m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
					t.Fatalf("%s: want a cumulative monotonic sum", m.Name())
				}
				dps := m.Sum().DataPoints()
				for k := 0; k < dps.Len(); k++ {
					dp := dps.At(k)
					sumPoints++
					key := [3]string{host, attr(dp.Attributes(), "http.route"), attr(dp.Attributes(), "http.response.status_code")}
					if dp.IntValue() != s.requests[key] {
						t.Fatalf("%s %v: %d, the traces had %d", m.Name(), key, dp.IntValue(), s.requests[key])
					}
					totalReq += uint64(dp.IntValue())
				}
			case "db.client.operation.duration":
				if m.Type() != pmetric.MetricTypeHistogram || m.Histogram().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
					t.Fatalf("%s: want a cumulative histogram", m.Name())
				}
				dps := m.Histogram().DataPoints()
				for k := 0; k < dps.Len(); k++ {
					dp := dps.At(k)
					histPoints++
					coll := attr(dp.Attributes(), "db.operation.name") + " " + attr(dp.Attributes(), "db.collection.name")
					if want := s.db[[2]string{host, coll}]; dp.Count() != want {
						t.Fatalf("%s %s %s: count %d, the traces had %d", m.Name(), host, coll, dp.Count(), want)
					}
					totalDB += dp.Count()
					bounds, counts := dp.ExplicitBounds().AsRaw(), dp.BucketCounts().AsRaw()
					if len(counts) != len(bounds)+1 {
						t.Fatalf("%s: %d counts for %d bounds", m.Name(), len(counts), len(bounds))
					}
					var sum uint64
					for b, c := range counts {
						sum += c
						if b > 0 && b < len(bounds) && bounds[b] <= bounds[b-1] {
							t.Fatalf("%s: bounds not ascending: %v", m.Name(), bounds)
						}
					}
					if sum != dp.Count() {
						t.Fatalf("%s: buckets hold %d, count %d", m.Name(), sum, dp.Count())
					}
					if dp.Exemplars().Len() == 0 {
						t.Fatalf("%s %s %s: no exemplars", m.Name(), host, coll)
					}
					used := map[int]bool{}
					for e := 0; e < dp.Exemplars().Len(); e++ {
						ex := dp.Exemplars().At(e)
						f := checkExemplar(t, s, ex, host, coll)
						if !f.db {
							t.Fatalf("%s: exemplar of a span that is not a database call", m.Name())
						}
						b := 0
						for b < len(bounds) && ex.DoubleValue() > bounds[b] {
							b++
						}
						if used[b] || counts[b] == 0 {
							t.Fatalf("%s: exemplar %v in bucket %d: second one, or bucket empty", m.Name(), ex.DoubleValue(), b)
						}
						used[b] = true
						exemplars++
					}
				}
			case "rpc.legacy.latency":
				if m.Type() != pmetric.MetricTypeSummary {
					t.Fatalf("%s: want a summary", m.Name())
				}
				dps := m.Summary().DataPoints()
				for k := 0; k < dps.Len(); k++ {
					dp := dps.At(k)
					summaryPoints++
					route := "/" + attr(dp.Attributes(), "rpc.service") + "/" + attr(dp.Attributes(), "rpc.method")
					if want := s.rpc[[2]string{host, route}]; dp.Count() != want {
						t.Fatalf("%s %s %s: count %d, the traces had %d", m.Name(), host, route, dp.Count(), want)
					}
					qs := dp.QuantileValues()
					if qs.Len() == 0 {
						t.Fatalf("%s: no quantiles", m.Name())
					}
					for q := 0; q < qs.Len(); q++ {
						if !s.rpcDurs[qs.At(q).Value()] {
							t.Fatalf("%s: quantile %v = %v is no observed duration", m.Name(), qs.At(q).Quantile(), qs.At(q).Value())
						}
						if q > 0 && (qs.At(q).Quantile() <= qs.At(q-1).Quantile() || qs.At(q).Value() < qs.At(q-1).Value()) {
							t.Fatalf("%s: quantiles out of order", m.Name())
						}
					}
				}
			case "process.memory.usage":
				if m.Type() != pmetric.MetricTypeGauge || m.Gauge().DataPoints().Len() != 1 || m.Gauge().DataPoints().At(0).IntValue() <= 0 {
					t.Fatalf("%s on %s: want one positive gauge point", m.Name(), host)
				}
				gauges++
			default:
				t.Fatalf("unexpected metric %q", m.Name())
			}
		}
		if gauges != 1 {
			t.Fatalf("%s: %d process.memory.usage metrics", host, gauges)
		}
	}
	var wantServer, wantDB uint64
	for _, f := range s.spans {
		switch {
		case f.kind == ptrace.SpanKindServer:
			wantServer++
		case f.db:
			wantDB++
		}
	}
	if totalServer != wantServer || totalReq != wantServer || totalDB != wantDB {
		t.Fatalf("metrics count %d server requests (sum %d) and %d database calls; the traces had %d and %d",
			totalServer, totalReq, totalDB, wantServer, wantDB)
	}
	if expPoints == 0 || histPoints == 0 || sumPoints == 0 || summaryPoints == 0 || exemplars == 0 {
		t.Fatalf("points: exp %d, hist %d, sum %d, summary %d; exemplars %d", expPoints, histPoints, sumPoints, summaryPoints, exemplars)
	}

	// Nothing new: the cumulative values stay, the exemplars are gone.
	again := g.Metrics(now)
	if again.DataPointCount() != md.DataPointCount() {
		t.Fatalf("second batch has %d points, the first %d", again.DataPointCount(), md.DataPointCount())
	}
	forEachExemplarCount(again, func(name string, count uint64, exemplars int) {
		if exemplars != 0 {
			t.Fatalf("%s: %d exemplars without new measurements", name, exemplars)
		}
	})
	var before, after uint64
	forEachExemplarCount(md, func(_ string, c uint64, _ int) { before += c })
	forEachExemplarCount(again, func(_ string, c uint64, _ int) { after += c })
	if before != after {
		t.Fatalf("cumulative counts went from %d to %d without new measurements", before, after)
	}
}

func checkExemplar(t *testing.T, s *seen, ex pmetric.Exemplar, host, key string) spanFact {
	t.Helper()
	f, ok := s.spans[ex.SpanID()]
	if !ok {
		t.Fatalf("exemplar span %v is no generated span", ex.SpanID())
	}
	if f.trace != ex.TraceID() || f.host != host || f.key != key {
		t.Fatalf("exemplar of span %v: trace %v on %s for %q, the span is trace %v on %s for %q",
			ex.SpanID(), ex.TraceID(), host, key, f.trace, f.host, f.key)
	}
	if ex.ValueType() != pmetric.ExemplarValueTypeDouble || ex.DoubleValue() != f.dur {
		t.Fatalf("exemplar value %v, the span lasted %v s", ex.DoubleValue(), f.dur)
	}
	// The value is the nearest double to a whole number of microseconds, so
	// rounding recovers the span's duration exactly (as Jaeger shows it).
	if us := math.Round(ex.DoubleValue() * 1e6); us/1e6 != ex.DoubleValue() {
		t.Fatalf("exemplar value %v s is no whole number of microseconds", ex.DoubleValue())
	}
	return f
}

func forEachExemplarCount(md pmetric.Metrics, fn func(name string, count uint64, exemplars int)) {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		ms := md.ResourceMetrics().At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			switch m.Type() {
			case pmetric.MetricTypeExponentialHistogram:
				for k := 0; k < m.ExponentialHistogram().DataPoints().Len(); k++ {
					dp := m.ExponentialHistogram().DataPoints().At(k)
					fn(m.Name(), dp.Count(), dp.Exemplars().Len())
				}
			case pmetric.MetricTypeHistogram:
				for k := 0; k < m.Histogram().DataPoints().Len(); k++ {
					dp := m.Histogram().DataPoints().At(k)
					fn(m.Name(), dp.Count(), dp.Exemplars().Len())
				}
			}
		}
	}
}
