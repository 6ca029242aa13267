package aggregator

import (
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

// Series is one output sample of a closed window.
type Series struct {
	Labels labels.Labels
	// T is the window's end in Unix milliseconds: the sample stands for the
	// window [T-resolution, T).
	T int64
	V float64
	// Exemplar is set (Valid) for quantiles, max and histogram buckets when a
	// real measurement with a trace landed there. Its timestamp is within
	// the window.
	Exemplar sample.Exemplar
	// Route is the Target's Route.
	Route string
	// Cumulative marks an increase to be added to the series' running total
	// (its Spec is Cumulative): V is this window's part of it.
	Cumulative bool
}

// emit produces the output samples of a closed window, in Spec order.
func (w *window) emit(t *Target, fn func(Series)) {
	end := w.start + t.Resolution
	out := func(ls labels.Labels, v float64, ex sample.Exemplar) {
		if ex.Valid() {
			// An SDK measures an exemplar before it exports the point that
			// carries it, so the exemplar's time may precede the window its
			// point landed in: a graph would draw it by the window before.
			ex.T = min(max(ex.T, w.start), end-1)
		}
		fn(Series{Labels: ls, T: end, V: v, Exemplar: ex, Route: t.Route})
	}
	for i := range t.Specs {
		s := &t.Specs[i]
		o := outputOf(s.Agg)
		if o == nil {
			continue
		}
		if !s.Cumulative {
			o.emit(w, t, s, out)
			continue
		}
		o.emit(w, t, s, func(ls labels.Labels, v float64, ex sample.Exemplar) {
			if ex.Valid() {
				ex.T = min(max(ex.T, w.start), end-1)
			}
			fn(Series{Labels: ls, T: end, V: v, Exemplar: ex, Route: t.Route, Cumulative: true})
		})
	}
}
