package kafkaotlp

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	points    prometheus.Counter
	exemplars prometheus.Counter
	records   *prometheus.CounterVec // by result: ok, error
	bytes     prometheus.Counter
	dropped   *prometheus.CounterVec // by reason
}

func newMetrics(topic, name string) *metrics {
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
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.points, m.exemplars, m.records, m.bytes, m.dropped}
}
