package aggregator

import "github.com/weirdev/weir/sample"

// minOutput is the smallest value of the points that carry one.
type minOutput struct{}

func (minOutput) name() string    { return "min" }
func (minOutput) suffix() string  { return "_min" }
func (minOutput) needs() needs    { return needs{scalar: true} }
func (minOutput) newExtra() extra { return nil }
func (minOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	if w.scalar {
		out.put(t.SeriesLabels(s), w.min, sample.Exemplar{})
	}
}
