package ingest

import (
	"slices"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

type buckets struct {
	off    int32
	counts []uint64
}

type expState struct {
	off      int64 // Input offset of the previous point's record.
	start, t uint64
	scale    int32
	zero     uint64
	pos, neg buckets
	sum      float64
	count    uint64
	seen     int64
}

func (c *MetricConverter) expHistogram(dp pmetric.ExponentialHistogramDataPoint, name, tenant string, cumulative bool, emit func(*sample.Point)) {
	c.stats.Points++
	if dp.Flags().NoRecordedValue() {
		if cumulative {
			c.endExp(seriesKey{tenant, c.labels(name, dp.Attributes(), "", "").hash})
		}
		c.drop(ReasonNoRecordedValue)
		return
	}
	cl := c.labels(name, dp.Attributes(), "", "")
	e := &sample.ExpHistogram{
		Scale:     dp.Scale(),
		ZeroCount: dp.ZeroCount(),
		PosOffset: dp.Positive().Offset(),
		Pos:       dp.Positive().BucketCounts().AsRaw(),
		NegOffset: dp.Negative().Offset(),
		Neg:       dp.Negative().BucketCounts().AsRaw(),
		Sum:       dp.Sum(),
		Count:     dp.Count(),
	}
	if cumulative && !c.expDelta(seriesKey{tenant, cl.hash}, uint64(dp.StartTimestamp()), uint64(dp.Timestamp()), e) {
		c.drop(c.why)
		return
	}
	e.Exemplars = exemplars(dp.Exemplars())
	c.p = sample.Point{Labels: cl.lbls, Hash: cl.hash, Series: &cl.series, Tenant: tenant, Kind: sample.ExponentialHistogram, T: millis(dp.Timestamp()), Exp: e,
		HasBase: cumulative, BaseOffset: c.base}
	c.stats.Emitted++
	emit(&c.p)
}

// expDelta turns e, holding a cumulative point, into the delta since the
// series' previous point, reporting false for a baseline or a replay. The
// previous point is first downscaled when the SDK lowered the scale (it may,
// as the range grows). A higher scale, a new start, or fewer observations in
// total, in the zero bucket or in any bucket is a reset: e stays cumulative.
func (c *MetricConverter) expDelta(k seriesKey, start, t uint64, e *sample.ExpHistogram) bool {
	s := c.exps[k]
	if s != nil && cumulativeReplay(start, t, s.start, s.t) {
		c.why = ReasonCumulativeReplay
		return false
	}
	cur := expState{
		start: start, t: t, scale: e.Scale, zero: e.ZeroCount,
		pos: buckets{e.PosOffset, slices.Clone(e.Pos)},
		neg: buckets{e.NegOffset, slices.Clone(e.Neg)},
		sum: e.Sum, count: e.Count, seen: c.stamp, off: c.offset,
	}
	c.holds.hold(c.offset)
	if s == nil {
		c.exps[k] = &cur
		c.why = ReasonCumulativeBaseline
		return false
	}
	c.holds.release(s.off)
	prev := *s
	*s = cur
	c.base = prev.off
	if start != prev.start || e.Scale > prev.scale || e.Count < prev.count || e.ZeroCount < prev.zero {
		return true
	}
	if shift := prev.scale - e.Scale; shift > 0 {
		prev.pos, prev.neg = downscale(prev.pos, shift), downscale(prev.neg, shift)
	}
	if !covers(e.PosOffset, e.Pos, prev.pos) || !covers(e.NegOffset, e.Neg, prev.neg) {
		return true
	}
	subtract(e.PosOffset, e.Pos, prev.pos)
	subtract(e.NegOffset, e.Neg, prev.neg)
	e.ZeroCount -= prev.zero
	e.Sum -= prev.sum
	e.Count -= prev.count
	return true
}

// downscale merges buckets into the scale shift steps coarser: bucket index
// i becomes i>>shift (an arithmetic shift floors negative indexes too).
func downscale(b buckets, shift int32) buckets {
	off := int64(b.off) >> shift
	if len(b.counts) == 0 {
		return buckets{off: int32(off)}
	}
	// int64: offset+length may overflow int32 for hostile input.
	last := (int64(b.off) + int64(len(b.counts)) - 1) >> shift
	out := make([]uint64, last-off+1)
	for i, n := range b.counts {
		out[((int64(b.off)+int64(i))>>shift)-off] += n
	}
	return buckets{int32(off), out}
}

// covers reports whether every non-empty previous bucket is within cur's
// range and holds no more than cur's bucket at the same index.
func covers(off int32, cur []uint64, prev buckets) bool {
	for i, n := range prev.counts {
		if n == 0 {
			continue
		}
		j := int64(prev.off) + int64(i) - int64(off)
		if j < 0 || j >= int64(len(cur)) || cur[j] < n {
			return false
		}
	}
	return true
}

func subtract(off int32, cur []uint64, prev buckets) {
	for i, n := range prev.counts {
		if n != 0 {
			cur[int64(prev.off)+int64(i)-int64(off)] -= n
		}
	}
}
