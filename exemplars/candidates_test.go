package exemplars

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/weirdev/weir/sample"
)

type offer struct {
	k Key
	e sample.Exemplar
}

// randomOffers draws n offers over a few dozen buckets of both signs, with
// repeated values so that ties go down to the trace ID and beyond.
func randomOffers(r *rand.Rand, n int) []offer {
	out := make([]offer, n)
	for i := range out {
		sign := []int8{Negative, Zero, Positive, Positive}[r.IntN(4)]
		idx := r.IntN(60) - 20
		if sign == Zero {
			idx = 0
		}
		e := sample.Exemplar{Value: float64(r.IntN(5)), T: int64(r.IntN(3)), Partition: int32(r.IntN(3))}
		e.TraceID[0] = byte(r.IntN(4) + 1)
		e.SpanID[0] = byte(r.IntN(3))
		out[i] = offer{MakeKey(sign, idx), e}
	}
	return out
}

func contents(c *Candidates) []offer {
	var out []offer
	c.Each(func(k Key, e sample.Exemplar) { out = append(out, offer{k, e}) })
	return out
}

// reference keeps the Better exemplar per key in a map.
func reference(offers []offer) map[Key]sample.Exemplar {
	m := map[Key]sample.Exemplar{}
	for _, o := range offers {
		if cur, ok := m[o.k]; !ok || Better(o.e, cur) {
			m[o.k] = o.e
		}
	}
	return m
}

func TestCandidatesOfferKeepsBestPerBucket(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		offers := randomOffers(r, 1+r.IntN(400))
		var c Candidates
		for _, o := range offers {
			c.Offer(o.k, o.e)
		}
		want := reference(offers)
		if c.Len() != len(want) {
			t.Fatalf("round %d: Len %d, want %d", round, c.Len(), len(want))
		}
		prev := Key(-1 << 62)
		for _, got := range contents(&c) {
			if got.k <= prev {
				t.Fatalf("round %d: keys not ascending: %v after %v", round, got.k, prev)
			}
			prev = got.k
			if got.e != want[got.k] {
				t.Fatalf("round %d: bucket %v holds %+v, want %+v", round, got.k, got.e, want[got.k])
			}
			if e, ok := c.Get(got.k); !ok || e != got.e {
				t.Fatalf("round %d: Get(%v) = %+v, %v", round, got.k, e, ok)
			}
		}
		if _, ok := c.Get(MakeKey(Positive, 1000)); ok {
			t.Fatalf("round %d: Get of an absent bucket found one", round)
		}
	}
}

// TestCandidatesMergeIsOrderFree splits offers into partials at random and
// merges them in random orders: the outcome must equal offering everything
// to one Candidates.
func TestCandidatesMergeIsOrderFree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		offers := randomOffers(r, 1+r.IntN(300))
		var whole Candidates
		for _, o := range offers {
			whole.Offer(o.k, o.e)
		}
		parts := make([]Candidates, 1+r.IntN(5))
		for _, o := range offers {
			p := &parts[r.IntN(len(parts))]
			p.Offer(o.k, o.e)
		}
		r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		var merged Candidates
		for i := range parts {
			merged.Merge(&parts[i])
		}
		if got, want := contents(&merged), contents(&whole); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: merged %v, want %v", round, got, want)
		}
	}
}

func TestCandidatesReset(t *testing.T) {
	var c Candidates
	c.Offer(MakeKey(Positive, 3), sample.Exemplar{TraceID: sample.TraceID{1}, Value: 1, Partition: 7})
	c.Reset()
	if c.Len() != 0 || len(contents(&c)) != 0 {
		t.Fatalf("after Reset: Len %d", c.Len())
	}
	e := sample.Exemplar{TraceID: sample.TraceID{2}, Value: 2, Partition: 9}
	c.Offer(MakeKey(Negative, -4), e)
	if got, ok := c.Get(MakeKey(Negative, -4)); !ok || got != e {
		t.Fatalf("after Reset and Offer: %+v, %v; want %+v", got, ok, e)
	}
}

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

// BenchmarkCandidatesOffer is the per-observation cost of keeping bucket
// candidates for a window of about a hundred buckets.
func BenchmarkCandidatesOffer(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	offers := make([]offer, 1<<12)
	for i := range offers {
		offers[i] = offer{MakeKey(Positive, int(r.NormFloat64()*30)), sample.Exemplar{TraceID: sample.TraceID{byte(i), 1}, Value: r.Float64()}}
	}
	b.ReportAllocs()
	var c Candidates
	for i := 0; i < b.N; i++ {
		o := &offers[i&(len(offers)-1)]
		c.Offer(o.k, o.e)
	}
}
