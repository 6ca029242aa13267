package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// benchRules returns n rollup rules: nine in ten select one metric by name
// (the common case, found through the name index), one in ten selects a
// family by name regex and a label (checked against every series).
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

// benchSeries returns 1000 series of 7 labels; each hits rule i%nRules when
// hit, else matches nothing.
func benchSeries(nRules int, hit bool) []labels.Labels {
	out := make([]labels.Labels, 1000)
	for i := range out {
		name := fmt.Sprintf("other_%d", i)
		if hit {
			r := i % nRules
			name = fmt.Sprintf("metric_%d", r)
			if r%10 == 9 {
				name = fmt.Sprintf("family_%d_seconds", r)
			}
		}
		out[i] = labels.FromStrings("__name__", name, "env", "prod", "service", fmt.Sprintf("svc-%d", i%20),
			"instance", fmt.Sprintf("10.0.%d.%d:9090", i/250, i%250), "pod", fmt.Sprintf("pod-%d", i),
			"region", "eu-west-1", "job", "api")
	}
	return out
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		s, err := Parse("bench.yaml", []byte(benchRules(n)))
		if err != nil {
			b.Fatal(err)
		}
		for _, hit := range []bool{false, true} {
			series := benchSeries(n, hit)
			name := fmt.Sprintf("rules=%d/miss", n)
			if hit {
				name = fmt.Sprintf("rules=%d/hit", n)
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				outputs := 0
				i := 0
				for b.Loop() {
					outputs += len(s.Match(series[i%len(series)]).Outputs)
					i++
				}
				if hit != (outputs > 0) {
					b.Fatalf("hit=%v but %d outputs", hit, outputs)
				}
				b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "points/s")
			})
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(benchRules(1000))
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("bench.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
