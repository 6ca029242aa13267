package aggregator

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

// TestCodecRoundTripGenerated encodes and decodes generated partials of
// every aggregation, from empty windows to histograms of hundreds of buckets
// and sketches of hundreds of bins, with and without exemplars: what the
// decoded window emits must equal what the original emits.
func TestCodecRoundTripGenerated(t *testing.T) {
	a := newAgg(t)
	rng := rand.New(rand.NewPCG(1, 2))
	ms := t0.UnixMilli()
	bucketCounts := []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 100, 300}
	for agg := range numAggs {
		for _, nb := range bucketCounts {
			for _, withEx := range []bool{false, true} {
				spec := Spec{Agg: agg, Q: 0.99, Cumulative: Aggregation{Agg: agg}.Cumulative(), Labels: labels.FromStrings("__name__", "m", "agg", aggName(Spec{Agg: agg}))}
				tg := &Target{Key: uint64(agg)<<32 | uint64(nb), Resolution: 10_000, Route: "10s:2d", Specs: []Spec{spec}}
				tg.Init()
				p := a.Partition(int32(agg), t0)
				pts := genPoints(rng, ms, agg, nb, withEx)
				for _, pt := range pts {
					p.Add(pt, tg, t0)
				}
				var got []Partial
				p.FlushAll(func(pt Partial) { got = append(got, pt) })
				if len(got) != 1 {
					t.Fatalf("%s/%d buckets: %d partials, want 1", aggName(spec), nb, len(got))
				}
				b := EncodePartial(nil, got[0])
				rec, err := a.Decode(b)
				if err != nil {
					t.Fatalf("%s/%d buckets/exemplars %v: decode: %v", aggName(spec), nb, withEx, err)
				}
				var want, have []Series
				got[0].w.emit(tg, a.cfg.tolerance, func(s Series) { want = append(want, s) })
				rec.Partial.w.emit(rec.Partial.Target, a.cfg.tolerance, func(s Series) { have = append(have, s) })
				if len(want) == 0 || !reflect.DeepEqual(have, want) {
					t.Fatalf("%s/%d buckets/exemplars %v: after round trip\n%+v\nwant\n%+v", aggName(spec), nb, withEx, have, want)
				}
				if again := EncodePartial(nil, *rec.Partial); !reflect.DeepEqual(again, b) {
					t.Fatalf("%s/%d buckets/exemplars %v: re-encoding differs", aggName(spec), nb, withEx)
				}
			}
		}
	}
}

// genPoints makes points for a target of agg: explicit histograms of nb
// buckets for Buckets, else nb observations spread over many sketch bins.
func genPoints(rng *rand.Rand, ms int64, agg Agg, nb int, withEx bool) []*sample.Point {
	ex := func(i int, v float64) sample.Exemplar {
		if !withEx {
			return sample.Exemplar{}
		}
		return sample.Exemplar{TraceID: sample.TraceID{byte(i), byte(i >> 8), 1}, SpanID: sample.SpanID{byte(i), 2}, Value: v, T: ms + int64(i), Partition: int32(i % 3)}
	}
	if agg == Buckets || agg == Histogram {
		var out []*sample.Point
		bounds := make([]float64, nb-1)
		for i := range bounds {
			bounds[i] = float64(i+1) * 0.5
		}
		for r := range 3 {
			h := &sample.BucketHistogram{Bounds: bounds, Counts: make([]uint64, nb)}
			for i := range h.Counts {
				h.Counts[i] = uint64(rng.IntN(5))
				h.Count += h.Counts[i]
			}
			h.Sum = float64(h.Count) * 0.7
			if withEx {
				h.Exemplars = []sample.Exemplar{ex(r, rng.Float64()*float64(nb)/2)}
			}
			out = append(out, &sample.Point{Kind: sample.Histogram, T: ms + int64(r), Hist: h})
		}
		return out
	}
	out := make([]*sample.Point, nb)
	for i := range out {
		v := math.Exp(rng.NormFloat64()*3) * float64(1-2*(i%5/4)) // a fifth negative
		if i%11 == 0 {
			v = 0
		}
		out[i] = &sample.Point{Kind: sample.Observation, T: ms + int64(i), V: v, Count: float64(1 + i%3), Exemplar: ex(i, v)}
	}
	return out
}
