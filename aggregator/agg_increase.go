package aggregator

import "github.com/weirdev/weir/sample"

// increaseOutput is the window's increase: the sum of deltas for counters,
// else the number of observations (a span's calls, a histogram's count).
type increaseOutput struct{}

func (increaseOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	out.put(t.SeriesLabels(s), w.increase(), sample.Exemplar{})
}

func (w *window) increase() float64 {
	if len(w.delta.partials) > 0 || w.delta.special != 0 {
		return w.delta.value()
	}
	return w.n
}
