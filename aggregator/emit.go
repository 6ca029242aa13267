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
	// Source is set on the samples whose exemplar coverage weir reports
	// (percentiles, a summary's quantiles, histogram buckets that
	// observations landed in): the kind of input the window's points were.
	// It is SourceNone on every other sample.
	Source Source
	// Route is the Target's Route.
	Route string
	// Cumulative marks an increase to be added to the series' running total
	// (its Spec is Cumulative): V is this window's part of it.
	Cumulative bool
}

// emitter hands a closed window's samples to its receiver.
type emitter struct {
	w   *window
	t   *Target
	tol float64 // the exemplar tolerance (ExemplarTolerance)
	fn  func(Series)
	// cumulative is the Cumulative of the Spec being emitted.
	cumulative bool
}

// put emits a sample outside the exemplar coverage.
func (e *emitter) put(ls labels.Labels, v float64, ex sample.Exemplar) {
	e.link(ls, v, ex, SourceNone)
}

// link emits a sample that counts in the exemplar coverage, whose window's
// points were of src.
func (e *emitter) link(ls labels.Labels, v float64, ex sample.Exemplar, src Source) {
	end := e.w.start + e.t.Resolution
	if ex.Valid() {
		// An SDK measures an exemplar before it exports the point that
		// carries it, so the exemplar's time may precede the window its
		// point landed in: a graph would draw it by the window before.
		ex.T = min(max(ex.T, e.w.start), end-1)
	}
	e.fn(Series{Labels: ls, T: end, V: v, Exemplar: ex, Source: src, Route: e.t.Route, Cumulative: e.cumulative})
}

// emit produces the output samples of a closed window, in Spec order; tol
// is the exemplar tolerance of its quantiles.
func (w *window) emit(t *Target, tol float64, fn func(Series)) {
	out := &emitter{w: w, t: t, tol: tol, fn: fn}
	for i := range t.Specs {
		s := &t.Specs[i]
		if e, ok := entryOf(s.Agg); ok {
			out.cumulative = s.Cumulative
			e.out.emit(w, t, s, out)
		}
	}
}
