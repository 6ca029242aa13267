package kafkaotlp

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	points    prometheus.Counter
	exemplars prometheus.Counter
	records   *prometheus.CounterVec // by result: ok, error
	bytes     prometheus.Counter
	dropped   *prometheus.CounterVec // by reason
}

func newMetrics(topic, name string, r prometheus.Registerer) (*metrics, error) {
	cl := prometheus.Labels{"topic": topic, "name": name}
	m := &metrics{
		points: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_kafka_sink_points_total", ConstLabels: cl,
			Help: "OTLP data points in records the brokers acknowledged.",
		}),
		exemplars: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_kafka_sink_exemplars_total", ConstLabels: cl,
			Help: "OTLP exemplars in records the brokers acknowledged.",
		}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_kafka_sink_records_total", ConstLabels: cl,
			Help: "Records produced, by result: ok (acknowledged) or error (failed for good).",
		}, []string{"result"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_kafka_sink_record_bytes_total", ConstLabels: cl,
			Help: "Encoded MetricsData bytes in acknowledged records, before Kafka's compression.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_kafka_sink_dropped_series_total", ConstLabels: cl,
			Help: "Series with no OTLP form, by reason: no_name, histogram, too_large, no_samples.",
		}, []string{"reason"}),
	}
	if r == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.points, m.exemplars, m.records, m.bytes, m.dropped}
	for i, c := range cs {
		if err := r.Register(c); err != nil {
			for _, done := range cs[:i] {
				r.Unregister(done)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("registering metrics for topic %q name %q: already registered (give each sink a distinct WithName): %w", topic, name, err)
			}
			return nil, fmt.Errorf("registering metrics for topic %q name %q: %w", topic, name, err)
		}
	}
	return m, nil
}
