// Package kafkaotlp writes weir's rolled-up series, with their exemplars, to
// a Kafka topic as OTLP metrics in the OpenTelemetry Collector's otlp_proto
// encoding: each record's value is a serialized MetricsData (wire-identical
// to an ExportMetricsServiceRequest), as the collector's kafkaexporter writes
// it. A collector's kafkareceiver (encoding otlp_proto), or another weir,
// reads the topic with no adapter.
//
// # Mapping
//
// A remote-write series (Prometheus labels, float samples, exemplars)
// becomes OTLP as follows:
//
//	__name__                 the metric name, unchanged
//	every other label        a string attribute of the data point, unchanged
//	                         (a quantile series keeps quantile="0.99")
//	each sample              a Gauge data point: double value, time_unix_nano
//	                         = the sample's timestamp; no start time
//	stale marker (StaleNaN)  a data point flagged no_recorded_value
//	exemplar                 an exemplar of the series' last data point:
//	                         trace_id and span_id labels (hex) become its
//	                         trace and span IDs, other labels its filtered
//	                         attributes; value and time as written
//
// Every series of one record sits under one resource (no attributes unless
// WithResourceAttributes) and one scope (ScopeName); series sharing a name
// share one Metric. Each output is a Gauge, whatever its aggregation: weir
// writes the value of one closed window (N_count is the count in that window,
// N{quantile="0.99"} its 99th percentile), which is what remote write stores
// and what a Gauge means. Reading them as delta Sums would need each window's
// start, which the series does not carry, and Prometheus-bound exporters drop
// delta Sums. So the labels, values and timestamps a consumer reads back are
// exactly those written to remote write, and weir's own ingest turns them
// back into the same series.
//
// Series without __name__, with native histogram samples, without samples,
// or encoding alone beyond WithMaxRecordBytes have no OTLP form here: they are
// dropped, logged and counted (weir_kafka_sink_dropped_series_total), never
// returned as errors, since replaying the same windows would fail again.
//
// # Delivery
//
// Records carry no key, so franz-go spreads them over the topic's
// partitions. Delivery is at least once: stage 2 of weir's cluster commits
// its input only after Flush returns nil, and after a crash it writes the
// same windows again, with the same values and timestamps, which consumers
// that keep one sample per series and timestamp (as Prometheus does) absorb.
package kafkaotlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/prometheus/prompb"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sinks/sendqueue"
)

// Sink produces series to one Kafka topic as OTLP metrics. It is safe for
// concurrent use. Enqueue encodes and hands records to the franz-go producer,
// blocking while its buffer is full; Flush waits until the brokers
// acknowledged them; Close flushes and closes the client.
type Sink struct {
	cl    *kgo.Client
	topic string
	cfg   config
	m     *metrics
	log   *slog.Logger

	closed   atomic.Bool
	failures sendqueue.Tally // records failed since the last Flush
}

// New creates a sink producing to topic on the cluster reached through
// brokers. It does not contact the brokers: an unreachable cluster or a
// missing topic shows up as failed records, reported by Flush. The topic is
// not created. New fails on an empty broker list or topic, bad options, or
// metrics that cannot be registered.
func New(brokers []string, topic string, opts ...Opt) (*Sink, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("kafkaotlp: topic %q: no brokers", topic)
	}
	if topic == "" {
		return nil, errors.New("kafkaotlp: empty topic")
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("kafkaotlp: topic %q: %w", topic, err)
	}
	m := newMetrics(topic, cfg.name)
	if err := sendqueue.Register(cfg.registerer, m.collectors()...); err != nil {
		return nil, fmt.Errorf("kafkaotlp: metrics for topic %q name %q: %w", topic, cfg.name, err)
	}
	kopts := append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		// Room for one record of maxBytes plus its batch and record headers.
		kgo.ProducerBatchMaxBytes(int32(max(1_000_012, cfg.maxBytes+4096))),
	}, cfg.clientOpts...)
	cl, err := cfg.newClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafkaotlp: topic %q: client: %w", topic, err)
	}
	return &Sink{cl: cl, topic: topic, cfg: cfg, m: m, log: cfg.logger}, nil
}

// Enqueue encodes series into records (see WithMaxPointsPerRecord and
// WithMaxRecordBytes) and hands them to the producer, blocking while its
// buffer is full. Series with no OTLP form are dropped and counted (see the
// package documentation). The series are not referenced after Enqueue
// returns.
//
// Enqueue returns an error only when ctx ends (wrapping ctx's error, saying
// how many of the batch's records were handed over; those are still
// delivered) or the sink is closed (sendqueue.ErrClosed). Delivery failures are
// reported by Flush.
func (s *Sink) Enqueue(ctx context.Context, series []prompb.TimeSeries) error {
	if s.closed.Load() {
		return fmt.Errorf("kafkaotlp: enqueue to topic %s: %w", s.topic, sendqueue.ErrClosed)
	}
	recs := s.encode(series)
	for i, r := range recs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("kafkaotlp: enqueue to topic %s: %d of %d records produced: %w", s.topic, i, len(recs), err)
		}
		points, exemplars, size := r.points, r.exemplars, len(r.value)
		s.cl.Produce(ctx, &kgo.Record{Topic: s.topic, Value: r.value}, func(_ *kgo.Record, err error) {
			s.acked(points, exemplars, size, err)
		})
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafkaotlp: enqueue to topic %s: %w", s.topic, err)
	}
	return nil
}

