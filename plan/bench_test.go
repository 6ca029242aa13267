package plan

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/sample"
)

// benchRules returns n rollup rules, as rules' BenchmarkMatch does: nine in
// ten select one metric by name, one in ten a family by name regex and a
// label.
func benchRules(n int) string {
	var b strings.Builder
	b.WriteString("rollup:\n")
	for i := range n {
		match := fmt.Sprintf(`metric_%d{env!="dev"}`, i)
		if i%10 == 9 {
			match = fmt.Sprintf(`{__name__=~"family_%d_.+", env="prod"}`, i)
		}
		fmt.Fprintf(&b, "  - name: rule-%d\n    match: '%s'\n    output: out_%d\n    by: [service]\n"+
			"    aggregations: [count, sum, p50, p99]\n    policies: [10s:2d, 1m:40d]\n", i, match, i)
	}
	return b.String()
}

// benchPoints returns observations of 1000 series of 7 labels, within one
// 10s window; each hits rule i%nRules when hit, else no rule.
func benchPoints(nRules int, hit bool) []sample.Point {
	pts := make([]sample.Point, 1000)
	for i := range pts {
		name := fmt.Sprintf("other_%d", i)
		if hit {
			r := i % nRules
			name = fmt.Sprintf("metric_%d", r)
			if r%10 == 9 {
				name = fmt.Sprintf("family_%d_seconds", r)
			}
		}
		pts[i] = sample.Point{
			Labels: labels.FromStrings("__name__", name, "env", "prod", "service", fmt.Sprintf("svc-%d", i%20),
				"instance", fmt.Sprintf("10.0.%d.%d:9090", i/250, i%250), "pod", fmt.Sprintf("pod-%d", i),
				"region", "eu-west-1", "job", "api"),
			Kind:  sample.Observation,
			T:     base + int64(i%9000),
			V:     float64(i%100) / 1000,
			Count: 1,
		}
	}
	return pts
}

// BenchmarkAddPoint measures a point's way through the pipeline's rules
// stage: the per-series match cache and the aggregator's Add into each target
// (two policies of a rollup with count, sum, p50 and p99 on a hit; the
// series passing through at the finest policy on a miss).
func BenchmarkAddPoint(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		for _, hit := range []bool{true, false} {
			name := fmt.Sprintf("rules=%d/hit", n)
			if !hit {
				name = fmt.Sprintf("rules=%d/unmatched", n)
			}
			b.Run(name, func(b *testing.B) {
				p, err := New(Config{Rules: mustRules(b, benchRules(n))})
				if err != nil {
					b.Fatal(err)
				}
				agg, err := aggregator.New(aggregator.MaxFuture(100 * 24 * time.Hour))
				if err != nil {
					b.Fatal(err)
				}
				now := time.Now()
				part := agg.Partition(0, now)
				add := func(pt *sample.Point) {
					for _, t := range p.Route(pt, Input{}) {
						if part.Add(pt, t, now) == "" {
							p.Taken(pt.T)
						}
					}
				}
				pts := benchPoints(n, hit)
				for i := range pts { // warm the cache: a series is matched once
					add(&pts[i])
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					add(&pts[i%len(pts)])
					i++
				}
				b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "points/s")
				if !p.reload.seen {
					b.Fatal("the aggregator took no point")
				}
			})
		}
	}
}

// BenchmarkMatchMiss measures what a new input series costs: matching it and
// building its targets (the cache is emptied at every point).
func BenchmarkMatchMiss(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			p, err := New(Config{Rules: mustRules(b, benchRules(n)), MaxCacheBytes: 1})
			if err != nil {
				b.Fatal(err)
			}
			pts := benchPoints(n, true)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if m := p.lookup(&pts[i%len(pts)]); len(m.targets) != 2 {
					b.Fatalf("%d targets, want 2", len(m.targets))
				}
				i++
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "series/s")
		})
	}
}
