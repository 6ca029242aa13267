package aggregator

import (
	"math/rand/v2"
	"testing"

	"github.com/weirdev/weir/sample"
)

func TestKeyRoundTrip(t *testing.T) {
	for _, sign := range []int8{Negative, Zero, Positive} {
		for _, idx := range []int{-40000, -1, 0, 1, 40000} {
			k := MakeKey(sign, idx)
			if k.Sign() != sign || k.Index() != idx {
				t.Errorf("MakeKey(%d, %d): Sign %d Index %d", sign, idx, k.Sign(), k.Index())
			}
		}
	}
}

// TestBetterIsStrictTotalOrder checks what makes a window's exemplar
// independent of arrival order: of two different exemplars exactly one is
// Better, and Better is transitive.
func TestBetterIsStrictTotalOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	draw := func() sample.Exemplar {
		e := sample.Exemplar{Value: float64(r.IntN(3)), T: int64(r.IntN(2)), Partition: int32(r.IntN(2))}
		e.TraceID[0] = byte(r.IntN(2) + 1)
		e.SpanID[0] = byte(r.IntN(2))
		return e
	}
	for range 5000 {
		a, b, c := draw(), draw(), draw()
		ab, ba := Better(a, b), Better(b, a)
		if a == b {
			if ab || ba {
				t.Fatalf("Better(%+v, itself) is true", a)
			}
			continue
		}
		if ab == ba {
			t.Fatalf("Better(a, b)=%v and Better(b, a)=%v for a=%+v b=%+v", ab, ba, a, b)
		}
		if ab && Better(b, c) && !Better(a, c) {
			t.Fatalf("not transitive: %+v > %+v > %+v", a, b, c)
		}
	}
}
