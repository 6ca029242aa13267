package remotewrite

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are per Client; a Queue reports its length through its Client's.
type metrics struct {
	samples         prometheus.Counter
	exemplars       prometheus.Counter
	requests        *prometheus.CounterVec // by code: HTTP status, or "error" when no answer came
	retries         prometheus.Counter
	rejectedSamples prometheus.Counter
	queueLength     prometheus.Gauge
	duration        prometheus.Histogram
}

func newMetrics(url, name string, r prometheus.Registerer) (*metrics, error) {
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
			Help: "Attempts repeated after a network error, a 5xx or a 429.",
		}),
		rejectedSamples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_remote_write_rejected_samples_total", ConstLabels: cl,
			Help: "Samples and exemplars refused with a non-retryable status (4xx other than 429).",
		}),
		queueLength: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_remote_write_queue_length", ConstLabels: cl,
			Help: "Requests waiting in queues in front of this client, not yet taken by a worker.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weir_remote_write_request_duration_seconds", ConstLabels: cl,
			Help:    "Duration of one HTTP attempt, answered or not.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	if r == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.samples, m.exemplars, m.requests, m.retries, m.rejectedSamples, m.queueLength, m.duration}
	for i, c := range cs {
		if err := r.Register(c); err != nil {
			for _, done := range cs[:i] {
				r.Unregister(done)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("registering metrics for url %q name %q: already registered (give each client a distinct WithName): %w", url, name, err)
			}
			return nil, fmt.Errorf("registering metrics for url %q name %q: %w", url, name, err)
		}
	}
	return m, nil
}
