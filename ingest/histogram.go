package ingest

import (
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

type histState struct {
	off      int64 // Input offset of the previous point's record.
	start, t uint64
	bounds   []float64 // Shared with emitted points; replaced, never modified.
	counts   []uint64
	sum      float64
	count    uint64
	seen     int64
}

func (c *MetricConverter) histogram(dp pmetric.HistogramDataPoint, name, tenant string, cumulative bool, emit func(*sample.Point)) {
	c.stats.Points++
	if dp.Flags().NoRecordedValue() {
		if cumulative {
			c.endHist(seriesKey{tenant, c.labels(name, dp.Attributes(), "", "").hash})
		}
		c.drop(ReasonNoRecordedValue)
		return
	}
	bc, eb := dp.BucketCounts(), dp.ExplicitBounds()
	switch {
	case bc.Len() == 0:
		eb = pcommon.NewFloat64Slice() // Only a count and sum: one +Inf bucket.
	case bc.Len() != eb.Len()+1:
		c.drop(ReasonMalformedHistogram) // OTLP requires len(bounds)+1 counts, or none.
		return
	}
	e := c.labels(name, dp.Attributes(), "", "")
	h := &sample.BucketHistogram{Sum: dp.Sum(), Count: dp.Count(), Counts: bucketCounts(bc, dp.Count())}
	if cumulative {
		if !c.histDelta(seriesKey{tenant, e.hash}, dp, eb, h) {
			c.drop(c.why)
			return
		}
	} else {
		h.Bounds = eb.AsRaw()
	}
	h.Exemplars = exemplars(dp.Exemplars())
	c.p = sample.Point{Labels: e.lbls, Hash: e.hash, Series: &e.series, Tenant: tenant, Kind: sample.Histogram, T: millis(dp.Timestamp()), Hist: h,
		HasBase: cumulative, BaseOffset: c.base}
	c.stats.Emitted++
	emit(&c.p)
}

// bucketCounts returns a copy of the counts; a histogram without buckets is
// one +Inf bucket holding every observation.
func bucketCounts(bc pcommon.UInt64Slice, count uint64) []uint64 {
	if bc.Len() == 0 {
		return []uint64{count}
	}
	return bc.AsRaw()
}

// histDelta turns h, holding dp's cumulative counts, into the delta since the
// series' previous point and sets its bounds to eb. It reports false for a baseline
// or a replay. A new start, fewer observations in total or in any bucket, or
// new bounds is a reset: h keeps the cumulative counts.
func (c *MetricConverter) histDelta(k seriesKey, dp pmetric.HistogramDataPoint, eb pcommon.Float64Slice, h *sample.BucketHistogram) bool {
	start, t := uint64(dp.StartTimestamp()), uint64(dp.Timestamp())
	s := c.hists[k]
	if s != nil && cumulativeReplay(start, t, s.start, s.t) {
		c.why = ReasonCumulativeReplay
		return false
	}
	if s == nil {
		c.why = ReasonCumulativeBaseline
		c.hists[k] = &histState{start: start, t: t, bounds: eb.AsRaw(), counts: slices.Clone(h.Counts), sum: h.Sum, count: h.Count, seen: c.stamp, off: c.offset}
		c.holds.hold(c.offset)
		return false
	}
	c.holds.release(s.off)
	c.holds.hold(c.offset)
	c.base, s.off = s.off, c.offset
	reset := start != s.start || h.Count < s.count || len(h.Counts) != len(s.counts)
	if !boundsEqual(eb, s.bounds) {
		reset = true
		s.bounds = eb.AsRaw()
	}
	for i := 0; !reset && i < len(h.Counts); i++ {
		reset = h.Counts[i] < s.counts[i]
	}
	sum, count := h.Sum, h.Count
	if reset {
		s.counts = append(s.counts[:0], h.Counts...)
	} else {
		for i, n := range h.Counts {
			h.Counts[i] = n - s.counts[i]
			s.counts[i] = n
		}
		h.Sum -= s.sum
		h.Count -= s.count
	}
	h.Bounds = s.bounds
	s.start, s.t, s.sum, s.count, s.seen = start, t, sum, count, c.stamp
	return true
}

func boundsEqual(eb pcommon.Float64Slice, b []float64) bool {
	if eb.Len() != len(b) {
		return false
	}
	for i, v := range b {
		if eb.At(i) != v {
			return false
		}
	}
	return true
}
