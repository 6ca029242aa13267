package aggregator

// OverflowLabel marks the one series per rule, policy and tenant that a
// rule's points fold into beyond its max_series, as the collector's
// spanmetrics connector marks its overflow series (otel.metric.overflow).
const OverflowLabel = "otel_metric_overflow"

// SeriesLimit bounds the output series of one rule (at one policy, for one
// tenant): in each window, an input partition opens at most Max windows of
// the rule's targets; a point of a further series of that window goes to
// Overflow instead, and is counted under the rule's name. Which series
// overflow is decided in the partition's record order, so a replay decides
// alike.
type SeriesLimit struct {
	Rule     string
	Max      int
	Overflow *Target // has no Limit of its own
}

// limitWin counts, per limit and window start, the windows a partition has
// open under the limit.
type limitWin struct {
	l     *SeriesLimit
	start int64
}

// overLimit reports whether a new window of t starting at start would pass
// t's limit, and if not counts it.
func (p *Partition) overLimit(t *Target, start int64) bool {
	if p.limited == nil {
		p.limited = map[limitWin]int{}
	}
	k := limitWin{t.Limit, start}
	if p.limited[k] >= t.Limit.Max {
		p.agg.m.overflow.WithLabelValues(t.Limit.Rule).Inc()
		return true
	}
	p.limited[k]++
	return false
}

// released uncounts a window of t handed on.
func (p *Partition) released(t *Target, start int64) {
	k := limitWin{t.Limit, start}
	if n := p.limited[k]; n > 1 {
		p.limited[k] = n - 1
	} else {
		delete(p.limited, k)
	}
}
