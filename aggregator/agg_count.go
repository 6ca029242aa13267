package aggregator

import "github.com/weirdev/weir/sample"

// countOutput is the number of points (gauges, deltas) or observations.
type countOutput struct{}

func (countOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	out.put(t.SeriesLabels(s), w.n, sample.Exemplar{})
}
