package pipeline_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
)

// TestMaxSeriesOverflow: a rollup's max_series keeps the first series of
// each window (in input order) and folds the points of the rest into one
// series marked otel_metric_overflow="true", so that nothing is lost: the
// overflow's sum and count are the rest's, and its points are counted under
// the rule.
func TestMaxSeriesOverflow(t *testing.T) {
	s := mustRules(t, `
rollup:
  - name: by-user
    match: req_total
    output: req_by_user
    by: [user]
    aggregations: [sum, count]
    policies: [10s:2d]
    max_series: 3
`)
	reg := prometheus.NewRegistry()
	h, log := testPipeline(t, s, plan.Unmatched{}, reg, "10s:2d")
	for i := range 10 { // window [0, 10s): u0 to u9, values 1 to 10
		send(t, h, gaugePoint{name: "req", labels: []string{"user", fmt.Sprint("u", i)}, sec: 1, v: float64(i + 1), delta: true})
	}
	for i := 9; i >= 0; i-- { // window [10s, 20s): u9 to u0
		send(t, h, gaugePoint{name: "req", labels: []string{"user", fmt.Sprint("u", i)}, sec: 11, v: float64(i + 1), delta: true})
	}
	flush(t, h)
	var want []string
	series := func(user string, end int64, sum, count float64) {
		lbl := `user="` + user + `"`
		if user == "" {
			lbl = `otel_metric_overflow="true"`
		}
		want = append(want,
			fmt.Sprintf(`10s:2d {__name__="req_by_user_count", %s}@%s=%g`, lbl, at(end), count),
			fmt.Sprintf(`10s:2d {__name__="req_by_user_sum", %s}@%s=%g`, lbl, at(end), sum))
	}
	for i := range 3 {
		series(fmt.Sprint("u", i), 10, float64(i+1), 1)
		series(fmt.Sprint("u", 9-i), 20, float64(10-i), 1)
	}
	series("", 10, 4+5+6+7+8+9+10, 7)
	series("", 20, 1+2+3+4+5+6+7, 7)
	checkSamples(t, log, want)
	if got := counter(t, reg, "weir_aggregator_overflow_points_total", "limit", "by-user"); got != 14 {
		t.Errorf("overflow points counted: %v, want 14", got)
	}
}

func TestMaxSeriesRefused(t *testing.T) {
	for _, v := range []string{"0", "-1", "many"} {
		_, err := rules.Parse("test.yaml", []byte(`
rollup:
  - name: r
    match: req_total
    output: o
    aggregations: [sum]
    policies: [10s:2d]
    max_series: `+v+"\n"))
		if err == nil || !strings.Contains(err.Error(), "test.yaml:8:17") || !strings.Contains(err.Error(), "max_series") {
			t.Errorf("max_series %s: %v, want an error at test.yaml:8:17 naming max_series", v, err)
		}
	}
}

// TestTenantMaxSeries: a tenant's max_series bounds its rollup series
// across its rules; the series past it fold into their own rule's overflow
// series, counted under the tenant.
func TestTenantMaxSeries(t *testing.T) {
	s := mustRules(t, `
limits:
  default: {max_series: 4}
rollup:
  - name: sums
    match: req_total
    output: req_sum
    by: [user]
    aggregations: [sum]
    policies: [10s:2d]
  - name: counts
    match: req_total
    output: req_count
    by: [user]
    aggregations: [count]
    policies: [10s:2d]
`)
	reg := prometheus.NewRegistry()
	h, log := testPipeline(t, s, plan.Unmatched{}, reg, "10s:2d")
	for i := range 3 {
		send(t, h, gaugePoint{name: "req", labels: []string{"user", fmt.Sprint("u", i)}, sec: 1, v: float64(i + 1), delta: true})
	}
	flush(t, h)
	var want []string
	for _, u := range []string{`user="u0"`, `user="u1"`, `otel_metric_overflow="true"`} {
		v := map[string]float64{`user="u0"`: 1, `user="u1"`: 2, `otel_metric_overflow="true"`: 3}[u]
		want = append(want,
			fmt.Sprintf(`10s:2d {__name__="req_count_count", %s}@%s=1`, u, at(10)),
			fmt.Sprintf(`10s:2d {__name__="req_sum_sum", %s}@%s=%g`, u, at(10), v))
	}
	checkSamples(t, log, want)
	if got := counter(t, reg, "weir_aggregator_overflow_points_total", "limit", "tenant:"); got != 2 {
		t.Errorf("overflow points counted under the tenant: %v, want 2", got)
	}
}
