// Package ingesttest makes OTLP input for tests of what weir does with
// it: generated, not hand-picked, and not the load generator's.
package ingesttest

import (
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// RandomMetrics makes OTLP metrics that the load generator never makes:
// every kind and temporality (unspecified included), histograms with 0 to
// 20 buckets (some with counts that do not fit their bounds), exponential
// histograms, summaries, NaN and infinite values, "no recorded value"
// points, and cumulative series whose points repeat (replays) or restart.
// Attribute values come from a small pool, so cumulative series recur.
// With stableBounds a histogram series keeps its bucket bounds; without, a
// series' points change them at random.
func RandomMetrics(r *rand.Rand, t0 time.Time, stableBounds bool) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", []string{"a", "b", "ünï"}[r.IntN(3)])
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	ts := func() pcommon.Timestamp {
		return pcommon.NewTimestampFromTime(t0.Add(time.Duration(r.IntN(5)) * time.Second))
	}
	value := func() float64 {
		switch r.IntN(20) {
		case 0:
			return math.NaN()
		case 1:
			return math.Inf(1 - 2*r.IntN(2))
		}
		return float64(r.IntN(1000))
	}
	temporality := func() pmetric.AggregationTemporality {
		return []pmetric.AggregationTemporality{pmetric.AggregationTemporalityDelta, pmetric.AggregationTemporalityCumulative,
			pmetric.AggregationTemporalityCumulative, pmetric.AggregationTemporalityUnspecified}[r.IntN(4)]
	}
	flags := func() pmetric.DataPointFlags {
		if r.IntN(15) == 0 {
			return pmetric.DefaultDataPointFlags.WithNoRecordedValue(true)
		}
		return pmetric.DefaultDataPointFlags
	}
	attrs := func(m pcommon.Map) { m.PutStr("k", string(rune('a'+r.IntN(3)))) }
	for range 1 + r.IntN(6) {
		m := ms.AppendEmpty()
		m.SetName([]string{"g", "s", "h", "e", "q"}[r.IntN(5)] + ".metric")
		n := 1 + r.IntN(3)
		switch r.IntN(5) {
		case 0:
			for range n {
				dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
				dp.SetTimestamp(ts())
				dp.SetDoubleValue(value())
				dp.SetFlags(flags())
				attrs(dp.Attributes())
			}
		case 1:
			s := m.SetEmptySum()
			s.SetAggregationTemporality(temporality())
			s.SetIsMonotonic(r.IntN(3) > 0)
			for range n {
				dp := s.DataPoints().AppendEmpty()
				dp.SetTimestamp(ts())
				dp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(-time.Duration(r.IntN(2)) * time.Hour)))
				if r.IntN(2) == 0 {
					dp.SetIntValue(int64(r.IntN(100)))
				} else {
					dp.SetDoubleValue(value())
				}
				dp.SetFlags(flags())
				attrs(dp.Attributes())
			}
		case 2:
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(temporality())
			for range n {
				dp := h.DataPoints().AppendEmpty()
				dp.SetTimestamp(ts())
				k := r.IntN(3)
				nb := r.IntN(21)
				if stableBounds {
					nb = 7 * k
				}
				for i := range nb {
					dp.ExplicitBounds().Append(float64(i + 1))
				}
				counts := nb + 1
				if nb == 0 && r.IntN(2) == 0 {
					counts = 0
				}
				if r.IntN(10) == 0 {
					counts += 1 + r.IntN(3) // malformed
				}
				var total uint64
				for range counts {
					c := uint64(r.IntN(10))
					total += c
					dp.BucketCounts().Append(c)
				}
				dp.SetCount(total)
				dp.SetSum(float64(total))
				dp.SetFlags(flags())
				dp.Attributes().PutStr("k", string(rune('a'+k)))
			}
		case 3:
			e := m.SetEmptyExponentialHistogram()
			e.SetAggregationTemporality(temporality())
			for range n {
				dp := e.DataPoints().AppendEmpty()
				dp.SetTimestamp(ts())
				dp.SetScale(int32(r.IntN(5)))
				dp.SetZeroCount(uint64(r.IntN(3)))
				dp.Positive().SetOffset(int32(r.IntN(10) - 5))
				var total uint64 = dp.ZeroCount()
				for range r.IntN(8) {
					c := uint64(r.IntN(5))
					total += c
					dp.Positive().BucketCounts().Append(c)
				}
				dp.SetCount(total)
				dp.SetFlags(flags())
				attrs(dp.Attributes())
			}
		case 4:
			for range n {
				dp := m.SetEmptySummary().DataPoints().AppendEmpty()
				dp.SetTimestamp(ts())
				dp.SetCount(uint64(r.IntN(10)))
				dp.SetSum(value())
				for _, q := range []float64{0.5, 0.99} {
					qv := dp.QuantileValues().AppendEmpty()
					qv.SetQuantile(q)
					qv.SetValue(value())
				}
				dp.SetFlags(flags())
				attrs(dp.Attributes())
			}
		}
	}
	return md
}

// SummaryExtra returns the sample.Points summaries yield beyond one per
// data point: their sum and non-NaN quantiles beside the count.
func SummaryExtra(md pmetric.Metrics) uint64 {
	var n uint64
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Type() != pmetric.MetricTypeSummary {
					continue
				}
				for _, dp := range m.Summary().DataPoints().All() {
					if dp.Flags().NoRecordedValue() {
						continue
					}
					if !math.IsNaN(dp.Sum()) {
						n++
					}
					for _, q := range dp.QuantileValues().All() {
						if !math.IsNaN(q.Value()) {
							n++
						}
					}
				}
			}
		}
	}
	return n
}
