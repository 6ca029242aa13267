package ingest

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Opt configures a Consumer.
type Opt struct{ fn func(*consumerConfig) }

type consumerConfig struct {
	brokers                   []string
	group                     string
	metricsTopic, spansTopic  string
	metricsEnc, tracesEnc     Encoding
	deadLetterTopic           string
	tenantHeader, tenant      string
	pollInterval, stopTimeout time.Duration
	logger                    *slog.Logger
	reg                       prometheus.Registerer
	clientOpts                []kgo.Opt
}

func defaultConsumerConfig() consumerConfig {
	return consumerConfig{
		group:           "weir",
		metricsTopic:    "otlp_metrics",
		spansTopic:      "otlp_spans",
		metricsEnc:      EncodingProto,
		tracesEnc:       EncodingProto,
		deadLetterTopic: "weir.dlq",
		pollInterval:    time.Second,
		stopTimeout:     10 * time.Second,
		logger:          slog.New(slog.DiscardHandler),
	}
}

// Brokers sets the seed brokers, host:port each. Required.
func Brokers(addrs ...string) Opt {
	return Opt{func(c *consumerConfig) { c.brokers = append([]string(nil), addrs...) }}
}

// Group sets the consumer group (default "weir"). Every weir process of one
// deployment uses the same group: the group protocol shares the partitions.
func Group(name string) Opt { return Opt{func(c *consumerConfig) { c.group = name }} }

// MetricsTopic sets the topic of OTLP metrics (default "otlp_metrics", the
// kafkaexporter's default); "" consumes no metrics.
func MetricsTopic(topic string) Opt { return Opt{func(c *consumerConfig) { c.metricsTopic = topic }} }

// SpansTopic sets the topic of OTLP spans (default "otlp_spans", the
// kafkaexporter's default); "" consumes no spans.
func SpansTopic(topic string) Opt { return Opt{func(c *consumerConfig) { c.spansTopic = topic }} }

// MetricsEncoding sets the encoding of the metrics topic (default otlp_proto).
func MetricsEncoding(e Encoding) Opt { return Opt{func(c *consumerConfig) { c.metricsEnc = e }} }

// TracesEncoding sets the encoding of the spans topic (default otlp_proto).
func TracesEncoding(e Encoding) Opt { return Opt{func(c *consumerConfig) { c.tracesEnc = e }} }

// DeadLetterTopic sets where records that do not decode are produced
// (default "weir.dlq"); "" only counts and logs them.
func DeadLetterTopic(topic string) Opt {
	return Opt{func(c *consumerConfig) { c.deadLetterTopic = topic }}
}

// TenantHeader names a record header that holds the record's tenant, as the
// kafkaexporter writes with include_metadata_keys (for example
// "X-Scope-OrgID"); the name is matched case-insensitively, like collector
// metadata keys. A non-empty header value becomes Source.Tenant and wins over
// everything else.
func TenantHeader(name string) Opt { return Opt{func(c *consumerConfig) { c.tenantHeader = name }} }

// DefaultTenant is Source.Tenant for records without the tenant header
// (default ""). Leave it empty when converters resolve tenants with
// TenantAttribute: they consult the attribute only for an empty tenant, and
// take their FallbackTenant last.
func DefaultTenant(name string) Opt { return Opt{func(c *consumerConfig) { c.tenant = name }} }

// PollInterval bounds how long a poll waits for records (default 1s), and so
// how often Handler.PollDone runs while no records arrive.
func PollInterval(d time.Duration) Opt { return Opt{func(c *consumerConfig) { c.pollInterval = d }} }

// StopTimeout bounds the final PollDone, commit and group leave after Run's
// context is canceled, and each wait for dead letters to be written (default
// 10s).
func StopTimeout(d time.Duration) Opt { return Opt{func(c *consumerConfig) { c.stopTimeout = d }} }

// WithLogger sets the logger of the Consumer and of its Kafka client
// (default: discard).
func WithLogger(l *slog.Logger) Opt {
	return Opt{func(c *consumerConfig) {
		if l != nil {
			c.logger = l
		}
	}}
}

// WithRegisterer registers the Consumer's metrics on r (default nil: not
// registered).
func WithRegisterer(r prometheus.Registerer) Opt { return Opt{func(c *consumerConfig) { c.reg = r }} }

// ClientOpts adds franz-go client options, applied after the Consumer's own
// (so they may override them, for example fetch sizes or timeouts in tests).
// Overriding the group, topics, balancer or commit options breaks Run's
// guarantees.
func ClientOpts(opts ...kgo.Opt) Opt {
	return Opt{func(c *consumerConfig) { c.clientOpts = append(c.clientOpts, opts...) }}
}
