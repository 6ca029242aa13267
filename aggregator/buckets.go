package aggregator

import (
	"errors"
	"slices"

	"github.com/weirdev/weir/sample"
)

var errLayout = errors.New("histogram bucket bounds differ from the window's")

// bucketHist sums explicit-bucket histogram deltas and keeps one exemplar per
// bucket.
type bucketHist struct {
	bounds []float64
	counts []uint64
	ex     []sample.Exemplar
}

func (b *bucketHist) add(h *sample.BucketHistogram) error {
	if len(h.Counts) != len(h.Bounds)+1 {
		return errors.New("histogram has len(counts) != len(bounds)+1")
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

func (b *bucketHist) merge(o *bucketHist) error {
	if o.counts == nil {
		return nil
	}
	return b.add(&sample.BucketHistogram{Bounds: o.bounds, Counts: o.counts, Exemplars: o.ex})
}
