package tailsampling

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/weirdev/weir/sample"
)

// sbLow returns a trace ID whose bytes 8 to 15 are low, big-endian, and whose
// high half is noise that must not matter.
func sbLow(low uint64) sample.TraceID {
	var id sample.TraceID
	for i := range 8 {
		id[i] = byte(0xa5 ^ i)
	}
	binary.BigEndian.PutUint64(id[8:], low)
	return id
}

func TestBaselineEdges(t *testing.T) {
	cases := []struct {
		name string
		low  uint64
		rate float64
		want bool
	}{
		{"rate 0", 0, 0, false},
		{"negative rate", 0, -1, false},
		{"NaN rate", 0, math.NaN(), false},
		{"rate 1, largest ID", math.MaxUint64, 1, true},
		{"rate above 1", math.MaxUint64, 7, true},
		{"smallest ID, tiny rate", 0, 1e-18, true},
		{"largest ID, rate just below 1", math.MaxUint64, math.Nextafter(1, 0), false},
		// At rate 1/2 the bound on low>>1 is 2^62, so low < 2^63 is in.
		{"half: last in", 1<<63 - 1, 0.5, true},
		{"half: first out", 1 << 63, 0.5, false},
		// The shift drops the lowest bit: 2k and 2k+1 always agree.
		{"quarter: last in, odd", 1<<62 - 1, 0.25, true},
		{"quarter: first out, even", 1 << 62, 0.25, false},
		{"quarter: first out, odd", 1<<62 + 1, 0.25, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := sbLow(tc.low)
			if got := Baseline(id, tc.rate); got != tc.want {
				t.Fatalf("Baseline(low %#x, %v) = %v, want %v", tc.low, tc.rate, got, tc.want)
			}
			id[0] ^= 0xff // Only the low half counts.
			if got := Baseline(id, tc.rate); got != tc.want {
				t.Fatalf("Baseline depends on the high half of the trace ID")
			}
		})
	}
}

// TestBaselineShare checks, over 100k random trace IDs, that the baseline's
// share is within 5 standard deviations of the rate, that the decision is
// the same when asked again, and that lower rates select subsets.
func TestBaselineShare(t *testing.T) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]sample.TraceID, n)
	for i := range ids {
		binary.BigEndian.PutUint64(ids[i][:8], rng.Uint64())
		binary.BigEndian.PutUint64(ids[i][8:], rng.Uint64())
	}
	rates := []float64{0.001, 0.01, 0.1, 0.5, 0.9}
	for ri, rate := range rates {
		got := 0
		for _, id := range ids {
			in := Baseline(id, rate)
			if in != Baseline(id, rate) {
				t.Fatalf("Baseline(%v, %v) is not deterministic", id, rate)
			}
			if ri > 0 && Baseline(id, rates[ri-1]) && !in {
				t.Fatalf("%v is in the baseline at rate %v but not at %v", id, rates[ri-1], rate)
			}
			if in {
				got++
			}
		}
		mean := n * rate
		sigma := math.Sqrt(n * rate * (1 - rate))
		if math.Abs(float64(got)-mean) > 5*sigma {
			t.Errorf("rate %v: %d of %d in the baseline, want %.0f ± %.0f", rate, got, n, mean, 5*sigma)
		}
	}
}
