package aggregator

// totalOutput is the window's increase (as increaseOutput) written as a
// Prometheus counter: stage 2 adds it to the series' running total.
type totalOutput struct{}

func (totalOutput) name() string    { return "total" }
func (totalOutput) suffix() string  { return "_total" }
func (totalOutput) needs() needs    { return needs{} }
func (totalOutput) newExtra() extra { return nil }
func (totalOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	increaseOutput{}.emit(w, t, s, out)
}
