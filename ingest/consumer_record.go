package ingest

import (
	"context"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead-letter headers.
const (
	HeaderError     = "weir-error"
	HeaderTopic     = "weir-topic"
	HeaderPartition = "weir-partition"
	HeaderOffset    = "weir-offset"
)

// handle hands every record of a poll to the Handler and returns how many
// records there were. Called with mu held.
func (r *runner) handle(ctx context.Context, fs kgo.Fetches) int {
	fs.EachError(func(topic string, p int32, err error) {
		if !isPollTimeout(err) {
			r.c.log.Warn("ingest: fetch", "topic", topic, "partition", p, "err", err)
		}
	})
	n := 0
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		ts := r.c.topics[p.Topic]
		if ts == nil || len(p.Records) == 0 {
			return
		}
		for _, rec := range p.Records {
			r.record(ctx, ts, rec)
		}
		n += len(p.Records)
		next := p.Records[len(p.Records)-1].Offset + 1
		r.c.metrics.lag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(max(p.HighWatermark-next, 0)))
	})
	if n > 0 {
		r.dirty = true
	}
	return n
}

func (r *runner) record(ctx context.Context, ts *topicState, rec *kgo.Record) {
	ts.records.Inc()
	ts.bytes.Add(float64(len(rec.Value)))
	src := Source{
		Topic:     rec.Topic,
		Partition: rec.Partition,
		Offset:    rec.Offset,
		Tenant:    r.tenant(rec),
		Time:      rec.Timestamp,
		Key:       rec.Key,
		Value:     rec.Value,
	}
	if raw, ok := r.h.(RawTracesHandler); ok && ts.traces && ts.enc == EncodingProto {
		if err := raw.HandleRawTraces(src); err != nil {
			r.deadLetter(ctx, ts, rec, err)
		}
		return
	}
	if raw, ok := r.h.(RawMetricsHandler); ok && !ts.traces && ts.enc == EncodingProto {
		if err := raw.HandleRawMetrics(src); err != nil {
			r.deadLetter(ctx, ts, rec, err)
		}
		return
	}
	if ts.traces {
		td, err := DecodeTraces(ts.enc, rec.Value)
		if err != nil {
			r.deadLetter(ctx, ts, rec, err)
			return
		}
		r.h.HandleTraces(src, td)
		return
	}
	md, err := DecodeMetrics(ts.enc, rec.Value)
	if err != nil {
		r.deadLetter(ctx, ts, rec, err)
		return
	}
	r.h.HandleMetrics(src, md)
}

func (r *runner) tenant(rec *kgo.Record) string {
	if name := r.c.cfg.tenantHeader; name != "" {
		for _, h := range rec.Headers {
			if strings.EqualFold(h.Key, name) && len(h.Value) > 0 {
				return string(h.Value)
			}
		}
	}
	return r.c.cfg.tenant
}

// deadLetter counts a record that does not decode and produces it, with its
// headers and the error's, to the dead-letter topic. The produce is
// asynchronous; the next commit waits for it (bounded by StopTimeout), and a
// failure is logged and counted, never returned.
func (r *runner) deadLetter(ctx context.Context, ts *topicState, rec *kgo.Record, err error) {
	ts.decodeErrors.Inc()
	log := r.c.log.With("topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
	log.Warn("ingest: record does not decode", "err", err)
	dlq := r.c.cfg.deadLetterTopic
	if dlq == "" {
		return
	}
	headers := make([]kgo.RecordHeader, 0, len(rec.Headers)+4)
	headers = append(headers, rec.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderError, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: HeaderTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: HeaderOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
	)
	out := &kgo.Record{Topic: dlq, Key: rec.Key, Value: rec.Value, Headers: headers}
	r.pending = true
	r.cl.Produce(context.WithoutCancel(ctx), out, func(_ *kgo.Record, err error) {
		if err != nil {
			ts.deadLetterFailures.Inc()
			log.Error("ingest: produce dead letter", "dead_letter_topic", dlq, "err", err)
			return
		}
		ts.deadLetters.Inc()
	})
}
