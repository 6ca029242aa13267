package ingest

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

// benchTraces is a 100-span batch: 10 traces of 10 spans from 3 services.
var benchTraceIDs = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

func reportRate(b *testing.B, perOp int, unit string) {
	b.ReportMetric(float64(perOp)*float64(b.N)/b.Elapsed().Seconds(), unit)
}

func BenchmarkDecodeTraces(b *testing.B) {
	for _, enc := range encodings {
		b.Run(string(enc), func(b *testing.B) {
			raw := traceRecords(b, enc, benchTraceIDs, 10, 3, false)[0].value
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeTraces(enc, raw); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, 100, "spans/s")
		})
	}
}

func BenchmarkSpanConvert(b *testing.B) {
	raw := traceRecords(b, EncodingProto, benchTraceIDs, 10, 3, false)[0].value
	td, err := DecodeTraces(EncodingProto, raw)
	if err != nil {
		b.Fatal(err)
	}
	for _, dims := range [][]string{nil, {"http.request.method", "deployment.environment"}} {
		b.Run(fmt.Sprintf("dims=%d", len(dims)), func(b *testing.B) {
			c := NewSpanConverter(SpanDimensions(dims...))
			n := 0
			emit := func(*sample.Point) { n++ }
			b.ReportAllocs()
			for b.Loop() {
				c.Convert(td, 0, "", emit)
			}
			if n != 100*b.N {
				b.Fatalf("%d points for %d iterations", n, b.N)
			}
			reportRate(b, 100, "spans/s")
		})
	}
}

// BenchmarkDecodeAndSpanConvert is the per-record work of the spans topic.
func BenchmarkDecodeAndSpanConvert(b *testing.B) {
	raw := traceRecords(b, EncodingProto, benchTraceIDs, 10, 3, false)[0].value
	c := NewSpanConverter()
	emit := func(*sample.Point) {}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		td, err := DecodeTraces(EncodingProto, raw)
		if err != nil {
			b.Fatal(err)
		}
		c.Convert(td, 0, "", emit)
	}
	reportRate(b, 100, "spans/s")
}

func BenchmarkForEachTrace(b *testing.B) {
	for _, tc := range []struct {
		name     string
		perTrace bool
	}{{"batch_of_10", false}, {"one_trace", true}} {
		b.Run(tc.name, func(b *testing.B) {
			raw := traceRecords(b, EncodingProto, benchTraceIDs, 10, 3, tc.perTrace)[0].value
			td, err := DecodeTraces(EncodingProto, raw)
			if err != nil {
				b.Fatal(err)
			}
			fn := func(sample.TraceID, []byte, int, bool) {}
			b.ReportAllocs()
			for b.Loop() {
				if err := ForEachTrace(EncodingProto, raw, td, fn); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, td.SpanCount(), "spans/s")
		})
	}
}

// benchMetrics is one scrape of 100 series: 50 cumulative counters, 25
// gauges and 25 cumulative 10-bucket histograms, two attributes each.
func benchMetrics(step int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	rm.Resource().Attributes().PutStr("k8s.pod.name", "checkout-7d9f")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	at := ts(time.Duration(step) * 10 * time.Second)
	counter := ms.AppendEmpty()
	counter.SetName("http.server.request.count")
	counter.SetUnit("{request}")
	sum := counter.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	gauge := ms.AppendEmpty()
	gauge.SetName("process.memory.usage")
	gauge.SetUnit("By")
	g := gauge.SetEmptyGauge()
	hist := ms.AppendEmpty()
	hist.SetName("http.server.request.duration")
	hist.SetUnit("s")
	h := hist.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i := range 50 {
		dp := sum.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(ts(0))
		dp.SetTimestamp(at)
		dp.SetIntValue(int64(step * (i + 1)))
		dp.Attributes().PutStr("http.route", fmt.Sprintf("/api/%d", i))
		dp.Attributes().PutStr("http.request.method", "GET")
	}
	for i := range 25 {
		dp := g.DataPoints().AppendEmpty()
		dp.SetTimestamp(at)
		dp.SetDoubleValue(float64(step + i))
		dp.Attributes().PutStr("memory.type", fmt.Sprintf("pool-%d", i))
		dp.Attributes().PutStr("memory.state", "used")
		hp := h.DataPoints().AppendEmpty()
		hp.SetStartTimestamp(ts(0))
		hp.SetTimestamp(at)
		hp.Attributes().PutStr("http.route", fmt.Sprintf("/api/%d", i))
		hp.Attributes().PutStr("http.request.method", "GET")
		hp.ExplicitBounds().FromRaw([]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})
		counts := make([]uint64, 10)
		for k := range counts {
			counts[k] = uint64(step * (k + 1))
		}
		hp.BucketCounts().FromRaw(counts)
		hp.SetCount(uint64(step * 55))
		hp.SetSum(float64(step) * 3.5)
	}
	return md
}

func BenchmarkMetricConvert(b *testing.B) {
	batches := make([]pmetric.Metrics, 64)
	for i := range batches {
		batches[i] = benchMetrics(i + 1)
	}
	n := convertScrapes(b, len(batches), func(c *MetricConverter, i int, emit func(*sample.Point)) {
		c.Convert(batches[i], "", emit)
	})
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "points/s")
	reportRate(b, 100, "datapoints/s")
}

// convertScrapes runs convert over n consecutive scrapes in turn, so that
// cumulative points yield deltas; a new converter every n iterations
// restarts from a baseline. Each scrape is a record of its own offset. It
// returns the points emitted.
func convertScrapes(b *testing.B, n int, convert func(c *MetricConverter, i int, emit func(*sample.Point))) int {
	var c *MetricConverter
	points := 0
	emit := func(*sample.Point) { points++ }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%n == 0 {
			c = NewMetricConverter()
		}
		c.SetOffset(int64(i)) // as the pipeline does: the state holds records
		convert(c, i%n, emit)
		i++
	}
	if points == 0 {
		b.Fatal("no points")
	}
	return points
}

// BenchmarkMetricsRecord compares the two ways of a metrics record into
// points: pdata's decoding and Convert, against ConvertProto reading gauges
// and sums in place (and handing other metrics to pdata one by one). Records
// are benchMetrics' (50 sums, 25 gauges and 25 histograms), and the same
// without the histograms; consecutive scrapes, as in BenchmarkMetricConvert.
func BenchmarkMetricsRecord(b *testing.B) {
	for _, hists := range []bool{false, true} {
		recs := make([][]byte, 64)
		points := 0
		for i := range recs {
			md := benchMetrics(i + 1)
			if !hists {
				md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().RemoveIf(func(m pmetric.Metric) bool {
					return m.Type() == pmetric.MetricTypeHistogram
				})
			}
			points = md.DataPointCount()
			raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
			if err != nil {
				b.Fatal(err)
			}
			recs[i] = raw
		}
		for _, fast := range []bool{false, true} {
			name := "gauges-sums/"
			if hists {
				name = "with-histograms/"
			}
			if fast {
				name += "fast"
			} else {
				name += "pdata"
			}
			b.Run(name, func(b *testing.B) {
				convertScrapes(b, len(recs), func(c *MetricConverter, i int, emit func(*sample.Point)) {
					if fast {
						if err := c.ConvertProto(recs[i], "", emit); err != nil {
							b.Fatal(err)
						}
						return
					}
					md, err := DecodeMetrics(EncodingProto, recs[i])
					if err != nil {
						b.Fatal(err)
					}
					c.Convert(md, "", emit)
				})
				reportRate(b, points, "datapoints/s")
			})
		}
	}
}