func (s *Sink) acked(points, exemplars, size int, err error) {
	if err == nil {
		s.m.records.WithLabelValues("ok").Inc()
		s.m.points.Add(float64(points))
		s.m.exemplars.Add(float64(exemplars))
		s.m.bytes.Add(float64(size))
		return
	}
	s.m.records.WithLabelValues("error").Inc()
	s.log.Warn("kafka sink record failed", "topic", s.topic, "points", points, "err", err)
	s.failures.Add(err)
}

// Flush returns once every record produced before the call has been
// acknowledged by the brokers or has failed for good (franz-go retries
// retryable errors itself). It returns an error wrapping ctx's error when ctx
// ends first, an error describing the records that failed since the previous
// Flush (see sendqueue.Tally), or nil. A failed record is not permanent in
// sendqueue's sense: nothing was dropped that a replay of the same windows
// would not write again, so a caller must not move on past it.
func (s *Sink) Flush(ctx context.Context) error {
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafkaotlp: flush to topic %s: %w", s.topic, err)
	}
	if err := s.failures.Take(); err != nil {
		return fmt.Errorf("kafkaotlp: flush to topic %s: records failed: %w", s.topic, err)
	}
	return nil
}

// Close refuses further Enqueue calls, flushes, and closes the client. When
// ctx ends before the flush completes, records still buffered are dropped
// (failed with kgo.ErrClientClosed) and the error wraps ctx's error. Close
// returns an error wrapping sendqueue.ErrClosed when called again.
func (s *Sink) Close(ctx context.Context) error {
	if s.closed.Swap(true) {
		return fmt.Errorf("kafkaotlp: close topic %s: %w", s.topic, sendqueue.ErrClosed)
	}
	err := s.Flush(ctx)
	s.cl.Close()
	return err
}

// record is one encoded record value and what it holds.
type record struct {
	value             []byte
	points, exemplars int
}

// encode turns series into record values: chunks of at most maxPoints data
// points, halved until each encodes within maxBytes.
func (s *Sink) encode(series []prompb.TimeSeries) []record {
	kept := make([]prompb.TimeSeries, 0, len(series))
	for i := range series {
		if err := check(&series[i]); err != nil {
			s.drop(err)
			continue
		}
		kept = append(kept, series[i])
	}
	var out []record
	lo, points := 0, 0
	for i := range kept {
		n := len(kept[i].Samples)
		if points > 0 && points+n > s.cfg.maxPoints {
			out = s.encodeChunk(kept[lo:i], out)
			lo, points = i, 0
		}
		points += n
	}
	if lo < len(kept) {
		out = s.encodeChunk(kept[lo:], out)
	}
	return out
}

func (s *Sink) encodeChunk(series []prompb.TimeSeries, out []record) []record {
	b := newBatch().setResource(s.cfg.resource)
	for i := range series {
		b.addSeries(&series[i]) // checked by encode
	}
	var m pmetric.ProtoMarshaler
	if size := m.MetricsSize(b.md); size > s.cfg.maxBytes {
		if len(series) == 1 {
			s.drop(dropped(&series[0], reasonTooLarge,
				fmt.Sprintf("encodes to %d bytes, more than the record limit of %d", size, s.cfg.maxBytes)))
			return out
		}
		half := len(series) / 2
		out = s.encodeChunk(series[:half], out)
		return s.encodeChunk(series[half:], out)
	}
	value, err := m.MarshalMetrics(b.md)
	if err != nil {
		// Marshaling pdata built above cannot fail; if it does, say so
		// loudly rather than lose the series silently.
		for i := range series {
			s.drop(dropped(&series[i], reasonTooLarge, "OTLP marshaling failed: "+err.Error()))
		}
		return out
	}
	ex := 0
	for i := range series {
		ex += len(series[i].Exemplars)
	}
	return append(out, record{value: value, points: b.points, exemplars: ex})
}

func (s *Sink) drop(e *DroppedError) {
	s.m.dropped.WithLabelValues(e.Reason).Inc()
	s.log.Error("kafka sink dropped a series", "topic", s.topic, "series", e.Labels, "reason", e.Reason, "err", e.Msg)
}
