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

	aborts       prometheus.Counter
	rebalances   prometheus.Counter
	partials     prometheus.Counter
	deadLetters  *prometheus.CounterVec
	fastRecords  prometheus.Counter
	pdataRecords prometheus.Counter
	decisions    prometheus.Counter
	stage2Open   *prometheus.GaugeVec
	stage2Behind *prometheus.GaugeVec
	stage2Oldest *prometheus.GaugeVec
	lag          *prometheus.GaugeVec
	shed         *prometheus.CounterVec
	commitFails  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_rules_dropped_points_total", Help: "Points dropped by a drop rule, by rule.",
		}, []string{"rule"}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_rules_unmatched_points_total", Help: "Points that no rule matched: passed through at the unmatched storage policies, or dropped when configured so.",
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
	m.aborts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "weir_stage1_transaction_aborts_total", Help: "Stage-1 transactions aborted (state rebuilt from the committed offsets).",
	})
	m.rebalances = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "weir_stage1_rebalances_total", Help: "Stage-1 partition assignments received.",
	})
	m.partials = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "weir_stage1_partials_total", Help: "Partial windows produced to weir.partials.",
	})
	m.deadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_stage1_dead_letters_total", Help: "Input records that did not decode, sent to the dead-letter topic.",
	}, []string{"topic"})
	decoded := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_pipeline_metrics_records_total", Help: "otlp_proto metrics records read, by decoder: fast (weir's, histograms and summaries by pdata metric by metric) or pdata (records it leaves to pdata whole).",
	}, []string{"decoder"})
	m.fastRecords, m.pdataRecords = decoded.WithLabelValues("fast"), decoded.WithLabelValues("pdata")
	m.decisions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "weir_stage2_decisions_total", Help: "Keep decisions produced to weir.decisions.",
	})
	m.stage2Open = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "weir_stage2_open_windows", Help: "Stage-2 windows waiting to close, per weir.partials partition.",
	}, []string{"partition"})
	m.stage2Behind = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "weir_stage2_sources_behind", Help: "Stage-1 sources whose watermark holds the oldest open window of a weir.partials partition (why it waits).",
	}, []string{"partition"})
	m.stage2Oldest = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "weir_stage2_oldest_open_window_end_seconds", Help: "End of the oldest window waiting to close, per weir.partials partition (Unix seconds).",
	}, []string{"partition"})
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "weir_stage1_lag", Help: "Records behind the high watermark, per input partition, after the last poll.",
	}, []string{"topic", "partition"})
	m.shed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_limits_shed_points_total", Help: "Points refused because their tenant was over its limit, by tenant and rule priority.",
	}, []string{"tenant", "priority"})
	m.commitFails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_commit_failures_total", Help: "Offset commits that failed, by stage.",
	}, []string{"stage"})
	if reg != nil {
		reg.MustRegister(m.dropped, m.unmatched, m.unrouted, m.samples, m.exemplars, m.keptTraces, m.ruleSwaps,
			m.aborts, m.rebalances, m.partials, m.deadLetters, m.decisions, m.stage2Open, m.commitFails,
			m.stage2Behind, m.stage2Oldest, m.lag, m.shed, decoded)
	}
	return m
}
