package aggregator

import "github.com/weirdev/weir/sample"

// minOutput is the smallest value of the points that carry one.
type minOutput struct{}

func (minOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	if w.scalar {
		out.put(t.SeriesLabels(s), w.min, sample.Exemplar{})
	}
}
