package aggregator

import (
	"math"

	"github.com/weirdev/weir/sample"
)

// near returns the exemplar of the quantile v held by bucket k: the
// candidate of k itself or, when k has none, the candidate nearest v by
// value among those within tol·|v| of it (the Better one of two equally
// near). An SDK's reservoir keeps a few exemplars per collection, so the
// quantile's own 2α-wide bucket often has none while a neighbour does; the
// exemplar keeps its own value, so a chart draws it where its trace was.
//
// The choice is a function of the window's candidates alone, which are a
// function of its points: it does not depend on arrival or merge order.
func (s *sketch) near(k int32, v, tol float64) (sample.Exemplar, bool) {
	if s.cands == nil {
		return sample.Exemplar{}, false
	}
	i, found := s.search(k)
	if found {
		if ex := s.candAt(i); ex.Valid() {
			return ex, true
		}
	}
	d := tol * math.Abs(v)
	if !(d > 0) {
		return sample.Exemplar{}, false
	}
	// The buckets that can hold a value within d of v: keys order buckets
	// by value, so they are the positions from lo's bucket to hi's.
	lo, hi := s.clampedKey(v-d), s.clampedKey(v+d)
	from, _ := s.search(lo)
	var best sample.Exemplar
	bestD := math.Inf(1)
	for j := from; j < len(s.keys) && s.keys[j] <= hi; j++ {
		ex := s.candAt(j)
		if !ex.Valid() {
			continue
		}
		dj := math.Abs(ex.Value - v)
		if dj > d {
			continue
		}
		if dj < bestD || (dj == bestD && Better(ex, best)) {
			best, bestD = ex, dj
		}
	}
	return best, best.Valid()
}

// clampedKey is key for any value, those beyond the sketch's range mapped
// to its outermost buckets.
func (s *sketch) clampedKey(v float64) int32 {
	mx := s.m.MaxIndexableValue()
	v = min(max(v, -mx), mx)
	k, _ := s.key(v)
	return k
}
