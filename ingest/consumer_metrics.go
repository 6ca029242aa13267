package ingest

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

type consumerMetrics struct {
	records, bytes, decodeErrors    *prometheus.CounterVec
	deadLetters, deadLetterFailures *prometheus.CounterVec
	commitFailures                  prometheus.Counter
	lag                             *prometheus.GaugeVec
}

// topicState is what the poll loop needs per input topic, with the metric
// children resolved once instead of per record.
type topicState struct {
	traces bool
	enc    Encoding

	records, bytes, decodeErrors, deadLetters, deadLetterFailures prometheus.Counter
}

func newConsumerMetrics(reg prometheus.Registerer) (*consumerMetrics, error) {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"topic"})
	}
	m := &consumerMetrics{
		records:            counter("weir_ingest_records_total", "Records consumed."),
		bytes:              counter("weir_ingest_bytes_total", "Record value bytes consumed."),
		decodeErrors:       counter("weir_ingest_decode_errors_total", "Records that did not decode (or were empty)."),
		deadLetters:        counter("weir_ingest_dead_letters_total", "Records written to the dead-letter topic."),
		deadLetterFailures: counter("weir_ingest_dead_letter_failures_total", "Records that could not be written to the dead-letter topic."),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_ingest_commit_failures_total", Help: "Failed offset commits (retried with the next commit).",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_ingest_lag", Help: "Records behind the high watermark at the last fetch, per owned partition.",
		}, []string{"topic", "partition"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.records, m.bytes, m.decodeErrors, m.deadLetters, m.deadLetterFailures, m.commitFailures, m.lag} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *consumerMetrics) topic(name string, traces bool, enc Encoding) *topicState {
	return &topicState{
		traces:             traces,
		enc:                enc,
		records:            m.records.WithLabelValues(name),
		bytes:              m.bytes.WithLabelValues(name),
		decodeErrors:       m.decodeErrors.WithLabelValues(name),
		deadLetters:        m.deadLetters.WithLabelValues(name),
		deadLetterFailures: m.deadLetterFailures.WithLabelValues(name),
	}
}

// kgoLogger writes the Kafka client's logs to slog.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case k.l.Enabled(ctx, slog.LevelInfo):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case k.l.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	case kgo.LogLevelInfo:
		l = slog.LevelInfo
	}
	k.l.Log(context.Background(), l, msg, keyvals...)
}
