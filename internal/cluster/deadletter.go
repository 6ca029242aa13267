package cluster

import (
	"strconv"

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
