package ingest

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

// pointString renders every field of a point, so that tests compare all of
// them and print a readable difference.
func pointString(p sample.Point) string {
	s := fmt.Sprintf("%s %s %s T=%d V=%g", p.Tenant, p.Kind, p.Labels, p.T, p.V)
	if p.Count != 0 {
		s += fmt.Sprintf(" C=%g", p.Count)
	}
	if p.Exemplar != (sample.Exemplar{}) {
		s += fmt.Sprintf(" ex=%+v", p.Exemplar)
	}
	if p.Hist != nil {
		s += fmt.Sprintf(" hist=%+v", *p.Hist)
	}
	if p.Exp != nil {
		s += fmt.Sprintf(" exp=%+v", *p.Exp)
	}
	return s
}

func pointStrings(ps []sample.Point) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = pointString(p)
	}
	return out
}

func checkPoints(t *testing.T, got, want []sample.Point) {
	t.Helper()
	g, w := pointStrings(got), pointStrings(want)
	if !slices.Equal(g, w) {
		t.Errorf("got %d points:\n  %s\nwant %d:\n  %s", len(g), join(g), len(w), join(w))
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "\n  "
		}
		out += x
	}
	return out
}

func ms(d time.Duration) int64 { return t0.Add(d).UnixMilli() }

// oneMetric returns a batch with one metric of the service "checkout"
// (resource also carrying k8s.namespace.name) for fill to shape.
func oneMetric(name string, fill func(m pmetric.Metric)) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	rm.Resource().Attributes().PutStr("k8s.namespace.name", "shop")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	fill(m)
	return md
}

// withResource adds the attributes kv (key, value, ...) to md's first resource.
func withResource(md pmetric.Metrics, kv ...string) pmetric.Metrics {
	for i := 0; i+1 < len(kv); i += 2 {
		md.ResourceMetrics().At(0).Resource().Attributes().PutStr(kv[i], kv[i+1])
	}
	return md
}

func putExemplar(es pmetric.ExemplarSlice, trace int, v float64, asInt bool, at time.Duration) {
	e := es.AppendEmpty()
	e.SetTraceID(traceID(trace))
	e.SetSpanID(spanID(trace, 1))
	e.SetTimestamp(ts(at))
	if asInt {
		e.SetIntValue(int64(v))
	} else {
		e.SetDoubleValue(v)
	}
}

func wantExemplar(trace int, v float64, at time.Duration) sample.Exemplar {
	return sample.Exemplar{TraceID: sample.TraceID(traceID(trace)), SpanID: sample.SpanID(spanID(trace, 1)), Value: v, T: ms(at), Partition: -1}
}

