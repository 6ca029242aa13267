package aggregator

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// TestQuantileAccuracy checks every reported quantile against the exact one
// on more than a million samples from skewed distributions, and that each
// quantile's exemplar is a real sample within α of it.
func TestQuantileAccuracy(t *testing.T) {
	const n = 1_100_000
	qs := []float64{0.5, 0.9, 0.99, 0.999}
	dists := map[string]func(r *rand.Rand) float64{
		"lognormal": func(r *rand.Rand) float64 { return math.Exp(r.NormFloat64()*1.5 - 3) },
		"pareto":    func(r *rand.Rand) float64 { return 0.001 / math.Pow(1-r.Float64(), 1/1.2) },
		"bimodal-slow-tail": func(r *rand.Rand) float64 {
			if r.IntN(100) == 0 {
				return 2 + r.ExpFloat64()*5
			}
			return 0.005 + r.ExpFloat64()*0.02
		},
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			a := newAgg(t)
			var specs []Spec
			for _, q := range qs {
				specs = append(specs, Spec{Agg: Quantile, Q: q, Labels: labels.FromStrings("__name__", "d", "quantile", formatLe(q))})
			}
			tg := target("d", 1, specs...)
			r := rand.New(rand.NewPCG(7, uint64(len(name))))
			vals := make([]float64, n)
			p := a.Partition(0, t0)
			base := t0.UnixMilli() - t0.UnixMilli()%10_000
			for i := range vals {
				vals[i] = gen(r)
				pt := obs(base+int64(i%10_000), vals[i], 0)
				// Every sample carries an exemplar so every bucket has a candidate.
				pt.Exemplar.TraceID = [16]byte{byte(i), byte(i >> 8), byte(i >> 16), 1}
				pt.Exemplar.Value = vals[i]
				if reason := p.Add(pt, tg, t0); reason != "" {
					t.Fatalf("point %d dropped: %s", i, reason)
				}
			}
			out := collect(func(emit func(Series)) { flushAll(a, emit) })
			slices.Sort(vals)
			alpha := a.RelativeAccuracy()
			for _, q := range qs {
				s, ok := out[labels.FromStrings("__name__", "d", "quantile", formatLe(q)).String()]
				if !ok {
					t.Fatalf("q=%v not emitted", q)
				}
				exact := vals[int(q*float64(n-1))]
				if rel := math.Abs(s.V-exact) / exact; rel > alpha {
					t.Errorf("q=%v: sketch %v exact %v: relative error %.4f > α=%v", q, s.V, exact, rel, alpha)
				}
				if !s.Exemplar.Valid() {
					t.Fatalf("q=%v: no exemplar", q)
				}
				// The sketch reports its bucket's value, within α of every sample
				// in the bucket, the exemplar among them.
				if rel := math.Abs(s.Exemplar.Value-s.V) / s.Exemplar.Value; rel > alpha {
					t.Errorf("q=%v: exemplar %v vs quantile %v: relative distance %.4f > α", q, s.Exemplar.Value, s.V, rel)
				}
				if _, found := slices.BinarySearch(vals, s.Exemplar.Value); !found {
					t.Errorf("q=%v: exemplar value %v is not one of the samples", q, s.Exemplar.Value)
				}
			}
		})
	}
}
