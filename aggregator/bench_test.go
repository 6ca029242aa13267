package aggregator

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

func redTarget(key uint64) *Target {
	specs := []Spec{{Agg: Sum}, {Agg: Count}}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		specs = append(specs, Spec{Agg: Quantile, Q: q, Labels: labels.FromStrings("__name__", "d", "quantile", formatLe(q))})
	}
	return target("d", key, specs...)
}

func latencies(n int) []float64 {
	r := rand.New(rand.NewPCG(1, 1))
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = math.Exp(r.NormFloat64()*0.8 - 4)
	}
	return vs
}

// BenchmarkWindowAdd is the per-span cost of the aggregator: one observation
// with an exemplar into a window with a sketch and four quantiles.
func BenchmarkWindowAdd(b *testing.B) {
	a := newAgg(b, MaxFuture(math.MaxInt64))
	const series = 1000
	tgs := make([]*Target, series)
	for i := range tgs {
		tgs[i] = redTarget(uint64(i))
	}
	vs := latencies(1 << 16)
	p := a.Partition(0, t0)
	pt := obs(t0.UnixMilli(), 0, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pt.V = vs[i&(1<<16-1)]
		pt.Exemplar.Value = pt.V
		pt.Exemplar.TraceID[1] = byte(i)
		p.Add(pt, tgs[i%series], t0)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkSketchInsert is the floor: sketches-go's own insert.
func BenchmarkSketchInsert(b *testing.B) {
	sk, _ := ddsketch.NewDefaultDDSketch(0.01)
	vs := latencies(1 << 16)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = sk.Add(vs[i&(1<<16-1)])
	}
}

// BenchmarkCloseEmit measures merging and emitting windows of 200
// observations each, per window.
func BenchmarkCloseEmit(b *testing.B) {
	vs := latencies(200)
	tg := redTarget(1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := newAgg(b)
		p := a.Partition(0, t0)
		for j, v := range vs {
			p.Add(obs(t0.UnixMilli(), v, byte(j+1)), tg, t0)
		}
		b.StartTimer()
		flushAll(a, func(Series) {})
	}
}

// BenchmarkBytesPerSeriesWindow reports the live heap of an open window of a
// span-RED target holding 100 observations (with exemplars).
func BenchmarkBytesPerSeriesWindow(b *testing.B) {
	const series = 2000
	vs := latencies(100)
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		a := newAgg(b)
		p := a.Partition(0, t0)
		for s := range series {
			tg := redTarget(uint64(s))
			for j, v := range vs {
				p.Add(&sample.Point{Kind: sample.Observation, T: t0.UnixMilli(), V: v, Count: 1,
					Exemplar: sample.Exemplar{TraceID: sample.TraceID{byte(j), byte(s)}, Value: v}}, tg, t0)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/series, "bytes/series-window")
		runtime.KeepAlive(a)
	}
}
