package aggregator

import (
	"errors"
	"math"
	"slices"

	"github.com/DataDog/sketches-go/ddsketch/mapping"

	"github.com/weirdev/weir/sample"
)

// window is the mergeable state of one (target, window start). Stage 1 fills
// it from points, stage 2 merges the partial windows of all input partitions.
type window struct {
	start int64
	// n counts points (Gauge, Delta) or observations (the others).
	n   float64
	sum exactSum
	// delta is the sum of Delta points: the window's increase.
	delta exactSum
	// scalar reports whether any point carried a single value, which min, max
	// and last are defined for. noScalar: the target emits none of them,
	// and they are not kept.
	scalar   bool
	noScalar bool
	// kinds has bit 1<<k set for each sample.Kind k among the window's
	// points: what its exemplars can come from (see source).
	kinds    uint8
	min, max float64
	lastT    int64
	lastV    float64
	sk       *sketch
	hist     *bucketHist
	// ext holds the extra states of the target's outputs that keep one
	// (Target.needs.extra, in that order).
	ext []extra
}

var errUnknownKind = errors.New("unknown point kind")

// initWindow readies w, a zero window, for target t's window at start, its
// sketch sized for buckets.
func initWindow(w *window, t *Target, start int64, m *mapping.LogarithmicMapping, buckets int) {
	*w = window{start: start, min: math.Inf(1), max: math.Inf(-1), noScalar: !t.needs.scalar}
	if t.needs.dist {
		w.sk = newSketch(m)
		w.sk.reserve(buckets)
	}
	if t.needs.buckets {
		w.hist = &bucketHist{}
		if len(t.Bounds) > 0 {
			w.hist.counts = make([]uint64, len(t.Bounds)+1)
			w.hist.bounds = t.Bounds
			w.hist.ex = make([]sample.Exemplar, len(t.Bounds)+1)
		}
	}
	w.ext = newExtras(t)
}

func newExtras(t *Target) []extra {
	if len(t.needs.extra) == 0 {
		return nil
	}
	ext := make([]extra, len(t.needs.extra))
	for i, a := range t.needs.extra {
		ext[i] = newExtra(a)
	}
	return ext
}

// extraOf returns the extra state of output a in a window of t, nil when
// the window keeps none.
func (w *window) extraOf(t *Target, a Agg) extra {
	if i := slices.Index(t.needs.extra, a); i >= 0 && i < len(w.ext) {
		return w.ext[i]
	}
	return nil
}

// add folds one point into the window. An error means the point was not
// (entirely) taken and is counted as invalid by the caller.
func (w *window) add(p *sample.Point) error {
	if p.Kind <= sample.ExponentialHistogram {
		w.kinds |= 1 << p.Kind
	}
	for _, e := range w.ext {
		e.add(p)
	}
	switch p.Kind {
	case sample.Gauge, sample.Delta:
		w.n++
		w.sum.add(p.V)
		if p.Kind == sample.Delta {
			w.delta.add(p.V)
		}
		w.scalarValue(p.T, p.V)
		if w.hist != nil && w.hist.bounds != nil {
			if err := w.hist.observe(p.V, 1, p.Exemplar); err != nil {
				return err
			}
		}
		if w.sk != nil {
			return w.sk.add(p.V, 1, p.Exemplar)
		}
	case sample.Observation:
		c := p.Count
		if c <= 0 {
			c = 1
		}
		w.n += c
		w.sum.add(p.V * c)
		w.scalarValue(p.T, p.V)
		if w.hist != nil && w.hist.bounds != nil {
			if err := w.hist.observe(p.V, c, p.Exemplar); err != nil {
				return err
			}
		}
		if w.sk != nil {
			return w.sk.add(p.V, c, p.Exemplar)
		}
	case sample.Histogram:
		if p.Hist == nil {
			return errors.New("histogram point without buckets")
		}
		w.n += float64(p.Hist.Count)
		w.sum.add(p.Hist.Sum)
		if w.hist != nil {
			return w.hist.add(p.Hist)
		}
	case sample.ExponentialHistogram:
		if p.Exp == nil {
			return errors.New("exponential histogram point without buckets")
		}
		w.n += float64(p.Exp.Count)
		w.sum.add(p.Exp.Sum)
		if w.sk != nil {
			return w.sk.addExp(p.Exp)
		}
	default:
		return errUnknownKind
	}
	return nil
}

func (w *window) scalarValue(t int64, v float64) {
	if w.noScalar {
		return
	}
	// Last by event time; equal timestamps keep the larger value so that the
	// result does not depend on arrival order.
	if !w.scalar || t > w.lastT || (t == w.lastT && v > w.lastV) {
		w.lastT, w.lastV = t, v
	}
	w.scalar = true
	w.min = math.Min(w.min, v)
	w.max = math.Max(w.max, v)
}

// merge folds a partial window of the same target and start into w.
func (w *window) merge(o *window) error {
	// A partial that cannot be merged whole is merged not at all: its count
	// and sum without its buckets would disagree with them.
	if err := w.canMerge(o); err != nil {
		return err
	}
	w.kinds |= o.kinds
	w.n += o.n
	w.sum.merge(&o.sum)
	w.delta.merge(&o.delta)
	if o.scalar {
		if !w.scalar || o.lastT > w.lastT || (o.lastT == w.lastT && o.lastV > w.lastV) {
			w.lastT, w.lastV = o.lastT, o.lastV
		}
		w.scalar = true
		w.min = math.Min(w.min, o.min)
		w.max = math.Max(w.max, o.max)
	}
	if o.sk != nil {
		if w.sk == nil {
			w.sk = o.sk
		} else {
			w.sk.merge(o.sk)
		}
	}
	if o.hist != nil {
		if w.hist == nil {
			w.hist = o.hist
		} else {
			w.hist.merge(o.hist)
		}
	}
	switch {
	case len(o.ext) == 0:
	case len(w.ext) == 0:
		w.ext = o.ext
	default:
		for i := range w.ext {
			w.ext[i].merge(o.ext[i])
		}
	}
	return nil
}

// canMerge says why o cannot be merged into w: histogram buckets or extra
// states of another layout.
func (w *window) canMerge(o *window) error {
	if o.hist != nil && o.hist.counts != nil {
		if len(o.hist.counts) != len(o.hist.bounds)+1 {
			return errBucketCounts
		}
		if w.hist != nil && w.hist.counts != nil && !slices.Equal(w.hist.bounds, o.hist.bounds) {
			return errLayout
		}
	}
	if len(w.ext) != 0 && len(o.ext) != 0 && len(w.ext) != len(o.ext) {
		return errLayout
	}
	return nil
}
