package pipeline_test

import (
	"testing"

	"github.com/weirdev/weir/plan"
)

const totalRules = `
rollup:
  - {name: reqs, match: reqs_total, output: reqs, by: [svc], aggregations: [total], policies: [10s:1d]}
`

// The total aggregation writes a running total across windows, as a
// Prometheus counter does; a new owner restored from the state the last
// one committed goes on from it.
func TestRunningTotals(t *testing.T) {
	set := mustRules(t, totalRules)
	first, log1 := testPipeline(t, set, plan.Unmatched{}, nil, "10s:1d")
	for w := range int64(3) {
		send(t, first, gaugePoint{name: "reqs", labels: []string{"svc", "a"}, sec: w*10 + 1, v: float64(w + 1), delta: true})
	}
	flush(t, first)
	checkSamples(t, log1, []string{
		`10s:1d {__name__="reqs_total", svc="a"}@` + at(10) + `=1`,
		`10s:1d {__name__="reqs_total", svc="a"}@` + at(20) + `=3`,
		`10s:1d {__name__="reqs_total", svc="a"}@` + at(30) + `=6`,
	})
	type rec struct{ key, value []byte }
	var state []rec
	first.W.Stage2.TakeState(func(q int32, key, value []byte) { state = append(state, rec{key, value}) })
	if len(state) != 1 {
		t.Fatalf("%d state records, want the one series' total", len(state))
	}

	second, log2 := testPipeline(t, set, plan.Unmatched{}, nil, "10s:1d")
	for _, r := range state {
		if err := second.W.Stage2.Restore(0, r.key, r.value); err != nil {
			t.Fatal(err)
		}
	}
	send(t, second, gaugePoint{name: "reqs", labels: []string{"svc", "a"}, sec: 31, v: 4, delta: true})
	flush(t, second)
	checkSamples(t, log2, []string{`10s:1d {__name__="reqs_total", svc="a"}@` + at(40) + `=10`})
	if err := second.W.Stage2.Restore(0, []byte("short"), nil); err == nil {
		t.Error("a malformed state record was restored")
	}
}
