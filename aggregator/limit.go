package aggregator

// OverflowLabel marks the series that points fold into beyond a series
// limit, as the collector's spanmetrics connector marks its overflow series
// (otel.metric.overflow).
const OverflowLabel = "otel_metric_overflow"

// SeriesLimit bounds the windows its targets open per window start in an
// input partition: a rule's max_series (at one policy, for one tenant), or
// a tenant's across its rules. A point that would open one more goes to its
// target's Overflow instead and is counted under Name. Which series
// overflow is decided in the partition's record order, so a replay decides
// alike.
type SeriesLimit struct {
	Name string
	Max  int
}

// limitWin counts, per limit and window start, the windows a partition has
// open under the limit.
type limitWin struct {
	l     *SeriesLimit
	start int64
}

// overLimit reports whether a new window of t starting at start would pass
// one of t's limits, and if not counts it under each.
func (p *Partition) overLimit(t *Target, start int64) bool {
	if p.limited == nil {
		p.limited = map[limitWin]int{}
	}
	for _, l := range t.Limits {
		if p.limited[limitWin{l, start}] >= l.Max {
			p.agg.m.overflow.WithLabelValues(l.Name).Inc()
			return true
		}
	}
	for _, l := range t.Limits {
		p.limited[limitWin{l, start}]++
	}
	return false
}

// released uncounts a window of t handed on.
func (p *Partition) released(t *Target, start int64) {
	for _, l := range t.Limits {
		k := limitWin{l, start}
		if n := p.limited[k]; n > 1 {
			p.limited[k] = n - 1
		} else {
			delete(p.limited, k)
		}
	}
}
