package aggregator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

func TestAggregations(t *testing.T) {
	base := t0.UnixMilli() - t0.UnixMilli()%10_000
	all := []Spec{{Agg: Sum}, {Agg: Count}, {Agg: Min}, {Agg: Max}, {Agg: Last}, {Agg: Mean}, {Agg: Rate}, {Agg: Increase}}
	tests := []struct {
		name   string
		points []*sample.Point
		want   map[string]float64 // by aggregation suffix; absent = not emitted
	}{
		{
			name: "gauge",
			points: []*sample.Point{
				{Kind: sample.Gauge, T: base + 1000, V: 5},
				{Kind: sample.Gauge, T: base + 3000, V: 2},
				{Kind: sample.Gauge, T: base + 2000, V: 11},
			},
			want: map[string]float64{"sum": 18, "count": 3, "min": 2, "max": 11, "last": 2, "mean": 6, "rate": 0.3, "increase": 3},
		},
		{
			name: "delta counter",
			points: []*sample.Point{
				{Kind: sample.Delta, T: base + 1000, V: 10},
				{Kind: sample.Delta, T: base + 6000, V: 30},
			},
			want: map[string]float64{"sum": 40, "count": 2, "min": 10, "max": 30, "last": 30, "mean": 20, "rate": 4, "increase": 40},
		},
		{
			name: "observations with weights",
			points: []*sample.Point{
				{Kind: sample.Observation, T: base + 1000, V: 0.5, Count: 3},
				{Kind: sample.Observation, T: base + 2000, V: 2, Count: 1},
			},
			want: map[string]float64{"sum": 3.5, "count": 4, "min": 0.5, "max": 2, "last": 2, "mean": 0.875, "rate": 0.4, "increase": 4},
		},
		{
			name: "last ties keep the larger value",
			points: []*sample.Point{
				{Kind: sample.Gauge, T: base + 1000, V: 7},
				{Kind: sample.Gauge, T: base + 1000, V: 9},
				{Kind: sample.Gauge, T: base + 1000, V: 8},
			},
			want: map[string]float64{"sum": 24, "count": 3, "min": 7, "max": 9, "last": 9, "mean": 8, "rate": 0.3, "increase": 3},
		},
		{
			name: "explicit histogram: no min, max or last",
			points: []*sample.Point{{Kind: sample.Histogram, T: base + 1000, Hist: &sample.BucketHistogram{
				Bounds: []float64{1}, Counts: []uint64{2, 3}, Sum: 9, Count: 5}}},
			want: map[string]float64{"sum": 9, "count": 5, "mean": 1.8, "rate": 0.5, "increase": 5},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgg(t)
			tg := target("m", 1, all...)
			p := a.Partition(0, t0)
			for _, pt := range tc.points {
				if r := p.Add(pt, tg, t0); r != "" {
					t.Fatalf("dropped: %s", r)
				}
			}
			out := collect(func(emit func(Series)) { flushAll(a, emit) })
			for _, s := range all {
				name := "m_" + aggName(s)
				got, ok := out[labels.FromStrings("__name__", name).String()]
				want, wantOK := tc.want[aggName(s)]
				if ok != wantOK {
					t.Errorf("%s: emitted=%v, want emitted=%v", name, ok, wantOK)
					continue
				}
				if ok && math.Abs(got.V-want) > 1e-12 {
					t.Errorf("%s = %v, want %v", name, got.V, want)
				}
				if ok && got.T != base+10_000 {
					t.Errorf("%s at %d, want window end %d", name, got.T, base+10_000)
				}
			}
		})
	}
}

