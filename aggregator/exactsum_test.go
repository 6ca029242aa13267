package aggregator

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestExactSumOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		xs := make([]float64, 1000)
		exact := new(big.Float).SetPrec(4096)
		for i := range xs {
			// Wildly different magnitudes and signs, the worst case for naive sums.
			xs[i] = (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(30)-15))
			exact.Add(exact, new(big.Float).SetFloat64(xs[i]))
		}
		want, _ := exact.Float64()
		var a exactSum
		for _, x := range xs {
			a.add(x)
		}
		r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
		// Same numbers, other order, split in two partials merged.
		var b1, b2 exactSum
		for i, x := range xs {
			if i%3 == 0 {
				b1.add(x)
			} else {
				b2.add(x)
			}
		}
		b2.merge(&b1)
		if a.value() != want || b2.value() != want {
			t.Fatalf("round %d: sum %v, shuffled+merged %v, exact %v", round, a.value(), b2.value(), want)
		}
	}
}

func TestExactSumSpecials(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"cancel", []float64{1e100, 1, -1e100}, 1},
		{"inf", []float64{1, math.Inf(1)}, math.Inf(1)},
		{"nan", []float64{math.NaN(), 2}, math.NaN()},
		{"tiny", []float64{0.1, 0.2, 0.3}, 0.6},
	}
	for _, tc := range tests {
		var s exactSum
		for _, x := range tc.in {
			s.add(x)
		}
		got := s.value()
		if !(got == tc.want || math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
