package remotewrite

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons for weir_remote_write_dropped_samples_total and
// weir_remote_write_dropped_exemplars_total.
const (
	reasonOutOfOrder = "out_of_order" // older than the newest sample the storage holds for the series
	reasonDuplicate  = "duplicate"    // the storage holds another value at the same timestamp
	reasonTooOld     = "too_old"      // outside the time range the storage accepts
	reasonTooLarge   = "too_large"    // 413 for a request of one sample
	reasonRejected   = "rejected"     // another status that retrying cannot fix
	reasonClosed     = "closed"       // still queued or in flight when Close gave up
)

var dropReasons = []string{reasonOutOfOrder, reasonDuplicate, reasonTooOld, reasonTooLarge, reasonRejected, reasonClosed}

// metrics are per Client.
type metrics struct {
	samples          prometheus.Counter
	exemplars        prometheus.Counter
	requests         *prometheus.CounterVec // by code: HTTP status, or "error" when no answer came
	retries          prometheus.Counter
	droppedSamples   *prometheus.CounterVec // by reason
	droppedExemplars *prometheus.CounterVec // by reason
	configFault      prometheus.Gauge
	queueLength      prometheus.Gauge
	duration         prometheus.Histogram
}

func newMetrics(url, name string) *metrics {
	cl := prometheus.Labels{"url": url, "name": name}
	m := &metrics{
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_remote_write_samples_total", ConstLabels: cl,
			Help: "Samples (float and histogram) acknowledged by the remote-write receiver.",
		}),
		exemplars: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_remote_write_exemplars_total", ConstLabels: cl,
			Help: "Exemplars acknowledged by the remote-write receiver.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_remote_write_requests_total", ConstLabels: cl,
			Help: "HTTP attempts by status code; code=\"error\" when the request got no answer.",
		}, []string{"code"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_remote_write_retries_total", ConstLabels: cl,
			Help: "Attempts repeated after an outage (network error, 5xx, 429, 408) or a configuration fault.",
		}),
		droppedSamples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_remote_write_dropped_samples_total", ConstLabels: cl,
			Help: "Samples not written, by reason: out_of_order, duplicate, too_old, too_large, rejected (refused for good by the receiver), closed (unsent at shutdown).",
		}, []string{"reason"}),
		droppedExemplars: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_remote_write_dropped_exemplars_total", ConstLabels: cl,
			Help: "Exemplars not written, by the reason of their request (as for dropped samples).",
		}, []string{"reason"}),
		configFault: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_remote_write_config_fault", ConstLabels: cl,
			Help: "1 while the receiver answers with a configuration fault (401, 403, 404, 407, a redirect, a TLS or credentials file error): nothing is dropped, nothing is committed.",
		}),
		queueLength: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_remote_write_queue_length", ConstLabels: cl,
			Help: "Requests waiting in the shards, not yet taken by a worker.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weir_remote_write_request_duration_seconds", ConstLabels: cl,
			Help:    "Duration of one HTTP attempt, answered or not.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	for _, r := range dropReasons {
		// Present at 0 from the start, so that rate() sees the first drop.
		m.droppedSamples.WithLabelValues(r)
		m.droppedExemplars.WithLabelValues(r)
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.samples, m.exemplars, m.requests, m.retries, m.droppedSamples,
		m.droppedExemplars, m.configFault, m.queueLength, m.duration}
}
