package aggregator

import "github.com/weirdev/weir/sample"

// meanOutput is the sum divided by the count.
type meanOutput struct{}

func (meanOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	if w.n > 0 {
		out.put(t.SeriesLabels(s), w.sum.value()/w.n, sample.Exemplar{})
	}
}
