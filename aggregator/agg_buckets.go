package aggregator

import (
	"errors"
	"math"
	"slices"
	"strconv"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

var (
	errLayout       = errors.New("histogram bucket bounds differ from the window's")
	errBucketCounts = errors.New("histogram has len(counts) != len(bounds)+1")
)

// bucketHist sums explicit-bucket histogram deltas and keeps one exemplar per
// bucket.
type bucketHist struct {
	bounds []float64
	counts []uint64
	ex     []sample.Exemplar
}

func (b *bucketHist) add(h *sample.BucketHistogram) error {
	if len(h.Counts) != len(h.Bounds)+1 {
		return errBucketCounts
	}
	if b.counts == nil {
		b.bounds = slices.Clone(h.Bounds)
		b.counts = make([]uint64, len(h.Counts))
		b.ex = make([]sample.Exemplar, len(h.Counts))
	} else if !slices.Equal(b.bounds, h.Bounds) {
		return errLayout
	}
	for i, c := range h.Counts {
		b.counts[i] += c
	}
	for _, e := range h.Exemplars {
		if !e.Valid() {
			continue
		}
		i, _ := slices.BinarySearch(b.bounds, e.Value) // bucket i holds (bounds[i-1], bounds[i]]
		if !b.ex[i].Valid() || Better(e, b.ex[i]) {
			b.ex[i] = e
		}
	}
	return nil
}

// observe counts count observations of v in their bucket (the first whose
// bound is at or above v), its exemplar the bucket's candidate when Better.
func (b *bucketHist) observe(v, count float64, ex sample.Exemplar) error {
	if math.IsNaN(v) || count < 0 || count != math.Trunc(count) {
		return errors.New("observation cannot be counted in a bucket")
	}
	i, _ := slices.BinarySearch(b.bounds, v)
	b.counts[i] += uint64(count)
	if ex.Valid() && (!b.ex[i].Valid() || Better(ex, b.ex[i])) {
		b.ex[i] = ex
	}
	return nil
}

// merge adds o's buckets, which window.canMerge found of b's layout.
func (b *bucketHist) merge(o *bucketHist) {
	if o.counts == nil {
		return
	}
	// add refuses only what canMerge ruled out.
	_ = b.add(&sample.BucketHistogram{Bounds: o.bounds, Counts: o.counts, Exemplars: o.ex})
}

// bucketsOutput writes an explicit-bucket histogram's cumulative le buckets,
// each with the exemplar that landed in it (the _sum and _count series are
// the Sum and Count outputs). A bucket counts in the exemplar coverage when
// observations landed in it in the window.
type bucketsOutput struct{}

func (bucketsOutput) emit(w *window, t *Target, s *Spec, out *emitter) {
	h := w.hist
	if h == nil || h.counts == nil {
		return
	}
	b := labels.NewBuilder(t.SeriesLabels(s))
	var cum uint64
	for i, c := range h.counts {
		cum += c
		le := math.Inf(1)
		if i < len(h.bounds) {
			le = h.bounds[i]
		}
		b.Set(labels.BucketLabel, formatLe(le))
		if c == 0 {
			// Nothing landed in the bucket: no exemplar to miss.
			out.put(b.Labels(), float64(cum), h.ex[i])
		} else {
			out.link(b.Labels(), float64(cum), h.ex[i], w.source())
		}
	}
}

func formatLe(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