func TestMetricConvertTypes(t *testing.T) {
	svc := []string{"job", "checkout"}
	lbls := func(kv ...string) labels.Labels { return labels.FromStrings(append(kv, svc...)...) }
	for _, tc := range []struct {
		name string
		opts []ConvertOpt
		md   pmetric.Metrics
		want []sample.Point
	}{{
		name: "gauge int with attributes",
		md: oneMetric("process.memory.usage", func(m pmetric.Metric) {
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(time.Second))
			dp.SetIntValue(42)
			dp.Attributes().PutStr("memory.state", "used")
			dp.Attributes().PutInt("2xx", 1)
		}),
		want: []sample.Point{{Kind: sample.Gauge, T: ms(time.Second), V: 42,
			Labels: lbls("__name__", "process_memory_usage", "memory_state", "used", "key_2xx", "1")}},
	}, {
		name: "promoted resource attribute, point attribute wins",
		opts: []ConvertOpt{PromoteResourceAttributes("k8s.namespace.name", "absent")},
		md: oneMetric("g", func(m pmetric.Metric) {
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(0))
			dp.SetDoubleValue(1.5)
			dp.Attributes().PutStr("service.name", "override") // A label, service_name.
			dp.Attributes().PutStr("k8s.namespace.name", "point")
			dp.Attributes().PutStr("__name__", "not the name")
		}),
		want: []sample.Point{{Kind: sample.Gauge, T: ms(0), V: 1.5,
			Labels: labels.FromStrings("__name__", "g", "job", "checkout", "k8s_namespace_name", "point", "service_name", "override")}},
	}, {
		name: "promoted resource attribute, job and instance",
		opts: []ConvertOpt{PromoteResourceAttributes("k8s.namespace.name", "service.name")},
		md: withResource(oneMetric("g", func(m pmetric.Metric) {
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(0))
			dp.SetDoubleValue(1.5)
			dp.Attributes().PutStr("job", "a point's")
			dp.Attributes().PutStr("instance", "a point's")
		}), "service.namespace", "team-a", "service.instance.id", "627cc493", "host.name", "not promoted"),
		want: []sample.Point{{Kind: sample.Gauge, T: ms(0), V: 1.5,
			Labels: labels.FromStrings("__name__", "g", "job", "team-a/checkout", "instance", "627cc493", "k8s_namespace_name", "shop", "service_name", "checkout")}},
	}, {
		name: "every resource attribute promoted but the ignored",
		opts: []ConvertOpt{PromoteAllResourceAttributes("host.name")},
		md: withResource(oneMetric("g", func(m pmetric.Metric) {
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(0))
			dp.SetDoubleValue(1)
		}), "host.name", "not promoted", "cloud.region", "eu-1"),
		want: []sample.Point{{Kind: sample.Gauge, T: ms(0), V: 1,
			Labels: labels.FromStrings("__name__", "g", "job", "checkout", "service_name", "checkout", "k8s_namespace_name", "shop", "cloud_region", "eu-1")}},
	}, {
		name: "delta monotonic sum with int exemplar",
		md: oneMetric("requests", func(m pmetric.Metric) {
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			dp := s.DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(time.Minute))
			dp.SetIntValue(7)
			dp.Exemplars().AppendEmpty().SetDoubleValue(99) // No trace: skipped.
			putExemplar(dp.Exemplars(), 5, 3, true, 59*time.Second)
			putExemplar(dp.Exemplars(), 6, 4, false, 58*time.Second)
		}),
		want: []sample.Point{{Kind: sample.Delta, T: ms(time.Minute), V: 7,
			Labels: lbls("__name__", "requests_total"), Exemplar: wantExemplar(5, 3, 59*time.Second)}},
	}, {
		name: "delta non-monotonic sum",
		md: oneMetric("queue.change", func(m pmetric.Metric) {
			s := m.SetEmptySum()
			s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			dp := s.DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(0))
			dp.SetDoubleValue(-3)
		}),
		want: []sample.Point{{Kind: sample.Delta, T: ms(0), V: -3, Labels: lbls("__name__", "queue_change")}},
	}, {
		name: "cumulative non-monotonic sum is a gauge from the first point",
		md: oneMetric("queue.size", func(m pmetric.Metric) {
			s := m.SetEmptySum()
			s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := s.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(ts(0))
			dp.SetTimestamp(ts(time.Second))
			dp.SetIntValue(12)
		}),
		want: []sample.Point{{Kind: sample.Gauge, T: ms(time.Second), V: 12, Labels: lbls("__name__", "queue_size")}},
	}, {
		name: "summary",
		md: oneMetric("rpc.latency", func(m pmetric.Metric) {
			dp := m.SetEmptySummary().DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(time.Second))
			dp.SetCount(10)
			dp.SetSum(2.5)
			dp.Attributes().PutStr("rpc.method", "Get")
			for _, q := range [][2]float64{{0.5, 0.2}, {0.99, 0.9}} {
				qv := dp.QuantileValues().AppendEmpty()
				qv.SetQuantile(q[0])
				qv.SetValue(q[1])
			}
		}),
		want: []sample.Point{
			{Kind: sample.Gauge, T: ms(time.Second), V: 0.2, Labels: lbls("__name__", "rpc_latency", "quantile", "0.5", "rpc_method", "Get")},
			{Kind: sample.Gauge, T: ms(time.Second), V: 0.9, Labels: lbls("__name__", "rpc_latency", "quantile", "0.99", "rpc_method", "Get")},
			{Kind: sample.Gauge, T: ms(time.Second), V: 2.5, Labels: lbls("__name__", "rpc_latency_sum", "rpc_method", "Get")},
			{Kind: sample.Gauge, T: ms(time.Second), V: 10, Labels: lbls("__name__", "rpc_latency_count", "rpc_method", "Get")},
		},
	}, {
		name: "delta histogram with exemplars, and one without buckets",
		md: oneMetric("http.server.duration", func(m pmetric.Metric) {
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			dp := h.DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(time.Second))
			dp.ExplicitBounds().FromRaw([]float64{0.1, 1})
			dp.BucketCounts().FromRaw([]uint64{4, 2, 1})
			dp.SetCount(7)
			dp.SetSum(3.25)
			putExemplar(dp.Exemplars(), 1, 0.05, false, 0)
			putExemplar(dp.Exemplars(), 2, 2, true, 0)
			dp = h.DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(2 * time.Second))
			dp.SetCount(3)
			dp.SetSum(1)
		}),
		want: []sample.Point{
			{Kind: sample.Histogram, T: ms(time.Second), Labels: lbls("__name__", "http_server_duration"), Hist: &sample.BucketHistogram{
				Bounds: []float64{0.1, 1}, Counts: []uint64{4, 2, 1}, Sum: 3.25, Count: 7,
				Exemplars: []sample.Exemplar{wantExemplar(1, 0.05, 0), wantExemplar(2, 2, 0)}}},
			{Kind: sample.Histogram, T: ms(2 * time.Second), Labels: lbls("__name__", "http_server_duration"), Hist: &sample.BucketHistogram{
				Bounds: []float64{}, Counts: []uint64{3}, Sum: 1, Count: 3}},
		},
	}, {
		name: "delta exponential histogram",
		md: oneMetric("latency", func(m pmetric.Metric) {
			h := m.SetEmptyExponentialHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			dp := h.DataPoints().AppendEmpty()
			dp.SetTimestamp(ts(time.Second))
			dp.SetScale(3)
			dp.SetZeroCount(1)
			dp.Positive().SetOffset(-2)
			dp.Positive().BucketCounts().FromRaw([]uint64{1, 0, 5})
			dp.Negative().SetOffset(4)
			dp.Negative().BucketCounts().FromRaw([]uint64{2})
			dp.SetCount(9)
			dp.SetSum(4)
			putExemplar(dp.Exemplars(), 3, 1.1, false, time.Second)
		}),
		want: []sample.Point{{Kind: sample.ExponentialHistogram, T: ms(time.Second), Labels: lbls("__name__", "latency"), Exp: &sample.ExpHistogram{
			Scale: 3, ZeroCount: 1, PosOffset: -2, Pos: []uint64{1, 0, 5}, NegOffset: 4, Neg: []uint64{2}, Sum: 4, Count: 9,
			Exemplars: []sample.Exemplar{wantExemplar(3, 1.1, time.Second)}}}},
	}, {
		name: "nothing from NaN, no recorded value, unspecified temporality, malformed histogram",
		md: oneMetric("bad", func(m pmetric.Metric) {
			g := m.SetEmptyGauge().DataPoints()
			g.AppendEmpty().SetDoubleValue(math.NaN())
			dp := g.AppendEmpty()
			dp.SetDoubleValue(1)
			dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
		}),
	}, {
		name: "unspecified temporality",
		md: oneMetric("bad", func(m pmetric.Metric) {
			m.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(1)
		}),
	}, {
		name: "malformed histogram",
		md: oneMetric("bad", func(m pmetric.Metric) {
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			dp := h.DataPoints().AppendEmpty()
			dp.ExplicitBounds().FromRaw([]float64{1, 2})
			dp.BucketCounts().FromRaw([]uint64{1, 2})
		}),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var got []sample.Point
			NewMetricConverter(tc.opts...).Convert(tc.md, "", collect(&got))
			checkPoints(t, got, tc.want)
		})
	}
}