// TestMergeRefusedWhole: a partial whose buckets have other bounds than
// its window's (two input partitions' SDKs disagree) is refused whole, and
// counted: the window's count and sum stay those of its buckets.
func TestMergeRefusedWhole(t *testing.T) {
	a := newAgg(t)
	tg := target("h", 1, Spec{Agg: Buckets, Labels: labels.FromStrings("__name__", "h_bucket")}, Spec{Agg: Count}, Spec{Agg: Sum})
	ms := t0.UnixMilli()
	a.Partition(0, t0).Add(&sample.Point{Kind: sample.Histogram, T: ms, Hist: &sample.BucketHistogram{
		Bounds: []float64{0.1, 0.5}, Counts: []uint64{1, 2, 3}, Count: 6, Sum: 4}}, tg, t0)
	a.Partition(1, t0).Add(&sample.Point{Kind: sample.Histogram, T: ms, Hist: &sample.BucketHistogram{
		Bounds: []float64{1}, Counts: []uint64{5, 5}, Count: 10, Sum: 7}}, tg, t0)
	out := collect(func(emit func(Series)) { flushAll(a, emit) })
	want := map[string]float64{
		labels.FromStrings("__name__", "h_bucket", "le", "0.1").String():  1,
		labels.FromStrings("__name__", "h_bucket", "le", "0.5").String():  3,
		labels.FromStrings("__name__", "h_bucket", "le", "+Inf").String(): 6,
		labels.FromStrings("__name__", "h_count").String():                6,
		labels.FromStrings("__name__", "h_sum").String():                  4,
	}
	for k, v := range want {
		if s, ok := out[k]; !ok || s.V != v {
			t.Errorf("%s: got %v (emitted %v), want %v", k, s.V, ok, v)
		}
	}
	if len(out) != len(want) {
		t.Errorf("emitted %d series, want %d: %v", len(out), len(want), out)
	}
	if got := testutilDropped(a, ReasonInvalid); got != 1 {
		t.Errorf("%v refused partials counted invalid, want 1", got)
	}
}

func TestBuckets(t *testing.T) {
	a := newAgg(t)
	tg := target("h", 1, Spec{Agg: Buckets, Labels: labels.FromStrings("__name__", "h_bucket")})
	p := a.Partition(0, t0)
	ex := sample.Exemplar{TraceID: sample.TraceID{9}, Value: 0.3, T: t0.UnixMilli()}
	for range 2 {
		p.Add(&sample.Point{Kind: sample.Histogram, T: t0.UnixMilli(), Hist: &sample.BucketHistogram{
			Bounds: []float64{0.1, 0.5}, Counts: []uint64{1, 2, 3}, Count: 6, Exemplars: []sample.Exemplar{ex}}}, tg, t0)
	}
	if r := p.Add(&sample.Point{Kind: sample.Histogram, T: t0.UnixMilli(), Hist: &sample.BucketHistogram{
		Bounds: []float64{1}, Counts: []uint64{1, 1}}}, tg, t0); r != ReasonInvalid {
		t.Errorf("other bucket layout: got %q, want %q", r, ReasonInvalid)
	}
	out := collect(func(emit func(Series)) { flushAll(a, emit) })
	want := map[string]float64{"0.1": 2, "0.5": 6, "+Inf": 12}
	for le, v := range want {
		s, ok := out[labels.FromStrings("__name__", "h_bucket", "le", le).String()]
		if !ok || s.V != v {
			t.Errorf("le=%s: got %v (emitted %v), want %v", le, s.V, ok, v)
		}
		if le == "0.5" && s.Exemplar.TraceID != ex.TraceID {
			t.Errorf("le=0.5: exemplar %v, want %v", s.Exemplar, ex)
		}
	}
}

func TestExponentialHistogramQuantiles(t *testing.T) {
	a := newAgg(t)
	tg := target("e", 1, Spec{Agg: Quantile, Q: 0.5, Labels: labels.FromStrings("__name__", "e")})
	p := a.Partition(0, t0)
	// Scale 3: base 2^(1/8). All 100 observations in bucket index 8 = (2, 2^(9/8)].
	p.Add(&sample.Point{Kind: sample.ExponentialHistogram, T: t0.UnixMilli(), Exp: &sample.ExpHistogram{
		Scale: 3, PosOffset: 8, Pos: []uint64{100}, Count: 100}}, tg, t0)
	out := collect(func(emit func(Series)) { flushAll(a, emit) })
	got := out[labels.FromStrings("__name__", "e").String()].V
	if got < 2 || got > math.Pow(2, 9.0/8) {
		t.Errorf("median %v outside the bucket (2, %v]", got, math.Pow(2, 9.0/8))
	}
}

