package aggregator

// totalOutput is the window's increase (as increaseOutput) written as a
// Prometheus counter: stage 2 adds it to the series' running total.
type totalOutput struct{}

func (totalOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	increaseOutput{}.emit(w, t, s, out)
}
