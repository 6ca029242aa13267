package cluster

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	aborts             prometheus.Counter
	aborts2            prometheus.Counter
	rebalances         prometheus.Counter
	deadLetters        *prometheus.CounterVec
	deadLetterFailures *prometheus.CounterVec
	decisions          prometheus.Counter
	decisionFailures   prometheus.Counter
	lag                *prometheus.GaugeVec
	commitFails        *prometheus.CounterVec
	sinkFaults         *prometheus.CounterVec
	secondLag          *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		aborts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_stage1_transaction_aborts_total", Help: "Stage-1 transactions aborted (state rebuilt from the committed offsets).",
		}),
		aborts2: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_stage2_transaction_aborts_total", Help: "Stage-2 transactions aborted (windows and running totals rebuilt from the committed offsets and state).",
		}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_stage1_rebalances_total", Help: "Stage-1 partition assignments received.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_dead_letters_total", Help: "Records that did not decode, written to the dead-letter topic, by the topic they were read from.",
		}, []string{"topic"}),
		deadLetterFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_dead_letter_failures_total", Help: "Dead letters the broker refused: their record is read again (the commit waits), never lost.",
		}, []string{"topic"}),
		decisions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_stage2_decisions_total", Help: "Keep decisions of exemplars produced to weir.decisions.",
		}),
		decisionFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_stage2_decision_failures_total", Help: "Keep decisions the broker refused (logged): their traces are not exported unless another reason keeps them.",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_stage1_lag", Help: "Records behind the high watermark, per input partition, after the last poll.",
		}, []string{"topic", "partition"}),
		commitFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_commit_failures_total", Help: "Offset commits that failed, by pass (1, 2, traces).",
		}, []string{"stage"}),
		sinkFaults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_sink_flush_failures_total", Help: "Flushes of the sinks that failed, by pass (2: series, traces): nothing is committed until they succeed.",
		}, []string{"stage"}),
		secondLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_tailsampling_second_pass_behind_seconds", Help: "How far the second pass over a spans partition is behind the records' time (the decision wait when it keeps up).",
		}, []string{"partition"}),
	}
	if reg != nil {
		reg.MustRegister(m.aborts, m.aborts2, m.rebalances, m.deadLetters, m.deadLetterFailures, m.decisions, m.decisionFailures,
			m.lag, m.commitFails, m.sinkFaults, m.secondLag)
	}
	return m
}
