package ingest

import (
	"math/rand/v2"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

// TestBaseHoldsModel: after any sequence of series moving to newer records
// and ending, oldest is the oldest record some series' previous point is
// in, and the entries stay within twice the records held.
func TestBaseHoldsModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h baseHolds
	at := map[int]int64{} // series -> record of its previous point
	for off := int64(0); off < 20000; off++ {
		for range 1 + rng.IntN(4) {
			s := rng.IntN(50)
			if s == 0 && off%1000 != 0 {
				continue // series 0 reports rarely: it holds an old record
			}
			if prev, ok := at[s]; ok {
				h.release(prev)
			}
			if rng.IntN(20) == 0 {
				delete(at, s) // the series ends
				continue
			}
			h.hold(off)
			at[s] = off
		}
		want, wantOK := int64(0), len(at) > 0
		records := map[int64]bool{}
		for _, o := range at {
			if len(records) == 0 || o < want {
				want = o
			}
			records[o] = true
		}
		if got, ok := h.oldest(); ok != wantOK || got != want {
			t.Fatalf("record %d: oldest = %d, %v; want %d, %v", off, got, ok, want, wantOK)
		}
		if len(h.recs) > max(64, 2*len(records)) || h.live != len(records) {
			t.Fatalf("record %d: %d entries, %d live, for %d records held", off, len(h.recs), h.live, len(records))
		}
	}
}

// cumulativePoint is one cumulative point of series (a route) of kind
// (sum, hist or exp) at step, with cumulative count n, or its end.
func cumulativePoint(kind, series string, step int, n uint64, end bool) pmetric.Metrics {
	at := ts(time.Duration(step) * 10 * time.Second)
	flags := pmetric.DefaultDataPointFlags.WithNoRecordedValue(end)
	return oneMetric(kind, func(m pmetric.Metric) {
		switch kind {
		case "sum":
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := s.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(ts(0))
			dp.SetTimestamp(at)
			dp.SetIntValue(int64(n))
			dp.Attributes().PutStr("route", series)
			dp.SetFlags(flags)
		case "hist":
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := h.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(ts(0))
			dp.SetTimestamp(at)
			dp.ExplicitBounds().FromRaw([]float64{1})
			dp.BucketCounts().FromRaw([]uint64{n, 0})
			dp.SetCount(n)
			dp.Attributes().PutStr("route", series)
			dp.SetFlags(flags)
		case "exp":
			h := m.SetEmptyExponentialHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := h.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(ts(0))
			dp.SetTimestamp(at)
			dp.Positive().BucketCounts().FromRaw([]uint64{n})
			dp.SetCount(n)
			dp.Attributes().PutStr("route", series)
			dp.SetFlags(flags)
		}
	})
}

// TestOldestBase: a converter's oldest base is the oldest record holding
// the previous point of one of its live cumulative series, whatever the
// series' kind: a series moves it by its next point, releases it by its end
// or by going stale, and a replayed point (not newer) holds on to the
// record of the point it repeats.
func TestOldestBase(t *testing.T) {
	type rec struct {
		series string
		step   int
		end    bool
		want   int64 // OldestBase after the record; -1: none
	}
	for _, kind := range []string{"sum", "hist", "exp"} {
		for _, tc := range []struct {
			name string
			recs []rec
		}{
			{"a baseline holds its record; each next point moves it", []rec{{"/a", 1, false, 0}, {"/a", 2, false, 1}, {"/a", 3, false, 2}}},
			{"the series reporting least holds it", []rec{{"/a", 1, false, 0}, {"/b", 1, false, 0}, {"/b", 2, false, 0}, {"/a", 2, false, 2}}},
			{"an end releases it", []rec{{"/a", 1, false, 0}, {"/b", 1, false, 0}, {"/a", 2, true, 1}, {"/b", 2, true, -1}}},
			{"a replay holds the record it repeats", []rec{{"/a", 1, false, 0}, {"/a", 1, false, 0}, {"/a", 2, false, 2}}},
		} {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				c := NewMetricConverter()
				for i, r := range tc.recs {
					c.SetOffset(int64(i))
					c.Convert(cumulativePoint(kind, r.series, r.step, uint64(10*r.step), r.end), "", func(*sample.Point) {})
					got, ok := c.OldestBase()
					if !ok {
						got = -1
					}
					if got != r.want {
						t.Fatalf("after record %d: OldestBase = %d, want %d", i, got, r.want)
					}
				}
			})
		}
	}
	t.Run("stale", func(t *testing.T) {
		now := t0
		c := NewMetricConverter(StaleAfter(time.Minute))
		c.now = func() time.Time { return now }
		for i, kind := range []string{"sum", "hist", "exp"} {
			c.SetOffset(int64(i))
			c.Convert(cumulativePoint(kind, "/a", 1, 1, false), "", func(*sample.Point) {})
		}
		now = now.Add(90 * time.Second) // the sweep of the next conversion drops all three
		c.SetOffset(3)
		c.Convert(cumulativePoint("sum", "/b", 1, 1, false), "", func(*sample.Point) {})
		if got, ok := c.OldestBase(); !ok || got != 3 {
			t.Fatalf("OldestBase = %d, %v; want 3, true (the series of offsets 0-2 went stale)", got, ok)
		}
	})
}