// TestDeterministicUnderShuffle feeds the same points in different orders and
// partitionings; every output, exemplars included, must be identical.
func TestDeterministicUnderShuffle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	base := t0.UnixMilli() - t0.UnixMilli()%10_000
	var points []*sample.Point
	for i := range 20_000 {
		v := math.Round(math.Exp(r.NormFloat64())*1e6) / 1e6
		points = append(points, obs(base+int64(r.IntN(30_000)), v, byte(i%251+1)))
	}
	specs := []Spec{{Agg: Sum}, {Agg: Count}, {Agg: Max}, {Agg: Last}, {Agg: Mean}}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		specs = append(specs, Spec{Agg: Quantile, Q: q, Labels: labels.FromStrings("__name__", "s", "quantile", formatLe(q))})
	}
	run := func(order []int, parts int) map[string]Series {
		a := newAgg(t)
		tg := target("s", 1, specs...)
		for i, idx := range order {
			a.Partition(int32(i%parts), t0).Add(points[idx], tg, t0)
		}
		out := map[string]Series{}
		flushAll(a, func(s Series) { out[fmt.Sprint(s.Labels, s.T)] = s })
		return out
	}
	order := make([]int, len(points))
	for i := range order {
		order[i] = i
	}
	want := run(order, 1)
	if len(want) != 3*len(specs) {
		t.Fatalf("got %d outputs, want %d (3 windows × %d specs)", len(want), 3*len(specs), len(specs))
	}
	for round := range 5 {
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		got := run(order, 1+round%4)
		if !reflect.DeepEqual(got, want) {
			for k, w := range want {
				if !reflect.DeepEqual(got[k], w) {
					t.Fatalf("round %d: %s = %+v, want %+v", round, k, got[k], w)
				}
			}
			t.Fatalf("round %d: outputs differ", round)
		}
	}
}

