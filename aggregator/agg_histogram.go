package aggregator

// histogramOutput is bucketsOutput written as a Prometheus histogram: each
// bucket's count of the window is an increase that stage 2 adds to the
// bucket's running total (its _sum and _count too, as Cumulative Specs).
type histogramOutput struct{}

func (histogramOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	bucketsOutput{}.emit(w, t, s, out)
}
