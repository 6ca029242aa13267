package aggregator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/weirdev/weir/sample"
)

func testMapping(t testing.TB) *mapping.LogarithmicMapping {
	m, err := mapping.NewLogarithmicMapping(0.01)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type observation struct {
	v, count float64
}

// drawObservations mixes the shapes that exercise every branch of the
// quantile walk: negative, zero, sub-indexable and positive values, integer
// and fractional counts.
func drawObservations(r *rand.Rand, n int) []observation {
	out := make([]observation, n)
	for i := range out {
		var v float64
		switch r.IntN(8) {
		case 0:
			v = -math.Exp(r.NormFloat64() * 3)
		case 1:
			v = 0
		case 2:
			v = 1e-320 // below the sketch's smallest indexable value: the zero bucket
		default:
			v = math.Exp(r.NormFloat64()*2 - 3)
		}
		c := float64(1 + r.IntN(3))
		if r.IntN(5) == 0 {
			// Dyadic fractions: sums are exact in any order, so the
			// table and sketches-go must agree to the bit.
			c = float64(1+r.IntN(16)) / 8
		}
		out[i] = observation{v, c}
	}
	return out
}

// TestSketchQuantilesMatchDDSketch checks the table against sketches-go
// itself: the same observations give the same quantile values to the bit,
// whole or merged from parts in any order.
func TestSketchQuantilesMatchDDSketch(t *testing.T) {
	m := testMapping(t)
	r := rand.New(rand.NewPCG(7, 8))
	qs := []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1}
	for round := range 200 {
		obs := drawObservations(r, 1+r.IntN(400))
		ref := ddsketch.NewDDSketch(m, store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore())
		whole := newSketch(m)
		parts := make([]*sketch, 1+r.IntN(4))
		for i := range parts {
			parts[i] = newSketch(m)
		}
		for _, o := range obs {
			if err := ref.AddWithCount(o.v, o.count); err != nil {
				t.Fatal(err)
			}
			if err := whole.add(o.v, o.count, sample.Exemplar{}); err != nil {
				t.Fatal(err)
			}
			if err := parts[r.IntN(len(parts))].add(o.v, o.count, sample.Exemplar{}); err != nil {
				t.Fatal(err)
			}
		}
		r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		merged := newSketch(m)
		for _, p := range parts {
			merged.merge(p)
		}
		for _, q := range qs {
			want, err := ref.GetValueAtQuantile(q)
			if err != nil {
				t.Fatal(err)
			}
			for name, s := range map[string]*sketch{"whole": whole, "merged": merged} {
				got, _, ok := s.quantile(q)
				if !ok || got != want {
					t.Fatalf("round %d %s: q%v = %v (ok %v), ddsketch says %v", round, name, q, got, ok, want)
				}
			}
		}
	}
}

type offer struct {
	v  float64
	ex sample.Exemplar
}

// randomOffers draws exemplars over a few dozen buckets of both signs with
// repeated values, so that ties go down to the trace ID and beyond, and
// timestamps far apart, so that some do not fit the compact form.
func randomOffers(r *rand.Rand, n int) []offer {
	out := make([]offer, n)
	for i := range out {
		v := float64(r.IntN(40)-10) / 4
		e := sample.Exemplar{Value: v, T: int64(r.IntN(3)), Partition: int32(r.IntN(3))}
		if r.IntN(10) == 0 {
			e.T = int64(r.IntN(3)-1) * (1 << 40)
		}
		e.TraceID[0] = byte(r.IntN(4) + 1)
		e.SpanID[0] = byte(r.IntN(3))
		out[i] = offer{v, e}
	}
	return out
}

func candidatesOf(s *sketch) map[Key]sample.Exemplar {
	out := map[Key]sample.Exemplar{}
	s.eachCandidate(func(k Key, e sample.Exemplar) { out[k] = e })
	return out
}

// TestSketchCandidates checks that each bucket keeps its Better exemplar,
// whole or merged from parts in any order, and that the max exemplar is the
// Better of all.
func TestSketchCandidates(t *testing.T) {
	m := testMapping(t)
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 100 {
		offers := randomOffers(r, 1+r.IntN(300))
		want := map[Key]sample.Exemplar{}
		var wantMax sample.Exemplar
		whole := newSketch(m)
		parts := make([]*sketch, 1+r.IntN(5))
		for i := range parts {
			parts[i] = newSketch(m)
		}
		for _, o := range offers {
			k, err := whole.key(o.v)
			if err != nil {
				t.Fatal(err)
			}
			sign, idx := unpackKey(k)
			wk := MakeKey(sign, idx)
			if cur, ok := want[wk]; !ok || Better(o.ex, cur) {
				want[wk] = o.ex
			}
			if !wantMax.Valid() || Better(o.ex, wantMax) {
				wantMax = o.ex
			}
			if err := whole.add(o.v, 1, o.ex); err != nil {
				t.Fatal(err)
			}
			if err := parts[r.IntN(len(parts))].add(o.v, 1, o.ex); err != nil {
				t.Fatal(err)
			}
		}
		r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		merged := newSketch(m)
		for _, p := range parts {
			merged.merge(p)
		}
		for name, s := range map[string]*sketch{"whole": whole, "merged": merged} {
			if got := candidatesOf(s); !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d %s: candidates %v, want %v", round, name, got, want)
			}
			if mx := s.maxExemplar(); mx != wantMax {
				t.Fatalf("round %d %s: max exemplar %+v, want %+v", round, name, mx, wantMax)
			}
			if s.candidates() != len(want) {
				t.Fatalf("round %d %s: %d candidates, want %d", round, name, s.candidates(), len(want))
			}
		}
	}
}

