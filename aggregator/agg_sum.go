package aggregator

import "github.com/weirdev/weir/sample"

// sumOutput is the exact sum of the window's values (observations weighted
// by their count, histograms by their sum).
type sumOutput struct{}

func (sumOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	out.put(t.SeriesLabels(s), w.sum.value(), sample.Exemplar{})
}
