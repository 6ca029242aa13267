package plan

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

const poolRules = `
rollup:
  - name: all
    match: '{__name__="m"}'
    output: m_out
    by: [team]
    aggregations: [count]
    policies: [10s:2d]
    priority: 5
drop:
  - name: bronze-debug
    match: '{__name__="m", team="bronze", level="debug"}'
    only_over_quota: true
limits:
  default:
    samples_per_second: 100
    burst: 1s
    pools:
      - {name: gold, match: '{team="gold"}', share: 0.3, priority: 10}
      - {name: bronze, match: '{team="bronze"}', share: 0.2, priority: 1}
`

// TestQuotaPools: in one interval of a limit of 100 points, the pools'
// shares (30 and 20) are admitted whatever else comes; beyond them, points
// draw on the unreserved 50 by priority (gold 10, the rule's 5 for series
// outside every pool, bronze 1, and 0), so gold is never shed and bronze
// is shed first. A bronze debug series is dropped by its only_over_quota
// rule once bronze's share is spent, and not before.
func TestQuotaPools(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, err := New(Config{Rules: mustSet(t, poolRules), Reg: reg})
	if err != nil {
		t.Fatal(err)
	}
	p.Refresh()
	in := Input{Offset: 1, Watermark: base - 60_000}
	admitted := map[string]int{}
	route := func(team, level string) bool {
		pt := sample.Point{Labels: labels.FromStrings("__name__", "m", "team", team, "level", level), Kind: sample.Gauge, V: 1, T: base + 100}
		ok := len(p.Route(&pt, in)) > 0
		if ok {
			admitted[team+"/"+level]++
		}
		return ok
	}
	debugBefore, debugAfter := 0, 0
	for i := range 200 {
		if i < 40 {
			route("gold", "info")
		}
		// bronze alternates info and debug; its share is spent at its
		// 20th admitted point (round 19).
		if i%2 == 1 {
			if route("bronze", "debug") {
				if i < 20 {
					debugBefore++
				} else {
					debugAfter++
				}
			}
		} else {
			route("bronze", "info")
		}
		route("other", "info")
	}
	t.Logf("admitted %v", admitted)
	if admitted["gold/info"] != 40 {
		t.Errorf("gold admitted %d of 40: within its share and at the highest priority it is never shed", admitted["gold/info"])
	}
	if debugBefore != 10 || debugAfter != 0 {
		t.Errorf("bronze debug admitted %d before its pool's share was spent (want 10) and %d after (want 0)", debugBefore, debugAfter)
	}
	total := 0
	for _, n := range admitted {
		total += n
	}
	if total > 100 {
		t.Errorf("admitted %d points in an interval of 100", total)
	}
	// Bronze beyond its share stops at a quarter of the unreserved rest
	// (rank 1 of the priorities 0, 1, 5, 10), the series outside the
	// pools at three quarters: bronze's extra is the smaller.
	bronze := admitted["bronze/info"] + admitted["bronze/debug"]
	if extra, other := bronze-20, admitted["other/info"]-20; !(extra > 0 && extra < other) {
		t.Errorf("beyond the first 20 each, bronze got %d and the series outside the pools %d: want bronze fewer", extra, other)
	}
	dropped := testutil.ToFloat64(p.m.dropped.WithLabelValues("bronze-debug"))
	if want := float64(100 - debugBefore); dropped != want {
		t.Errorf("weir_rules_dropped_points_total{rule=bronze-debug} = %v, want %v", dropped, want)
	}
	if shed := testutil.ToFloat64(p.m.shed.WithLabelValues("", "gold", "10")); shed != 0 {
		t.Errorf("gold shed %v points", shed)
	}
	if shed := testutil.ToFloat64(p.m.shed.WithLabelValues("", "bronze", "1")); shed != float64(100-(bronze-debugBefore)) {
		t.Errorf("bronze info shed %v, want %d", shed, 100-(bronze-debugBefore))
	}
}
