package pipeline_test

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
)

const passThroughRules = `
rollup:
  - name: lat-max
    match: lat
    output: lat:all
    without: [pod]
    aggregations: [max]
    policies: [10s:1d]
    keep_original: true
mapping:
  - name: lat-long
    match: lat
    policies: [10s:1d, 1m:1d]
  - name: node
    match: node_load
    policies: [1m:1d]
`

func TestPassThrough(t *testing.T) {
	points := []gaugePoint{
		{name: "lat", labels: []string{"pod", "a"}, sec: 1, v: 3},
		{name: "lat", labels: []string{"pod", "b"}, sec: 2, v: 5},
		{name: "node_load", sec: 3, v: 0.5},
		{name: "other", sec: 4, v: 7},
		{name: "other", sec: 5, v: 8},
	}
	// Written whatever the unmatched setting.
	common := []string{
		`10s:1d {__name__="lat:all_max"}@` + at(10) + `=5`,
		// keep_original and the mapping ask for lat at 10s: written once.
		`10s:1d {__name__="lat", pod="a"}@` + at(10) + `=3`,
		`10s:1d {__name__="lat", pod="b"}@` + at(10) + `=5`,
		`1m:1d {__name__="lat", pod="a"}@` + at(60) + `=3`,
		`1m:1d {__name__="lat", pod="b"}@` + at(60) + `=5`,
		// A mapping replaces the raw series: node_load only at 1m.
		`1m:1d {__name__="node_load"}@` + at(60) + `=0.5`,
	}
	for _, tc := range []struct {
		name string
		u    plan.Unmatched
		want []string
	}{
		{"default: finest policy of the rules", plan.Unmatched{}, []string{`10s:1d {__name__="other"}@` + at(10) + `=8`}},
		{"configured policies", plan.Unmatched{Policies: []rules.StoragePolicy{{Resolution: time.Minute, Retention: 24 * time.Hour}}},
			[]string{`1m:1d {__name__="other"}@` + at(60) + `=8`}},
		{"dropped", plan.Unmatched{Drop: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			p, log := testPipeline(t, mustRules(t, passThroughRules), tc.u, reg, "10s:1d", "1m:1d")
			send(t, p, points...)
			flush(t, p)
			checkSamples(t, log, append(slices.Clone(common), tc.want...))
			if got := counter(t, reg, "weir_rules_unmatched_points_total"); got != 2 {
				t.Errorf("weir_rules_unmatched_points_total = %v, want 2 (the points of other)", got)
			}
		})
	}
}

// A delta would be counted twice if the input series passed through once per
// rule that asks for it.
func TestPassThroughOncePerPolicy(t *testing.T) {
	const src = `
rollup:
  - {name: c-sum, match: c_total, output: 'c:all', aggregations: [sum], policies: [10s:1d], keep_original: true}
mapping:
  - {name: c-map, match: c_total, policies: [10s:1d]}
`
	p, log := testPipeline(t, mustRules(t, src), plan.Unmatched{}, nil, "10s:1d")
	send(t, p, gaugePoint{name: "c", sec: 1, v: 2, delta: true}, gaugePoint{name: "c", sec: 2, v: 3, delta: true})
	flush(t, p)
	checkSamples(t, log, []string{
		`10s:1d {__name__="c:all_sum"}@` + at(10) + `=5`,
		`10s:1d {__name__="c_total"}@` + at(10) + `=5`, // The counter c.
	})
}
