package aggregator

import "math"

// exactSum adds floats without rounding error (Shewchuk's algorithm, as in
// Python's math.fsum). Its value is the correctly rounded exact sum, so it is
// the same for any order of additions and merges: a window's sum must not
// depend on how its points were partitioned or in which order they arrived.
type exactSum struct {
	// partials are non-overlapping and ordered by increasing magnitude; their
	// exact sum is the exact sum of everything added.
	partials []float64
	// special accumulates infinities and NaN, which the partials cannot hold.
	special float64
}

func (s *exactSum) add(x float64) {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		s.special += x
		return
	}
	i := 0
	for _, y := range s.partials {
		if math.Abs(x) < math.Abs(y) {
			x, y = y, x
		}
		hi := x + y
		if math.IsInf(hi, 0) {
			// Overflow: the exact sum is out of float range anyway.
			s.special += hi
			s.partials = s.partials[:0]
			return
		}
		lo := y - (hi - x)
		if lo != 0 {
			s.partials[i] = lo
			i++
		}
		x = hi
	}
	s.partials = append(s.partials[:i], x)
}

func (s *exactSum) merge(o *exactSum) {
	for _, p := range o.partials {
		s.add(p)
	}
	if o.special != 0 || math.IsNaN(o.special) {
		s.special += o.special
	}
}

// value returns the correctly rounded sum (round half to even).
func (s *exactSum) value() float64 {
	if s.special != 0 || math.IsNaN(s.special) {
		return s.special
	}
	p := s.partials
	n := len(p)
	if n == 0 {
		return 0
	}
	n--
	hi, lo := p[n], 0.0
	for n > 0 {
		x := hi
		n--
		y := p[n]
		hi = x + y
		yr := hi - x
		lo = y - yr
		if lo != 0 {
			break
		}
	}
	// Correct the rounding of hi when the remaining partials push the exact
	// sum past the half-way point that hi+lo rounded to.
	if n > 0 && ((lo < 0 && p[n-1] < 0) || (lo > 0 && p[n-1] > 0)) {
		y := lo * 2
		x := hi + y
		if y == x-hi {
			hi = x
		}
	}
	return hi
}
