package aggregator

import "github.com/weirdev/weir/sample"

// rateOutput is the increase per second of the window's resolution.
type rateOutput struct{}

func (rateOutput) name() string    { return "rate" }
func (rateOutput) suffix() string  { return "_rate" }
func (rateOutput) needs() needs    { return needs{} }
func (rateOutput) newExtra() extra { return nil }
func (rateOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	out.put(t.SeriesLabels(s), w.increase()/(float64(t.Resolution)/1000), sample.Exemplar{})
}
