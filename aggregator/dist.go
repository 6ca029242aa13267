package aggregator

import (
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/weirdev/weir/exemplars"
	"github.com/weirdev/weir/sample"
)

// dist is a window's distribution: a DDSketch of the values and, per sketch
// bucket, one exemplar candidate.
type dist struct {
	sk    *ddsketch.DDSketch
	cands exemplars.Candidates
	// maxEx is the exemplar of the largest observation that had one.
	maxEx sample.Exemplar
}

func newDist(m mapping.IndexMapping) *dist {
	return &dist{sk: ddsketch.NewDDSketch(m, store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore())}
}

// add records count observations of v; it fails for values the sketch cannot
// index (NaN, out of range), which the caller counts as invalid. It maps v to
// its bucket once, for the sketch and the exemplar alike, as
// DDSketch.AddWithCount would.
func (d *dist) add(v, count float64, ex sample.Exemplar) error {
	k, ok := d.key(v)
	switch {
	case !ok || count < 0:
		// The sketch's own error says which.
		return d.sk.AddWithCount(v, count)
	case k.Sign() == exemplars.Positive:
		d.sk.GetPositiveValueStore().AddWithCount(k.Index(), count)
	case k.Sign() == exemplars.Negative:
		d.sk.GetNegativeValueStore().AddWithCount(k.Index(), count)
	default:
		if err := d.sk.AddWithCount(0, count); err != nil {
			return err
		}
	}
	if ex.Valid() {
		if ex.Value == v {
			d.offerAt(k, ex)
		} else {
			d.offer(ex)
		}
	}
	return nil
}

func (d *dist) offer(ex sample.Exemplar) {
	k, ok := d.key(ex.Value)
	if !ok {
		return
	}
	d.offerAt(k, ex)
}

// offerAt offers ex as the candidate of bucket k, which must be ex.Value's.
func (d *dist) offerAt(k exemplars.Key, ex sample.Exemplar) {
	d.cands.Offer(k, ex)
	if !d.maxEx.Valid() || exemplars.Better(ex, d.maxEx) {
		d.maxEx = ex
	}
}

// key returns the bucket of v, mirroring DDSketch.AddWithCount.
func (d *dist) key(v float64) (exemplars.Key, bool) {
	min := d.sk.MinIndexableValue()
	switch {
	case math.IsNaN(v) || math.Abs(v) > d.sk.MaxIndexableValue():
		return 0, false
	case v > min:
		return exemplars.MakeKey(exemplars.Positive, d.sk.Index(v)), true
	case v < -min:
		return exemplars.MakeKey(exemplars.Negative, d.sk.Index(-v)), true
	default:
		return exemplars.MakeKey(exemplars.Zero, 0), true
	}
}

// addExp maps an exponential histogram onto the sketch: each OTLP bucket's
// count is added at the bucket's geometric midpoint, which the sketch then
// places in its own (1% wide) bucket.
func (d *dist) addExp(h *sample.ExpHistogram) error {
	base := math.Exp2(math.Exp2(-float64(h.Scale)))
	lb := math.Log(base)
	for i, c := range h.Pos {
		if c == 0 {
			continue
		}
		v := math.Exp(lb * (float64(h.PosOffset+int32(i)) + 0.5))
		if err := d.sk.AddWithCount(v, float64(c)); err != nil {
			return err
		}
	}
	for i, c := range h.Neg {
		if c == 0 {
			continue
		}
		v := -math.Exp(lb * (float64(h.NegOffset+int32(i)) + 0.5))
		if err := d.sk.AddWithCount(v, float64(c)); err != nil {
			return err
		}
	}
	if h.ZeroCount > 0 {
		if err := d.sk.AddWithCount(0, float64(h.ZeroCount)); err != nil {
			return err
		}
	}
	for _, ex := range h.Exemplars {
		if ex.Valid() {
			d.offer(ex)
		}
	}
	return nil
}

func (d *dist) merge(o *dist) {
	// Both sketches share the aggregator's mapping, so MergeWith cannot fail.
	_ = d.sk.MergeWith(o.sk)
	d.cands.Merge(&o.cands)
	if o.maxEx.Valid() && (!d.maxEx.Valid() || exemplars.Better(o.maxEx, d.maxEx)) {
		d.maxEx = o.maxEx
	}
}

// quantile returns the sketch's q-quantile and the bucket holding it. It
// follows DDSketch.GetValueAtQuantile step for step, so that the value is the
// one sketches-go reports and the key is the bucket it came from.
func (d *dist) quantile(q float64) (float64, exemplars.Key, bool) {
	count := d.sk.GetCount()
	if count == 0 || q < 0 || q > 1 {
		return 0, 0, false
	}
	rank := float64(q * (count - 1))
	neg := d.sk.GetNegativeValueStore()
	negCount := neg.TotalCount()
	zero := d.sk.GetZeroCount()
	switch {
	case rank < negCount:
		idx := neg.KeyAtRank(negCount - 1 - rank)
		return -d.sk.Value(idx), exemplars.MakeKey(exemplars.Negative, idx), true
	case rank < zero+negCount:
		return 0, exemplars.MakeKey(exemplars.Zero, 0), true
	default:
		idx := d.sk.GetPositiveValueStore().KeyAtRank(rank - zero - negCount)
		return d.sk.Value(idx), exemplars.MakeKey(exemplars.Positive, idx), true
	}
}
