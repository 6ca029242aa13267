package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/cardinality"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/plan"
)

// SeriesSink receives the samples of closed windows. Enqueue may block
// (backpressure); it returns an error only when ctx ends or the sink is
// closed.
type SeriesSink interface {
	Enqueue(ctx context.Context, series []prompb.TimeSeries) error
}

// Flusher is implemented by sinks that queue: Flush returns once everything
// enqueued before it was acknowledged, or with the error that keeps it from
// being. Stage 2 commits its offsets only after its series sinks flushed,
// and the second pass over the spans only after its trace sink flushed.
type Flusher interface {
	Flush(ctx context.Context) error
}

// TraceSink receives kept traces.
type TraceSink interface {
	Enqueue(ctx context.Context, td ptrace.Traces) error
}

// Record is one Kafka record as a worker reads it.
type Record struct {
	// Spans is set for a record of the spans topic, else it is of the
	// metrics topic.
	Spans     bool
	Partition int32
	Offset    int64
	// Time is the record's timestamp: the clock of its partition (see
	// aggregator.Partition.SetRecord). Zero means wall time.
	Time time.Time
	// Tenant is the record's tenant from its headers, "" for none (the
	// converters then resolve it, see ingest.TenantAttribute).
	Tenant     string
	Key, Value []byte
}

// Source returns the aggregator source of an input partition: metric and
// span partitions with the same number are different inputs.
func Source(spans bool, partition int32) int32 {
	if spans {
		return partition
	}
	return 1<<20 | partition
}

// Sources lists the sources of the input partitions a cluster has: what
// stage 2 waits for.
func Sources(metricsPartitions, spansPartitions int32) []int32 {
	var s []int32
	for p := range spansPartitions {
		s = append(s, Source(true, p))
	}
	for p := range metricsPartitions {
		s = append(s, Source(false, p))
	}
	return s
}

// Config configures a Worker.
type Config struct {
	Plan       plan.Config
	Aggregator []aggregator.Opt
	// MetricConvert and SpanConvert are the conversion options of the
	// metrics and spans topics' records.
	MetricConvert, SpanConvert      []ingest.ConvertOpt
	MetricsEncoding, TracesEncoding ingest.Encoding // default otlp_proto
	// LatencyThreshold keeps every trace with a span at least this long
	// (0: off).
	LatencyThreshold time.Duration
	// Series routes outputs by storage policy ("10s:2d"); the sink under ""
	// takes every policy that has none of its own.
	Series map[string]SeriesSink
	// Traces receives kept traces; nil drops them (counted).
	Traces TraceSink
	// Profile, when set, profiles the input's cardinality on stage 1 (see
	// package cardinality); nil turns the profiler off.
	Profile *cardinality.Config
	Logger  *slog.Logger
	Reg     prometheus.Registerer
}

// Worker is the record handling of one worker: one member of weir's
// consumer groups with its own partitions and state.
type Worker struct {
	Plan   *plan.Plan
	Stage1 *Stage1
	Stage2 *Stage2
	Traces *Traces
}

// New builds a worker. It fails when an option is invalid (the aggregator's
// or the plan's), an encoding is unknown or no series sink is configured.
func New(cfg Config) (*Worker, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Series) == 0 {
		return nil, errors.New("pipeline: no series sink configured")
	}
	for _, e := range []*ingest.Encoding{&cfg.MetricsEncoding, &cfg.TracesEncoding} {
		if *e == "" {
			*e = ingest.EncodingProto
		}
		if _, err := ingest.ParseEncoding(string(*e)); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
	}
	if cfg.Plan.Logger == nil {
		cfg.Plan.Logger = cfg.Logger
	}
	if cfg.Plan.Reg == nil {
		cfg.Plan.Reg = cfg.Reg
	}
	pl, err := plan.New(cfg.Plan)
	if err != nil {
		return nil, err
	}
	agg, err := aggregator.New(append([]aggregator.Opt{aggregator.WithRegisterer(cfg.Reg), aggregator.WithLogger(cfg.Logger)}, cfg.Aggregator...)...)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return &Worker{
		Plan:   pl,
		Stage1: newStage1(cfg, pl, agg),
		Stage2: newStage2(cfg, agg),
		Traces: newTraces(cfg),
	}, nil
}
