package aggregator

import "github.com/weirdev/weir/sample"

// countOutput is the number of points (gauges, deltas) or observations.
type countOutput struct{}

func (countOutput) name() string    { return "count" }
func (countOutput) suffix() string  { return "_count" }
func (countOutput) needs() needs    { return needs{} }
func (countOutput) newExtra() extra { return nil }
func (countOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	out.put(t.SeriesLabels(s), w.n, sample.Exemplar{})
}
