package aggregator

// quantileOutput is the DDSketch q-quantile of the window's distribution,
// with the candidate exemplar of the sketch bucket holding it or, when that
// bucket has none, the candidate nearest the quantile within the exemplar
// tolerance (see ExemplarTolerance).
type quantileOutput struct{}

func (quantileOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	if w.sk == nil {
		return
	}
	v, k, ok := w.sk.quantile(s.Q)
	if !ok {
		return
	}
	ex, _ := w.sk.near(k, v, out.tol)
	out.link(t.SeriesLabels(s), v, ex, w.source())
}
