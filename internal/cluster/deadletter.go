package cluster

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead-letter headers.
const (
	HeaderError     = "weir-error"
	HeaderTopic     = "weir-topic"
	HeaderPartition = "weir-partition"
	HeaderOffset    = "weir-offset"
	// HeaderSize is set on a dead letter whose value was cut to fit the
	// dead-letter topic: the size of the original value.
	HeaderSize = "weir-original-size"
)

// recordOverhead is what a record batch of one record takes beside the
// record's key, value and headers, with room to spare: the batch header
// (61 bytes) and the record's varints.
const recordOverhead = 512

// defaultBatchBytes is kgo's default ProducerBatchMaxBytes.
const defaultBatchBytes = 1_000_012

// deadLetter returns the dead letter of r, which failed with err: r's key,
// value and headers, and headers naming the error and where r was read. A
// value that would not fit the dead-letter topic's max.message.bytes is cut
// to fit, and HeaderSize gives its original size.
func deadLetter(topic string, maxBytes int32, r *kgo.Record, err error) *kgo.Record {
	headers := make([]kgo.RecordHeader, 0, len(r.Headers)+5)
	headers = append(headers, r.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderError, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: HeaderTopic, Value: []byte(r.Topic)},
		kgo.RecordHeader{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
		kgo.RecordHeader{Key: HeaderOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
	)
	size := len(r.Key) + recordOverhead
	for _, h := range headers {
		size += len(h.Key) + len(h.Value) + 10
	}
	value := r.Value
	if room := int(maxBytes) - size - 32; len(value) > room {
		headers = append(headers, kgo.RecordHeader{Key: HeaderSize, Value: strconv.AppendInt(nil, int64(len(value)), 10)})
		value = value[:max(room, 0)]
	}
	return &kgo.Record{Topic: topic, Partition: 0, Key: r.Key, Value: value, Headers: headers}
}

// batchBytes sizes a producer's batches: the dead-letter topic's take its
// max.message.bytes, so that a record up to it is stored whole.
func batchBytes(dlq string, dlqMax int32) kgo.Opt {
	return kgo.ProducerBatchMaxBytesFn(func(topic string) int32 {
		if topic == dlq {
			return dlqMax
		}
		return defaultBatchBytes
	})
}

// deadLetters produces the dead letters of stage 2 (stage 1's are part of
// its transaction). A failed dead letter fails the next flush, so that the
// commit that would skip its record does not happen.
type deadLetters struct {
	cfg  Config
	topo topology
	cl   *kgo.Client
	m    *metrics

	mu     sync.Mutex
	failed error
}

func newDeadLetters(cfg Config, topo topology, m *metrics) (*deadLetters, error) {
	cl, err := cfg.Client.New(kgo.RecordPartitioner(kgo.ManualPartitioner()), batchBytes(cfg.DeadLetterTopic, topo.dlqMaxBytes))
	if err != nil {
		return nil, err
	}
	return &deadLetters{cfg: cfg, topo: topo, cl: cl, m: m}, nil
}

func (d *deadLetters) produce(r *kgo.Record, err error) {
	d.m.deadLetters.WithLabelValues(r.Topic).Inc()
	d.cfg.Logger.Warn("record does not decode; sent to the dead-letter topic", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
	from := r.Topic
	d.cl.Produce(context.Background(), deadLetter(d.cfg.DeadLetterTopic, d.topo.dlqMaxBytes, r, err), func(dr *kgo.Record, perr error) {
		if perr == nil {
			return
		}
		d.m.deadLetterFailures.WithLabelValues(from).Inc()
		d.cfg.Logger.Error("dead letter not stored; its record will be read again", "topic", from, "offset", r.Offset, "dead_letter_topic", d.cfg.DeadLetterTopic, "err", perr)
		d.mu.Lock()
		if d.failed == nil {
			d.failed = fmt.Errorf("cluster: dead letter of %s/%d@%d: %w", from, r.Partition, r.Offset, perr)
		}
		d.mu.Unlock()
	})
}

// flush waits for the dead letters produced so far and returns the first
// failure since the last flush.
func (d *deadLetters) flush(ctx context.Context) error {
	if err := d.cl.Flush(ctx); err != nil {
		return fmt.Errorf("cluster: flush dead letters: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.failed
	d.failed = nil
	return err
}

func (d *deadLetters) close() { d.cl.Close() }