func TestWatermarks(t *testing.T) {
	tg := target("w", 1, Spec{Agg: Count})
	name := labels.FromStrings("__name__", "w_count").String()
	base := t0.UnixMilli() - t0.UnixMilli()%10_000

	t.Run("window closes when every partition passed it", func(t *testing.T) {
		a := newAgg(t, AllowedLateness(time.Second), IdleTimeout(time.Hour))
		lc := newLocal(a)
		p0, p1 := a.Partition(0, t0), a.Partition(1, t0)
		p0.Add(obs(base+1000, 1, 0), tg, t0)
		p1.Add(obs(base+2000, 1, 0), tg, t0)
		p0.Add(obs(base+12_000, 1, 0), tg, t0) // p0 watermark passes base+10s
		if out := collect(func(e func(Series)) { lc.tick(t0, e) }); len(out) != 0 {
			t.Fatalf("closed before partition 1 passed the window: %v", out)
		}
		p1.Add(obs(base+11_500, 1, 0), tg, t0)
		out := collect(func(e func(Series)) { lc.tick(t0, e) })
		if s, ok := out[name]; !ok || s.V != 2 || s.T != base+10_000 {
			t.Fatalf("got %+v, want count 2 at window end", out)
		}
	})
	t.Run("late point counted, not merged", func(t *testing.T) {
		a := newAgg(t, AllowedLateness(time.Second), IdleTimeout(time.Hour))
		lc := newLocal(a)
		p := a.Partition(0, t0)
		p.Add(obs(base+1000, 1, 0), tg, t0)
		p.Add(obs(base+15_000, 1, 0), tg, t0)
		lc.tick(t0, func(Series) {})
		if r := p.Add(obs(base+9_000, 1, 0), tg, t0); r != ReasonWindowClosed {
			t.Fatalf("late point: %q, want %q", r, ReasonWindowClosed)
		}
		// Within allowed lateness of the newest event: still taken.
		if r := p.Add(obs(base+14_500, 1, 0), tg, t0); r != "" {
			t.Fatalf("point within lateness dropped: %q", r)
		}
	})
	t.Run("future point counted", func(t *testing.T) {
		a := newAgg(t, MaxFuture(time.Minute))
		if r := a.Partition(0, t0).Add(obs(t0.Add(2*time.Minute).UnixMilli(), 1, 0), tg, t0); r != ReasonFuture {
			t.Fatalf("got %q, want %q", r, ReasonFuture)
		}
	})
	t.Run("idle partition follows wall time", func(t *testing.T) {
		a := newAgg(t, AllowedLateness(time.Second), IdleTimeout(5*time.Second))
		lc := newLocal(a)
		busy := a.Partition(0, t0)
		a.Partition(1, t0) // never sends anything
		busy.Add(obs(base+1000, 1, 0), tg, t0)
		busy.Add(obs(base+20_000, 1, 0), tg, t0)
		if out := collect(func(e func(Series)) { lc.tick(t0, e) }); len(out) != 0 {
			t.Fatalf("closed while partition 1 not yet idle: %v", out)
		}
		later := time.UnixMilli(base + 20_000).Add(6 * time.Second)
		out := collect(func(e func(Series)) { lc.tick(later, e) })
		if s, ok := out[name]; !ok || s.V != 1 {
			t.Fatalf("after idle timeout got %v, want the first window closed", out)
		}
	})
	t.Run("a silent source times out; its late partial re-emits the window", func(t *testing.T) {
		a := newAgg(t, AllowedLateness(time.Second), IdleTimeout(time.Hour), CloseTimeout(30*time.Second))
		m := a.NewMerger()
		m.Expect(t0, 0, 1)
		p0, p1 := a.Partition(0, t0), a.Partition(1, t0)
		p0.Add(obs(base+1000, 1, 0), tg, t0)
		p0.Add(obs(base+20_000, 1, 0), tg, t0)
		p1.Add(obs(base+2000, 1, 0), tg, t0) // p1's owner dies: nothing of it reaches stage 2
		for _, now := range []time.Time{t0, t0.Add(29 * time.Second)} {
			m.Watermark(0, p0.Advance(now, func(pt Partial) { m.Merge(pt, -1) }), now)
			if out := collect(func(e func(Series)) { m.Close(now, e) }); len(out) != 0 {
				t.Fatalf("closed at %v while source 1 was heard from within the timeout: %v", now.Sub(t0), out)
			}
		}
		at := t0.Add(31 * time.Second)
		m.Watermark(0, p0.Advance(at, func(pt Partial) { m.Merge(pt, -1) }), at)
		out := collect(func(e func(Series)) { m.Close(at, e) })
		if s, ok := out[name]; !ok || s.V != 1 {
			t.Fatalf("timeout close: got %v, want count 1 (p0 only)", out)
		}
		// A new owner of p1 hands on its partial late: the window is
		// emitted again, whole.
		p1.Add(obs(base+25_000, 1, 0), tg, t0)
		m.Watermark(1, p1.Advance(at, func(pt Partial) { m.Merge(pt, -1) }), at)
		out = collect(func(e func(Series)) { m.Close(at, e) })
		if s, ok := out[name]; !ok || s.V != 2 || s.T != base+10_000 {
			t.Fatalf("after the late partial: got %v, want the window again with count 2", out)
		}
		if out = collect(func(e func(Series)) { m.Close(at, e) }); len(out) != 0 {
			t.Fatalf("emitted a third time: %v", out)
		}
	})
	t.Run("a slow source that is heard from holds the window", func(t *testing.T) {
		a := newAgg(t, AllowedLateness(time.Second), IdleTimeout(time.Hour), CloseTimeout(30*time.Second))
		lc := newLocal(a)
		p0, p1 := a.Partition(0, t0), a.Partition(1, t0)
		p0.Add(obs(base+1000, 1, 0), tg, t0)
		p0.Add(obs(base+20_000, 1, 0), tg, t0)
		p1.Add(obs(base+2000, 1, 0), tg, t0)
		for s := range 10 {
			if out := collect(func(e func(Series)) { lc.tick(t0.Add(time.Duration(s)*time.Minute), e) }); len(out) != 0 {
				t.Fatalf("closed after %d min while partition 1 was heard from: %v", s, out)
			}
		}
		p1.Add(obs(base+11_500, 1, 0), tg, t0)
		out := collect(func(e func(Series)) { lc.tick(t0.Add(10*time.Minute), e) })
		if s, ok := out[name]; !ok || s.V != 2 {
			t.Fatalf("got %v, want count 2 once partition 1 passed the window", out)
		}
	})
}
