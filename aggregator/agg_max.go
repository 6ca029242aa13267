package aggregator

import "github.com/weirdev/weir/sample"

// maxOutput is the largest value of the points that carry one, with the
// exemplar of that value when the window kept one (a sketch's largest
// candidate).
type maxOutput struct{}

func (maxOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	if !w.scalar {
		return
	}
	var ex sample.Exemplar
	if w.sk != nil {
		if mx := w.sk.maxExemplar(); mx.Value == w.max {
			ex = mx
		}
	}
	out.put(t.SeriesLabels(s), w.max, ex)
}
