package aggregator

import (
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

// TestStddev computes the standard deviation of a window split over three
// input partitions and merged through partials, against the two-pass
// formula over the same values.
func TestStddev(t *testing.T) {
	a := newAgg(t)
	tg := &Target{Key: 1, Resolution: 10_000, Specs: []Spec{{Agg: Stddev, Labels: labels.FromStrings("__name__", "x_stddev")}}}
	tg.Init()
	ms := t0.UnixMilli()
	values := []float64{2, 4, 4, 4, 5, 5, 7, 9, 1e-3, 250}
	m := a.NewMerger()
	for part := range int32(3) {
		p := a.Partition(part, t0)
		for i, v := range values {
			if i%3 == int(part) {
				kind := sample.Gauge
				if i%2 == 0 {
					kind = sample.Observation
				}
				p.Add(&sample.Point{Kind: kind, T: ms + int64(i), V: v, Count: 1}, tg, t0)
			}
		}
		p.FlushAll(func(pt Partial) {
			rec, err := a.Decode(EncodePartial(nil, pt))
			if err != nil {
				t.Fatal(err)
			}
			m.Merge(*rec.Partial, -1)
		})
	}
	got := collect(func(emit func(Series)) { (&local{a: a, m: m}).flush(emit) })
	mean := 0.0
	for _, v := range values {
		mean += v
	}
	mean /= float64(len(values))
	var ss float64
	for _, v := range values {
		ss += (v - mean) * (v - mean)
	}
	want := math.Sqrt(ss / float64(len(values)))
	s, ok := got[`{__name__="x_stddev"}`]
	if !ok || math.Abs(s.V-want) > 1e-12*want {
		t.Fatalf("stddev = %+v (present %v), want %v", s, ok, want)
	}
	if agg, err := ParseAggregation("stddev"); err != nil || agg.Agg != Stddev || agg.SeriesName("x") != "x_stddev" {
		t.Fatalf("ParseAggregation(stddev) = %+v, %v", agg, err)
	}
}
