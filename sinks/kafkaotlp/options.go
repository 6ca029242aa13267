package kafkaotlp

import (
	"fmt"
	"log/slog"
	"maps"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Opt configures a Sink.
type Opt func(*config)

type config struct {
	maxPoints  int
	maxBytes   int
	resource   map[string]string
	clientOpts []kgo.Opt
	newClient  func(...kgo.Opt) (*kgo.Client, error)
	logger     *slog.Logger
	registerer prometheus.Registerer
	name       string
}

func defaultConfig() config {
	return config{
		maxPoints: 2000,
		maxBytes:  900_000,
		logger:    slog.New(slog.DiscardHandler),
		newClient: kgo.NewClient,
	}
}

// WithMaxPointsPerRecord caps the data points in one Kafka record (default
// 2000). A downstream consumer decodes a record whole, so smaller records
// spread a big batch over more partitions and bound its memory.
func WithMaxPointsPerRecord(n int) Opt { return func(c *config) { c.maxPoints = n } }

// WithMaxRecordBytes caps the encoded size of one record's value (default
// 900,000 bytes, inside the 1 MiB that Kafka brokers and consumers accept by
// default). A batch that encodes larger is split; a single series that alone
// encodes larger is dropped and counted (reason too_large).
func WithMaxRecordBytes(n int) Opt { return func(c *config) { c.maxBytes = n } }

// WithResourceAttributes puts attrs on the resource of every MetricsData
// written (default none: the series' labels all become data point
// attributes, so that what a consumer reads back has exactly the labels
// remote write stores). The map is copied.
func WithResourceAttributes(attrs map[string]string) Opt {
	return func(c *config) { c.resource = maps.Clone(attrs) }
}

// WithClientOpts adds franz-go client options (TLS, SASL, compression,
// partitioner, ...), applied after the sink's own: seed brokers, the default
// topic, and a batch size that fits WithMaxRecordBytes.
func WithClientOpts(opts ...kgo.Opt) Opt {
	return func(c *config) { c.clientOpts = append(c.clientOpts, opts...) }
}

// WithNewClient makes the sink's client with fn (default kgo.NewClient),
// given the sink's options: `weir run` passes cluster.Clients.New, so that
// the sink connects with the TLS, SASL and logging of every other Kafka
// client weir makes.
func WithNewClient(fn func(...kgo.Opt) (*kgo.Client, error)) Opt {
	return func(c *config) { c.newClient = fn }
}

// WithLogger sets the logger for dropped series and failed records (default:
// discard).
func WithLogger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// WithRegisterer registers the sink's metrics on r (default nil: metrics are
// kept but not registered).
func WithRegisterer(r prometheus.Registerer) Opt { return func(c *config) { c.registerer = r } }

// WithName sets the value of the `name` label on the sink's metrics (default
// ""), which tells apart sinks writing to the same topic. Every metric also
// carries the topic as the `topic` label.
func WithName(name string) Opt { return func(c *config) { c.name = name } }

func (c *config) validate() error {
	if c.maxPoints < 1 {
		return fmt.Errorf("max points per record %d: must be at least 1", c.maxPoints)
	}
	if c.maxBytes < 1024 {
		return fmt.Errorf("max record bytes %d: must be at least 1024", c.maxBytes)
	}
	if c.logger == nil {
		return fmt.Errorf("logger is nil")
	}
	if c.newClient == nil {
		return fmt.Errorf("client constructor is nil")
	}
	return nil
}
