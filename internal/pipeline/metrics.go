package pipeline

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	dropped    *prometheus.CounterVec
	unmatched  prometheus.Counter
	unrouted   prometheus.Counter
	samples    prometheus.Counter
	exemplars  prometheus.Counter
	keptTraces *prometheus.CounterVec
	ruleSwaps  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_rules_dropped_points_total", Help: "Points dropped by a drop rule, by rule.",
		}, []string{"rule"}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_rules_unmatched_points_total", Help: "Points that no rule matched (not aggregated).",
		}),
		unrouted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_pipeline_unrouted_samples_total", Help: "Output samples whose storage policy has no sink.",
		}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_pipeline_output_samples_total", Help: "Samples of closed windows handed to the series sinks.",
		}),
		exemplars: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_pipeline_output_exemplars_total", Help: "Exemplars attached to output samples.",
		}),
		keptTraces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_pipeline_exported_traces_total", Help: "Kept traces handed to the trace sink, by keep reason.",
		}, []string{"reason"}),
		ruleSwaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_pipeline_rule_swaps_total", Help: "Rule sets taken into use.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.dropped, m.unmatched, m.unrouted, m.samples, m.exemplars, m.keptTraces, m.ruleSwaps)
	}
	return m
}
