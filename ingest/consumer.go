package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Source says where a decoded batch came from.
type Source struct {
	Topic     string
	Partition int32
	Offset    int64
	// Tenant is the TenantHeader value, or the DefaultTenant when the record
	// has no such header (or it is empty, or no TenantHeader is set).
	Tenant string
	// Time is the record timestamp.
	Time time.Time
	// Key and Value are the record's; Value is the encoded batch. Nothing
	// reuses them, so they may be kept (as the span buffer keeps raw traces),
	// unless ClientOpts installs kgo.WithPools.
	Key, Value []byte
}

// Handler receives what a Consumer reads. Its methods are called from Run's
// goroutine and from the Kafka client's rebalance callbacks, never
// concurrently.
type Handler interface {
	// HandleMetrics receives one decoded metrics record.
	HandleMetrics(src Source, md pmetric.Metrics)
	// HandleTraces receives one decoded traces record.
	HandleTraces(src Source, td ptrace.Traces)
	// PollDone runs after every poll's records were handled (also when a
	// poll returned nothing, at most every PollInterval), before offsets are
	// committed. An error stops Run; the polled offsets are then not
	// committed.
	PollDone(ctx context.Context, now time.Time) error
	// PartitionsLost runs when partitions are revoked or lost (after a final
	// PollDone), so state can be flushed or dropped. Records of those
	// partitions already handled are committed when revoked, not when lost.
	PartitionsLost(ctx context.Context, topic string, partitions []int32)
}

// RawTracesHandler is a Handler that decodes otlp_proto traces records
// itself (the pipeline's zero-copy span decoder): the Consumer hands it those
// records undecoded, through HandleRawTraces, instead of decoding them with
// pdata first. HandleRawTraces returns an error, and must have done nothing
// with the record, when the record does not decode; the Consumer then
// dead-letters it as it does records pdata refuses.
type RawTracesHandler interface {
	Handler
	HandleRawTraces(src Source) error
}

// RawMetricsHandler is RawTracesHandler for otlp_proto metrics records
// (the pipeline's metrics decoder, MetricConverter.ConvertProto): the
// Consumer hands them over undecoded, through HandleRawMetrics, which
// returns an error, having done nothing, when the record does not decode.
type RawMetricsHandler interface {
	Handler
	HandleRawMetrics(src Source) error
}

// Consumer reads kafkaexporter topics as a member of a consumer group.
type Consumer struct {
	cfg     consumerConfig
	log     *slog.Logger
	topics  map[string]*topicState
	names   []string
	metrics *consumerMetrics
	running atomic.Bool
}

// NewConsumer checks the options and creates the Consumer's metrics,
// registering them on the WithRegisterer registerer. It does not connect:
// Run does. It fails when no broker or topic is given, a topic is named
// twice, an encoding is unknown, the poll interval is not positive, or
// registration fails.
func NewConsumer(opts ...Opt) (*Consumer, error) {
	cfg := defaultConsumerConfig()
	for _, o := range opts {
		o.fn(&cfg)
	}
	switch {
	case len(cfg.brokers) == 0:
		return nil, errors.New("ingest: no Kafka brokers given")
	case cfg.group == "":
		return nil, errors.New("ingest: empty consumer group")
	case cfg.metricsTopic == "" && cfg.spansTopic == "":
		return nil, errors.New("ingest: neither a metrics nor a spans topic given")
	case cfg.metricsTopic == cfg.spansTopic:
		return nil, fmt.Errorf("ingest: topic %q given for both metrics and spans", cfg.metricsTopic)
	case cfg.deadLetterTopic != "" && (cfg.deadLetterTopic == cfg.metricsTopic || cfg.deadLetterTopic == cfg.spansTopic):
		return nil, fmt.Errorf("ingest: dead-letter topic %q is also an input topic", cfg.deadLetterTopic)
	case cfg.pollInterval <= 0:
		return nil, fmt.Errorf("ingest: poll interval %v is not positive", cfg.pollInterval)
	}
	for _, e := range []Encoding{cfg.metricsEnc, cfg.tracesEnc} {
		if _, err := ParseEncoding(string(e)); err != nil {
			return nil, err
		}
	}
	m, err := newConsumerMetrics(cfg.reg)
	if err != nil {
		return nil, err
	}
	c := &Consumer{cfg: cfg, log: cfg.logger, topics: map[string]*topicState{}, metrics: m}
	if cfg.metricsTopic != "" {
		c.addTopic(cfg.metricsTopic, false, cfg.metricsEnc)
	}
	if cfg.spansTopic != "" {
		c.addTopic(cfg.spansTopic, true, cfg.tracesEnc)
	}
	return c, nil
}

func (c *Consumer) addTopic(name string, traces bool, enc Encoding) {
	c.topics[name] = c.metrics.topic(name, traces, enc)
	c.names = append(c.names, name)
}

// Run joins the group and consumes until ctx is canceled or the Handler's
// PollDone fails. Every poll's records are decoded and handed to h; a record
// that does not decode, or is empty, is produced to the dead-letter topic with
// headers weir-error, weir-topic, weir-partition and weir-offset, and its
// partition keeps flowing. After PollDone succeeds, the polled offsets are
// committed (at least once: a crash before the commit replays the poll).
// Rebalances wait until the current poll is done.
//
// When ctx is canceled Run stops polling, calls PollDone once more, commits,
// leaves the group (h.PartitionsLost sees every partition), closes the
// client and returns nil; all of that within StopTimeout. It returns the
// error of a failed PollDone (nothing more is committed; PartitionsLost still
// runs) or of creating the client. Run may not be called concurrently.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return errors.New("ingest: Run: nil Handler")
	}
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("ingest: Run: already running")
	}
	defer c.running.Store(false)
	r := &runner{c: c, h: h}
	cl, err := c.newClient(r)
	if err != nil {
		return err
	}
	r.cl = cl
	err = r.loop(ctx)
	return r.stop(ctx, err)
}
