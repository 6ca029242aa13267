package aggregator

import "github.com/weirdev/weir/sample"

// lastOutput is the value of the latest point by event time (the larger
// value on a tie, so that arrival order does not matter).
type lastOutput struct{}

func (lastOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	if !w.scalar {
		return
	}
	ls := t.SeriesLabels(s)
	if w.kinds == 1<<sample.Gauge && ls.Has(QuantileLabel) {
		// A summary's quantile, passing through: it counts in the exemplar
		// coverage as one that can never have an exemplar.
		out.link(ls, w.lastV, sample.Exemplar{}, SourceSummary)
		return
	}
	out.put(ls, w.lastV, sample.Exemplar{})
}
