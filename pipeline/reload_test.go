package pipeline_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
)

const reloadV1 = `
rollup:
  - name: r
    match: m
    output: out
    aggregations: [sum]
    policies: [10s:1d, 30s:1d]
`

// reloadV2 changes rule r: it also counts.
var reloadV2 = strings.Replace(reloadV1, "[sum]", "[sum, count]", 1)

func TestReloadChangedRuleStartsAtWindowBoundary(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, log := testPipeline(t, mustRules(t, reloadV1), plan.Unmatched{}, reg, "10s:1d", "30s:1d")
	sendEach(t, p, "m", 0, 15)
	// The newest event time is 15s: the 10s windows switch at 20s, the 30s
	// windows at 30s.
	p.W.Plan.SetRules(mustRules(t, reloadV2))
	sendEach(t, p, "m", 16, 25)
	// Late for the new set but before the boundaries: old version, both
	// resolutions.
	send(t, p, gaugePoint{name: "m", sec: 12, v: 1})
	sendEach(t, p, "m", 26, 59)
	flush(t, p)

	checkSamples(t, log, []string{
		`10s:1d {__name__="out_sum"}@` + at(10) + `=10`,
		`10s:1d {__name__="out_sum"}@` + at(20) + `=11`, // whole window of v1, the late point included
		`10s:1d {__name__="out_sum"}@` + at(30) + `=10`,
		`10s:1d {__name__="out_count"}@` + at(30) + `=10`,
		`10s:1d {__name__="out_sum"}@` + at(40) + `=10`,
		`10s:1d {__name__="out_count"}@` + at(40) + `=10`,
		`10s:1d {__name__="out_sum"}@` + at(50) + `=10`,
		`10s:1d {__name__="out_count"}@` + at(50) + `=10`,
		`10s:1d {__name__="out_sum"}@` + at(60) + `=10`,
		`10s:1d {__name__="out_count"}@` + at(60) + `=10`,
		`30s:1d {__name__="out_sum"}@` + at(30) + `=31`, // v1 until 30s
		`30s:1d {__name__="out_sum"}@` + at(60) + `=30`,
		`30s:1d {__name__="out_count"}@` + at(60) + `=30`,
	})
	if got := counter(t, reg, "weir_pipeline_rule_swaps_total"); got != 1 {
		t.Errorf("weir_pipeline_rule_swaps_total = %v, want 1", got)
	}
}

func TestReloadKeepsWindowsOfUnchangedRules(t *testing.T) {
	const v1 = `
rollup:
  - {name: a, match: m, output: a, aggregations: [sum], policies: [10s:1d]}
`
	v2 := v1 + "  - {name: b, match: m, output: b, aggregations: [count], policies: [10s:1d]}\n"
	p, log := testPipeline(t, mustRules(t, v1), plan.Unmatched{}, nil, "10s:1d")
	sendEach(t, p, "m", 0, 4)
	p.W.Plan.SetRules(mustRules(t, v2))
	sendEach(t, p, "m", 5, 14)
	flush(t, p)
	checkSamples(t, log, []string{
		`10s:1d {__name__="a_sum"}@` + at(10) + `=10`, // one window across the reload, not two halves
		`10s:1d {__name__="a_sum"}@` + at(20) + `=5`,
		`10s:1d {__name__="b_count"}@` + at(20) + `=5`, // the new rule starts at the boundary
	})
}

func TestReloadBeforeAnyPointTakesEffectAtOnce(t *testing.T) {
	p, log := testPipeline(t, mustRules(t, reloadV1), plan.Unmatched{}, nil, "10s:1d", "30s:1d")
	p.W.Plan.SetRules(mustRules(t, reloadV2))
	sendEach(t, p, "m", 0, 9)
	flush(t, p)
	checkSamples(t, log, []string{
		`10s:1d {__name__="out_sum"}@` + at(10) + `=10`,
		`10s:1d {__name__="out_count"}@` + at(10) + `=10`,
		`30s:1d {__name__="out_sum"}@` + at(30) + `=10`,
		`30s:1d {__name__="out_count"}@` + at(30) + `=10`,
	})
}

func TestReloadWaitsForTheSwitchUnderWay(t *testing.T) {
	const v1 = "rollup:\n  - {name: r, match: m, output: o, aggregations: [sum], policies: [10s:1d]}\n"
	v2 := strings.Replace(v1, "[sum]", "[max]", 1)
	v3 := strings.Replace(v1, "[sum]", "[min]", 1)
	p, log := testPipeline(t, mustRules(t, v1), plan.Unmatched{}, nil, "10s:1d")
	sendEach(t, p, "m", 0, 3)
	p.W.Plan.SetRules(mustRules(t, v2)) // switches at 10s
	sendEach(t, p, "m", 4, 5)
	p.W.Plan.SetRules(mustRules(t, v3)) // waits for 10s, then switches at 20s
	sendEach(t, p, "m", 6, 29)
	flush(t, p)
	checkSamples(t, log, []string{
		`10s:1d {__name__="o_sum"}@` + at(10) + `=10`,
		`10s:1d {__name__="o_max"}@` + at(20) + `=1`,
		`10s:1d {__name__="o_min"}@` + at(30) + `=1`,
	})
}

func TestReloadRefusesBadFileAndKeepsRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadV1)
	reg := prometheus.NewRegistry()
	w := rules.NewWatcher([]string{path}, rules.WatcherInterval(time.Hour), rules.WatcherRegisterer(reg),
		rules.WatcherLogger(slog.New(slog.DiscardHandler)))
	p, log := testPipeline(t, w.Current(), plan.Unmatched{}, nil, "10s:1d", "30s:1d")
	sendEach(t, p, "m", 0, 4)

	write(strings.Replace(reloadV2, "policies: [10s:1d, 30s:1d]", "policies: [10s:1x]", 1))
	err := w.Reload()
	if err == nil || !strings.Contains(err.Error(), path+":7:16: ") {
		t.Fatalf("Reload of a bad file = %v, want an error at %s:7:16", err, path)
	}
	p.W.Plan.SetRules(w.Current()) // what Watcher.Run would never do; the set in force is still v1
	sendEach(t, p, "m", 5, 9)
	flush(t, p)
	checkSamples(t, log, []string{
		`10s:1d {__name__="out_sum"}@` + at(10) + `=10`,
		`30s:1d {__name__="out_sum"}@` + at(30) + `=10`,
	})
	if got := counter(t, reg, "weir_pipeline_rule_swaps_total"); got != 0 {
		t.Errorf("weir_pipeline_rule_swaps_total = %v, want 0", got)
	}
	n, err := testutil.GatherAndCount(reg, "weir_rules_reload_failures_total")
	if err != nil || n != 1 {
		t.Fatalf("weir_rules_reload_failures_total not exposed: %d series, %v", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP weir_rules_reload_failures_total Reloads of the rules files refused because the files did not compile; the previous rules stayed in force.
# TYPE weir_rules_reload_failures_total counter
weir_rules_reload_failures_total 1
`), "weir_rules_reload_failures_total"); err != nil {
		t.Error(err)
	}
}
