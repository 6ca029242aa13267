package receiver

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values of the receiver's metrics.
const (
	protoGRPC        = "otlp_grpc"
	protoHTTP        = "otlp_http"
	protoRemoteWrite = "prometheus_remote_write"

	signalTraces  = "traces"
	signalMetrics = "metrics"

	outcomeOK          = "ok"
	outcomePartial     = "partial"     // answered with OTLP partial success
	outcomeInvalid     = "invalid"     // did not decode, or bad series (400)
	outcomeTooLarge    = "too_large"   // body over MaxRequestBytes (413)
	outcomeOverloaded  = "overloaded"  // in-flight limit (429)
	outcomeUnavailable = "unavailable" // Kafka did not acknowledge (503)
	outcomeUnsupported = "unsupported" // content type or encoding (415), method (405)

	// Reasons of weir_receiver_refused_items_total.
	reasonInvalid     = "invalid"     // an all-zero trace ID, or remote-write series without a valid name
	reasonTooLarge    = "too_large"   // a record Kafka refuses for good
	reasonOverloaded  = "overloaded"  // refused for the in-flight limit; the client retries
	reasonUnavailable = "unavailable" // Kafka did not acknowledge; the client retries
	reasonUnsupported = "unsupported" // remote-write native histograms, which weir does not convert
)

type metrics struct {
	requests *prometheus.CounterVec
	accepted *prometheus.CounterVec
	refusedV *prometheus.CounterVec
	inflight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_receiver_requests_total",
			Help: "Requests answered by the receivers, by protocol, signal and outcome (ok, partial, invalid, too_large, overloaded, unavailable, unsupported).",
		}, []string{"protocol", "signal", "outcome"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_receiver_accepted_items_total",
			Help: "Spans and data points written to Kafka and acknowledged, by protocol and signal.",
		}, []string{"protocol", "signal"}),
		refusedV: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_receiver_refused_items_total",
			Help: "Spans and data points not written, by protocol, signal and reason (invalid, too_large, unsupported: for good; overloaded, unavailable: the client was told to retry).",
		}, []string{"protocol", "signal", "reason"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_receiver_inflight_bytes",
			Help: "Record bytes waiting for Kafka's acknowledgement.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.accepted, m.refusedV, m.inflight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("receiver: metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) refused(proto, signal, reason string, n int64) {
	if n > 0 {
		m.refusedV.WithLabelValues(proto, signal, reason).Add(float64(n))
	}
}

func (m *metrics) request(proto, signal, outcome string) {
	m.requests.WithLabelValues(proto, signal, outcome).Inc()
}
