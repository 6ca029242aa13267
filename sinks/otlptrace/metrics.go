package otlptrace

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons for weir_otlp_export_failed_spans_total.
const (
	reasonRejected       = "rejected"        // a status that retrying cannot fix
	reasonPartialSuccess = "partial_success" // the server accepted the request but refused some spans
	reasonGaveUp         = "gave_up"         // the context ended while retrying
	reasonDropped        = "dropped"         // still queued when Close gave up
)

type metrics struct {
	spans       prometheus.Counter
	failed      *prometheus.CounterVec
	retries     prometheus.Counter
	queueLength prometheus.Gauge
}

func newMetrics(endpoint, name string) *metrics {
	cl := prometheus.Labels{"endpoint": endpoint, "name": name}
	m := &metrics{
		spans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_otlp_export_spans_total", ConstLabels: cl,
			Help: "Spans accepted by the OTLP trace endpoint.",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_otlp_export_failed_spans_total", ConstLabels: cl,
			Help: "Spans not exported, by reason: rejected, partial_success, gave_up, dropped.",
		}, []string{"reason"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_otlp_export_retries_total", ConstLabels: cl,
			Help: "Export attempts repeated after a retryable gRPC status or an unreadable header file.",
		}),
		queueLength: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_otlp_export_queue_length", ConstLabels: cl,
			Help: "Trace batches waiting in the export queue.",
		}),
	}
	for _, reason := range []string{reasonRejected, reasonPartialSuccess, reasonGaveUp, reasonDropped} {
		m.failed.WithLabelValues(reason) // present at 0 from the start, so rate() sees the first failure
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.spans, m.failed, m.retries, m.queueLength}
}
