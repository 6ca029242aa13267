package aggregator

import "github.com/weirdev/weir/sample"

// rateOutput is the increase per second of the window's resolution.
type rateOutput struct{}

func (rateOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	out.put(t.SeriesLabels(s), w.increase()/(float64(t.Resolution)/1000), sample.Exemplar{})
}
