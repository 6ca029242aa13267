package aggregator

import "github.com/weirdev/weir/sample"

// lastOutput is the value of the latest point by event time (the larger
// value on a tie, so that arrival order does not matter).
type lastOutput struct{}

func (lastOutput) name() string    { return "last" }
func (lastOutput) suffix() string  { return "_last" }
func (lastOutput) needs() needs    { return needs{scalar: true} }
func (lastOutput) newExtra() extra { return nil }
func (lastOutput) emit(w *window, t *Target, s *Spec, out emitFunc) {
	if w.scalar {
		out(t.SeriesLabels(s), w.lastV, sample.Exemplar{})
	}
}
