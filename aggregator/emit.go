package aggregator

import (
	"math"
	"strconv"

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
	// real measurement with a trace landed there.
	Exemplar sample.Exemplar
	// Route is the Target's Route.
	Route string
}

// emit produces the output samples of a closed window, in Spec order. A spec
// that the window's points do not define (min of a histogram, a quantile of
// an empty sketch) produces nothing.
func (w *window) emit(t *Target, fn func(Series)) {
	end := w.start + t.Resolution
	out := func(ls labels.Labels, v float64, ex sample.Exemplar) {
		fn(Series{Labels: ls, T: end, V: v, Exemplar: ex, Route: t.Route})
	}
	for i := range t.Specs {
		s := &t.Specs[i]
		var ls labels.Labels
		if s.Agg != Quantile || w.sk != nil {
			ls = t.SeriesLabels(s)
		}
		switch s.Agg {
		case Sum:
			out(ls, w.sum.value(), sample.Exemplar{})
		case Count:
			out(ls, w.n, sample.Exemplar{})
		case Min:
			if w.scalar {
				out(ls, w.min, sample.Exemplar{})
			}
		case Max:
			if w.scalar {
				var ex sample.Exemplar
				if w.sk != nil {
					if mx := w.sk.maxExemplar(); mx.Value == w.max {
						ex = mx
					}
				}
				out(ls, w.max, ex)
			}
		case Last:
			if w.scalar {
				out(ls, w.lastV, sample.Exemplar{})
			}
		case Mean:
			if w.n > 0 {
				out(ls, w.sum.value()/w.n, sample.Exemplar{})
			}
		case Increase:
			out(ls, w.increase(), sample.Exemplar{})
		case Rate:
			out(ls, w.increase()/(float64(t.Resolution)/1000), sample.Exemplar{})
		case Quantile:
			if w.sk == nil {
				continue
			}
			v, k, ok := w.sk.quantile(s.Q)
			if !ok {
				continue
			}
			ex, _ := w.sk.candidate(k)
			out(ls, v, ex)
		case Buckets:
			w.emitBuckets(ls, out)
		}
	}
}

// increase is the sum of deltas for counters, else the number of
// observations (a span's "calls", a histogram's count).
func (w *window) increase() float64 {
	if len(w.delta.partials) > 0 || w.delta.special != 0 {
		return w.delta.value()
	}
	return w.n
}

// emitBuckets writes Prometheus-style cumulative le buckets of the window.
func (w *window) emitBuckets(base labels.Labels, out func(labels.Labels, float64, sample.Exemplar)) {
	h := w.hist
	if h == nil || h.counts == nil {
		return
	}
	b := labels.NewBuilder(base)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		le := math.Inf(1)
		if i < len(h.bounds) {
			le = h.bounds[i]
		}
		b.Set(labels.BucketLabel, formatLe(le))
		out(b.Labels(), float64(cum), h.ex[i])
	}
}

func formatLe(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
