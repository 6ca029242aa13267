package cluster

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
)

// limitedRules roll the span durations up at two priorities and the SDK
// metrics at a third, under a limit the input passes by far: the input
// carries a few thousand span points per second of event time.
const limitedRules = `
rollup:
  - name: span-red
    match: '{__name__="span_duration_seconds"}'
    output: span_duration_seconds
    by: [service_name, span_name]
    aggregations: [count, sum]
    policies: [10s:2d]
    priority: 10
  - name: span-services
    match: '{__name__="span_duration_seconds"}'
    output: span_services
    by: [service_name]
    aggregations: [count]
    policies: [1m:2d]
    priority: 1
  - name: sdk
    match: '{__name__=~"db_client.*|http_server.*"}'
    output: sdk
    by: [job]
    aggregations: [count]
    policies: [10s:2d]
    priority: 5
limits:
  default: {samples_per_second: 150, burst: 90s}
`

// TestLimitsEqualReference: with a tenant far over its limit, two nodes of
// which one stops mid-run and a third starts later shed exactly the points
// the single-process reference sheds, so the output equals it: admission
// is a function of each input partition's records and their event times,
// not of when a process happened to read them.
func TestLimitsEqualReference(t *testing.T) {
	brokers := inputCluster(t, 6000)
	set, err := rules.Parse("limits.yaml", []byte(limitedRules))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	want := referenceWith(t, brokers, pipeline.Config{Plan: plan.Config{Rules: set}, Reg: reg})
	if len(want) == 0 {
		t.Fatal("reference produced nothing")
	}
	shed := counterSum(t, reg, "weir_limits_shed_points_total")
	if shed == 0 {
		t.Fatal("the reference shed nothing: the limit is not exercised")
	}
	t.Logf("the reference wrote %d samples and shed %v points", len(want), shed)

	sink := newCapture()
	cfg := pipeline.Config{Plan: plan.Config{Rules: set}, Series: map[string]pipeline.SeriesSink{"": sink}}
	a := startNodeWith(t, brokers, "lim-a", cfg, nil)
	b := startNodeWith(t, brokers, "lim-b", cfg, nil)
	time.Sleep(3 * time.Second)
	a.cancel() // node a dies mid-run
	<-a.done
	time.Sleep(2 * time.Second)
	c3 := startNodeWith(t, brokers, "lim-c", cfg, nil)

	waitFor(3*time.Minute, func() bool { return len(sink.snapshot()) >= len(want) })
	b.stop(t)
	c3.stop(t)

	sink.mu.Lock()
	conflicts := sink.conflicts
	sink.mu.Unlock()
	testenv.CompareOutput(t, want, sink.snapshot(), conflicts)
}

// counterSum sums the series of the counter name in reg.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
