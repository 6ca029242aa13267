package aggregator

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	points       prometheus.Counter
	dropped      *prometheus.CounterVec
	replayed     prometheus.Counter
	latePartials prometheus.Counter
	closed       *prometheus.CounterVec
	openWindows  prometheus.Gauge
	watermark    *prometheus.GaugeVec
	overflow     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		points: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_aggregator_points_total", Help: "Points folded into windows.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_aggregator_dropped_points_total", Help: "Points lost to a window: too far in the future, too late for their window (window_closed), or invalid (NaN, out of the sketch's range, bad buckets).",
		}, []string{"reason"}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_aggregator_replayed_points_total", Help: "Points read again after a restart or rebalance whose window was emitted before: already in the output, skipped (no loss).",
		}),
		latePartials: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_aggregator_late_partials_total", Help: "Partial windows that arrived after their window was emitted.",
		}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_aggregator_windows_closed_total", Help: "Windows emitted, by cause (watermark, timeout, shutdown).",
		}, []string{"cause"}),
		openWindows: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_aggregator_open_windows", Help: "Stage-1 windows open.",
		}),
		watermark: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_aggregator_watermark_seconds", Help: "Watermark of each input partition (Unix seconds).",
		}, []string{"partition"}),
		overflow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_aggregator_overflow_points_total", Help: "Points of a series beyond a series limit in a window (a rule's max_series, or its tenant's), folded into the rule's overflow series (otel_metric_overflow=\"true\"), by limit: the rule's name, or tenant:NAME.",
		}, []string{"limit"}),
	}
	for _, r := range []string{ReasonFuture, ReasonWindowClosed, ReasonInvalid} {
		m.dropped.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.points, m.dropped, m.replayed, m.latePartials, m.closed, m.openWindows, m.watermark, m.overflow)
	}
	return m
}