func TestSketchRefusesWhatDDSketchRefuses(t *testing.T) {
	m := testMapping(t)
	s := newSketch(m)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64} {
		if err := s.add(v, 1, sample.Exemplar{}); err == nil {
			t.Errorf("add(%v) took the value", v)
		}
	}
	if err := s.add(1, -1, sample.Exemplar{}); err == nil {
		t.Error("add with a negative count took it")
	}
	if _, _, ok := s.quantile(0.5); ok {
		t.Error("an empty sketch has a quantile")
	}
}

// BenchmarkSketchAdd is the per-observation cost of the table, an exemplar
// with each observation, for a window of 256 observations (about as many
// buckets: a span-red window of the bench harness) and of 4096 (a few
// hundred buckets, most observations landing in an existing one).
func BenchmarkSketchAdd(b *testing.B) {
	m := testMapping(b)
	vs := latencies(1 << 12)
	for _, n := range []int{256, 4096} {
		b.Run(fmt.Sprintf("window=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			s := newSketch(m)
			ex := sample.Exemplar{TraceID: sample.TraceID{1}}
			for i := 0; i < b.N; i++ {
				ex.Value = vs[i&(len(vs)-1)]
				ex.TraceID[1] = byte(i)
				if i%n == 0 {
					s = newSketch(m)
				}
				_ = s.add(ex.Value, 1, ex)
			}
		})
	}
}

// TestSketchLargeCounts checks counts past what the compact form holds: they
// move to float64 counts without changing any figure.
func TestSketchLargeCounts(t *testing.T) {
	m := testMapping(t)
	ref := ddsketch.NewDDSketch(m, store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore())
	s := newSketch(m)
	for i, o := range []observation{{1, 1}, {2, 3e9}, {2, 3e9}, {3, 1}, {0.5, 7}, {3, 1}} {
		_ = ref.AddWithCount(o.v, o.count)
		if err := s.add(o.v, o.count, sample.Exemplar{TraceID: sample.TraceID{byte(i + 1)}, Value: o.v}); err != nil {
			t.Fatal(err)
		}
	}
	if s.fcounts == nil {
		t.Fatal("a count of 6e9 is still held as a compact count")
	}
	for _, q := range []float64{0, 0.5, 1} {
		want, _ := ref.GetValueAtQuantile(q)
		if got, _, _ := s.quantile(q); got != want {
			t.Errorf("q%v = %v, ddsketch says %v", q, got, want)
		}
	}
	if neg, zero, pos, _ := s.totals(); neg+zero+pos != 6e9+10 {
		t.Errorf("total count %v, want %v", neg+zero+pos, 6e9+10)
	}
}

// TestSketchManyBuckets checks a sketch of tens of thousands of buckets,
// both signs over most of float64's range.
func TestSketchManyBuckets(t *testing.T) {
	m := testMapping(t)
	ref := ddsketch.NewDDSketch(m, store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore())
	s := newSketch(m)
	var vs []float64
	// Ascending values: every insert appends, so the test stays fast.
	for i := 17_500; i >= -17_500; i-- {
		vs = append(vs, -m.Value(i))
	}
	for i := -17_500; i <= 17_500; i++ {
		vs = append(vs, m.Value(i))
	}
	for i, v := range vs {
		_ = ref.Add(v)
		ex := sample.Exemplar{TraceID: sample.TraceID{byte(i), byte(i >> 8), byte(i >> 16), 1}, Value: v, Partition: int32(i % 3)}
		if err := s.add(v, 1, ex); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.keys) != len(vs) || s.candidates() != len(vs) {
		t.Fatalf("%d buckets (%d candidates), want %d", len(s.keys), s.candidates(), len(vs))
	}
	for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.999, 1} {
		want, _ := ref.GetValueAtQuantile(q)
		got, k, _ := s.quantile(q)
		ex, ok := s.candidate(k)
		if got != want || !ok || ex.Value != got {
			t.Errorf("q%v = %v (exemplar %v, %v), ddsketch says %v", q, got, ex.Value, ok, want)
		}
	}
}
