package aggregator

import "github.com/weirdev/weir/sample"

// meanOutput is the sum divided by the count.
type meanOutput struct{}

func (meanOutput) name() string    { return "mean" }
func (meanOutput) suffix() string  { return "_mean" }
func (meanOutput) needs() needs    { return needs{} }
func (meanOutput) newExtra() extra { return nil }
func (meanOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	if w.n > 0 {
		out.put(t.SeriesLabels(s), w.sum.value()/w.n, sample.Exemplar{})
	}
}
