package plan

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	dropped   *prometheus.CounterVec
	unmatched prometheus.Counter
	shed      *prometheus.CounterVec
	ruleSwaps prometheus.Counter
	// cacheBytes and cacheResets describe the match cache.
	cacheBytes  prometheus.Gauge
	cacheResets prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_rules_dropped_points_total", Help: "Points dropped by a drop rule, by rule.",
		}, []string{"rule"}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_rules_unmatched_points_total", Help: "Points that no rule matched: passed through at the unmatched storage policies, or dropped when configured so.",
		}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_limits_shed_points_total", Help: "Points refused because their tenant was over its limit, by tenant, quota pool (empty: none) and the priority they were judged at (their pool's, else their rules').",
		}, []string{"tenant", "pool", "priority"}),
		ruleSwaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_pipeline_rule_swaps_total", Help: "Rule sets taken into use.",
		}),
		cacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_plan_match_cache_bytes", Help: "Memory held by the cache of what the rules say about each input series (bounded by its byte limit).",
		}),
		cacheResets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_plan_match_cache_resets_total", Help: "Times the match cache reached its byte limit and was emptied (its series are matched again as they come).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.dropped, m.unmatched, m.shed, m.ruleSwaps, m.cacheBytes, m.cacheResets)
	}
	return m
}
