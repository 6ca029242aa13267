package ingest

// seriesKey identifies a series' cumulative state. The label hash stands for
// the labels: a 64-bit collision between two live series of one tenant on one
// partition is accepted as negligible, as in Prometheus' own hash maps.
type seriesKey struct {
	tenant string
	hash   uint64
}

type numState struct {
	start, t uint64 // StartTimestamp and Timestamp of the previous point, ns.
	v        float64
	seen     int64 // Wall time the series was last converted, Unix ns.
	off      int64 // Input offset of the previous point's record (see SetOffset).
}

// cumulative returns the increase of a monotonic cumulative sum since the
// series' previous point. ok is false for a baseline (first point) and for a
// replay (not newer than the previous point, same start). A new start or a
// decrease is a reset: the counter restarted from zero, so the increase is v.
func (c *MetricConverter) cumulative(k seriesKey, start, t uint64, v float64) (d float64, ok bool) {
	s, seen := c.nums[k]
	if seen && start == s.start && t <= s.t {
		c.why = ReasonCumulativeReplay
		return 0, false
	}
	c.nums[k] = numState{start: start, t: t, v: v, seen: c.stamp, off: c.offset}
	if seen {
		c.holds.release(s.off)
	}
	c.holds.hold(c.offset)
	switch {
	case !seen:
		c.why = ReasonCumulativeBaseline
		return 0, false
	case start != s.start || v < s.v:
		c.base = s.off
		return v, true
	}
	c.base = s.off
	return v - s.v, true
}

// endNum, endHist and endExp forget a series that ended (a point with no
// recorded value): its next point, if any, is a baseline.
func (c *MetricConverter) endNum(k seriesKey) {
	if s, ok := c.nums[k]; ok {
		c.holds.release(s.off)
		delete(c.nums, k)
	}
}

func (c *MetricConverter) endHist(k seriesKey) {
	if s := c.hists[k]; s != nil {
		c.holds.release(s.off)
		delete(c.hists, k)
	}
}

func (c *MetricConverter) endExp(k seriesKey) {
	if s := c.exps[k]; s != nil {
		c.holds.release(s.off)
		delete(c.exps, k)
	}
}

// cumulativeReplay reports whether a histogram point is a baseline-less
// replay: same start as the previous point and not newer.
func cumulativeReplay(start, t, prevStart, prevT uint64) bool {
	return start == prevStart && t <= prevT
}

// sweepStale drops the state of series not converted for staleAfter, at most
// twice per staleAfter, so that series that ended do not hold memory forever.
func (c *MetricConverter) sweepStale() {
	if c.stamp < c.sweep {
		return
	}
	ttl := int64(c.cfg.staleAfter)
	c.sweep = c.stamp + ttl/2
	cut := c.stamp - ttl
	for k, s := range c.nums {
		if s.seen < cut {
			c.holds.release(s.off)
			delete(c.nums, k)
		}
	}
	for k, s := range c.hists {
		if s.seen < cut {
			c.holds.release(s.off)
			delete(c.hists, k)
		}
	}
	for k, s := range c.exps {
		if s.seen < cut {
			c.holds.release(s.off)
			delete(c.exps, k)
		}
	}
}
