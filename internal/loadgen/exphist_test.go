package loadgen

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestBucketIndex(t *testing.T) {
	for _, tc := range []struct {
		v     float64
		scale int32
		want  int32
	}{
		{1, 0, -1}, // upper-inclusive: 1 closes (0.5, 1]
		{1.5, 0, 0},
		{2, 0, 0},
		{2.0000001, 0, 1},
		{4, -1, 0}, // (1, 4]
		{4.5, -1, 1},
		{0.25, 0, -3},
		{1, 5, -1},
		{2, 5, 31},
		{1.414, 1, 0}, // (1, √2]
		{1.5, 1, 1},
		{0.001, 5, -319}, // log2(0.001)·32 = -318.9
	} {
		if got := bucketIndex(tc.v, tc.scale); got != tc.want {
			t.Errorf("bucketIndex(%v, %d) = %d, want %d", tc.v, tc.scale, got, tc.want)
		}
	}
	// Every value lies in its bucket's bounds (within float error).
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		v := math.Exp(rng.NormFloat64() * 6)
		for scale := int32(-3); scale <= 8; scale++ {
			idx := bucketIndex(v, scale)
			base := math.Exp2(math.Exp2(-float64(scale)))
			lo, hi := math.Pow(base, float64(idx)), math.Pow(base, float64(idx+1))
			if !(v > lo*(1-1e-12) && v <= hi*(1+1e-12)) {
				t.Fatalf("bucketIndex(%v, %d) = %d: bucket (%v, %v]", v, scale, idx, lo, hi)
			}
		}
	}
}

func TestExpHistogramDownscales(t *testing.T) {
	for _, tc := range []struct {
		name      string
		values    []float64
		wantScale int32
	}{
		{"one value", []float64{0.01}, expInitScale},
		{"within 160 buckets at scale 5", []float64{0.001, 0.02}, expInitScale}, // 4.3 octaves
		{"6 octaves", []float64{0.001, 0.064}, 4},
		{"11 octaves", []float64{0.0005, 1.0}, 3},
		{"growing downward", []float64{1, 0.5, 0.0001}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newExpHistogram()
			for _, v := range tc.values {
				h.observe(v)
			}
			if h.scale != tc.wantScale {
				t.Fatalf("scale %d, want %d", h.scale, tc.wantScale)
			}
			if len(h.counts) > expMaxSize {
				t.Fatalf("%d buckets", len(h.counts))
			}
			var total uint64
			for _, c := range h.counts {
				total += c
			}
			if total != uint64(len(tc.values)) || h.count != total {
				t.Fatalf("buckets hold %d, count %d, want %d", total, h.count, len(tc.values))
			}
			for _, v := range tc.values {
				i := bucketIndex(v, h.scale) - h.offset
				if i < 0 || int(i) >= len(h.counts) || h.counts[i] == 0 {
					t.Fatalf("value %v: its bucket %d is empty or outside [0,%d)", v, i, len(h.counts))
				}
			}
		})
	}
}

// TestExpHistogramMatchesDirect: after many random values the buckets equal
// a direct count at the final scale.
func TestExpHistogramMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	h := newExpHistogram()
	var vals []float64
	for range 20000 {
		v := 0.005 * math.Exp(rng.NormFloat64()*1.5)
		vals = append(vals, v)
		h.observe(v)
	}
	direct := map[int32]uint64{}
	for _, v := range vals {
		direct[bucketIndex(v, h.scale)]++
	}
	for i, c := range h.counts {
		if direct[h.offset+int32(i)] != c {
			t.Fatalf("scale %d bucket %d: %d, direct count %d", h.scale, h.offset+int32(i), c, direct[h.offset+int32(i)])
		}
	}
}