func TestMetricConvertTenant(t *testing.T) {
	for _, tc := range []struct {
		name, record, attr string
		opts               []ConvertOpt
		want               string
	}{
		{"record tenant", "acme", "", nil, "acme"},
		{"record tenant wins over attribute", "acme", "evil", []ConvertOpt{TenantAttribute("tenant.id")}, "acme"},
		{"attribute when record has none", "", "globex", []ConvertOpt{TenantAttribute("tenant.id"), FallbackTenant("fb")}, "globex"},
		{"fallback when attribute missing", "", "", []ConvertOpt{TenantAttribute("tenant.id"), FallbackTenant("fb")}, "fb"},
		{"attribute ignored when not configured", "", "globex", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := metricBatch(1)
			if tc.attr != "" {
				md.ResourceMetrics().At(0).Resource().Attributes().PutStr("tenant.id", tc.attr)
			}
			var got []sample.Point
			NewMetricConverter(tc.opts...).Convert(md, tc.record, collect(&got))
			if len(got) == 0 {
				t.Fatal("no points")
			}
			for _, p := range got {
				if p.Tenant != tc.want {
					t.Errorf("%s: tenant %q, want %q", p.Labels, p.Tenant, tc.want)
				}
			}
			var spans []sample.Point
			td := traceBatch([]int{1}, 1, 1)
			if tc.attr != "" {
				td.ResourceSpans().At(0).Resource().Attributes().PutStr("tenant.id", tc.attr)
			}
			NewSpanConverter(tc.opts...).Convert(td, 0, tc.record, collect(&spans))
			if len(spans) != 1 || spans[0].Tenant != tc.want {
				t.Errorf("span points %v, want one of tenant %q", pointStrings(spans), tc.want)
			}
		})
	}
}

// The converter must not alias pdata memory: points stay intact after the
// batch is changed or converted again.
func TestMetricPointsOwnTheirMemory(t *testing.T) {
	md := metricBatch(1)
	c := NewMetricConverter()
	var got []sample.Point
	c.Convert(md, "", collect(&got))
	before := pointStrings(got)
	hp := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(2).Histogram().DataPoints().At(0)
	hp.BucketCounts().SetAt(0, 1000)
	hp.ExplicitBounds().SetAt(0, 1000)
	c.Convert(metricBatch(2), "", func(*sample.Point) {})
	if after := pointStrings(got); !slices.Equal(before, after) {
		t.Errorf("points changed after the batch did:\n%v\n%v", before, after)
	}
}
