package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// SeriesSink receives the samples of closed windows. Enqueue may block
// (backpressure); it returns an error only when ctx ends or the sink is
// closed.
type SeriesSink interface {
	Enqueue(ctx context.Context, series []prompb.TimeSeries) error
}

// TraceSink receives kept traces.
type TraceSink interface {
	Enqueue(ctx context.Context, td ptrace.Traces) error
}

// Config holds what the pipeline needs besides its sinks.
type Config struct {
	Rules      *rules.Set
	Aggregator []aggregator.Opt
	Buffer     []tailsampling.BufferOpt
	// Convert options for metric and span conversion.
	MetricConvert []ingest.ConvertOpt
	SpanConvert   []ingest.ConvertOpt
	// TracesEncoding is the encoding of the spans topic.
	TracesEncoding ingest.Encoding
	// MetricsTopic names the metrics topic, to tell its partitions apart.
	MetricsTopic string
	// Series routes outputs by storage policy ("10s:2d"); the sink under ""
	// takes every policy that has none of its own.
	Series map[string]SeriesSink
	Traces TraceSink
	Logger *slog.Logger
	Reg    prometheus.Registerer
	// MaxCachedSeries bounds the per-input-series match cache (default 1M).
	MaxCachedSeries int
	// Unmatched says what happens to series no rule matches.
	Unmatched Unmatched
	// LimitShare is the share of the rules' per-tenant limits this pipeline
	// enforces, in (0, 1] (0 means 1): a process running n pipelines over
	// one input, each with its own partitions, gives each 1/n. New fails
	// for other values.
	LimitShare float64
}

// Pipeline implements ingest.Handler. Its Handle methods and PollDone are
// called from the consumer's goroutine; SetRules may be called from any.
type Pipeline struct {
	cfg     Config
	log     *slog.Logger
	rules   atomic.Pointer[rules.Set]
	applied *rules.Set
	agg     *aggregator.Aggregator
	buffer  *tailsampling.Buffer

	metricConv map[int32]*ingest.MetricConverter
	spanConv   *ingest.SpanConverter
	spanTraces []spanTrace // Scratch of handleProtoTraces.
	cache      map[uint64][]*match
	cached     int
	// cacheGen counts the times a match cache was emptied or replaced: a
	// match left in a sample.Series under an older generation is stale.
	cacheGen uint64
	targets  map[uint64]*aggregator.Target
	reload   reloadState
	limits   tenantLimits

	now     time.Time  // wall time of the record being handled
	keptMu  sync.Mutex // OnKeep may run on the decisions reader's goroutine
	kept    []tailsampling.Kept
	pending map[string][]prompb.TimeSeries
	// decide records the keep decision of a closed window's exemplar: the
	// local span buffer in one process, a weir.decisions record in a cluster.
	decide func(ex sample.Exemplar, now time.Time)
	// spansBuffered is, per spans partition, the offset after the last record
	// handed to the span buffer; set by RunCluster (nil otherwise), used
	// under stage 1's mutex. A revoked partition's entry goes with the
	// traces the buffer releases. See bufferOnce.
	spansBuffered map[int32]int64
	m             *metrics
}

// New builds a pipeline. It fails when the aggregator options are invalid or
// no series sink is configured.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rules == nil {
		cfg.Rules = rules.Default()
	}
	if len(cfg.Series) == 0 {
		return nil, errors.New("pipeline: no series sink configured")
	}
	if cfg.MaxCachedSeries <= 0 {
		cfg.MaxCachedSeries = 1 << 20
	}
	if cfg.MetricsTopic == "" {
		cfg.MetricsTopic = "otlp_metrics"
	}
	if cfg.TracesEncoding == "" {
		cfg.TracesEncoding = ingest.EncodingProto
	}
	if cfg.LimitShare == 0 {
		cfg.LimitShare = 1
	}
	if !(cfg.LimitShare > 0 && cfg.LimitShare <= 1) {
		return nil, fmt.Errorf("pipeline: limit share %v is not in (0, 1]", cfg.LimitShare)
	}
	aggOpts := append([]aggregator.Opt{aggregator.WithRegisterer(cfg.Reg), aggregator.WithLogger(cfg.Logger)}, cfg.Aggregator...)
	agg, err := aggregator.New(aggOpts...)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p := &Pipeline{
		cfg:        cfg,
		log:        cfg.Logger,
		agg:        agg,
		metricConv: make(map[int32]*ingest.MetricConverter),
		spanConv:   ingest.NewSpanConverter(cfg.SpanConvert...),
		cache:      make(map[uint64][]*match),
		targets:    make(map[uint64]*aggregator.Target),
		pending:    make(map[string][]prompb.TimeSeries),
		limits:     tenantLimits{share: cfg.LimitShare},
		m:          newMetrics(cfg.Reg),
	}
	bufOpts := append([]tailsampling.BufferOpt{
		tailsampling.OnKeep(func(k tailsampling.Kept) {
			p.keptMu.Lock()
			p.kept = append(p.kept, k)
			p.keptMu.Unlock()
		}),
		tailsampling.WithRegisterer(cfg.Reg),
		tailsampling.WithLogger(cfg.Logger),
	}, cfg.Buffer...)
	p.buffer = tailsampling.NewBuffer(bufOpts...)
	p.decide = func(ex sample.Exemplar, now time.Time) { p.buffer.Keep(ex.TraceID, tailsampling.KeepExemplar, now) }
	p.rules.Store(cfg.Rules)
	p.applied = cfg.Rules
	return p, nil
}

// SetRules puts s in force from the next record on. Windows of rules that
// did not change keep their state. A changed or new rule starts at the next
// window boundary of each of its resolutions after the newest event time
// seen: points before it, late ones included, are still matched against the
// previous set, so that no window mixes two versions of a rule. A set given
// while such a switch is under way waits until it is over. Swaps are counted
// in weir_pipeline_rule_swaps_total.
func (p *Pipeline) SetRules(s *rules.Set) { p.rules.Store(s) }

// Aggregator exposes the aggregator, for tests and metrics.
func (p *Pipeline) Aggregator() *aggregator.Aggregator { return p.agg }

// aggPartition gives each (topic, partition) its own stage-1 state: metric and
// span partitions with the same number are different inputs.
func aggPartition(topic string, metrics bool, partition int32) int32 {
	if metrics {
		return 1<<20 | partition
	}
	return partition
}

// HandleMetrics converts a metrics record and folds its points.
func (p *Pipeline) HandleMetrics(src ingest.Source, md pmetric.Metrics) {
	conv, add := p.metricsInput(src)
	conv.Convert(md, src.Tenant, add)
}

// HandleRawMetrics is HandleMetrics for an otlp_proto record not yet
// decoded: MetricConverter.ConvertProto reads a record of gauges and sums in
// place; pdata decodes the others, and any the fast decoder refuses (pdata
// is the reference). When pdata refuses the record too, its error is
// returned and nothing was aggregated.
func (p *Pipeline) HandleRawMetrics(src ingest.Source) error {
	conv, add := p.metricsInput(src)
	err := conv.ConvertProto(src.Value, src.Tenant, add)
	if err == nil {
		p.m.fastRecords.Inc()
		return nil
	}
	// ConvertProto refuses before it emits: this is the record's first use.
	md, derr := ingest.DecodeMetrics(ingest.EncodingProto, src.Value)
	if derr != nil {
		return derr
	}
	if !errors.Is(err, ingest.ErrNeedsPdata) {
		p.decodersDisagree(src, err)
	}
	conv.Convert(md, src.Tenant, add)
	p.m.pdataRecords.Inc()
	return nil
}

// metricsInput readies the pipeline for a metrics record: the converter of
// its partition, positioned at its offset, and the function its points go to.
func (p *Pipeline) metricsInput(src ingest.Source) (*ingest.MetricConverter, func(*sample.Point)) {
	p.refreshRules()
	p.now = time.Now()
	conv := p.metricConv[src.Partition]
	if conv == nil {
		conv = ingest.NewMetricConverter(p.cfg.MetricConvert...)
		p.metricConv[src.Partition] = conv
	}
	part := p.agg.Partition(aggPartition(src.Topic, true, src.Partition), p.now)
	conv.SetOffset(src.Offset)
	return conv, func(pt *sample.Point) { p.addPoint(part, pt) }
}

// HandleTraces derives the span series of a record and buffers its spans for
// tail sampling. An otlp_proto record is read again by the fast decoder
// (handleProtoTraces), td serving only to split a record of several traces.
func (p *Pipeline) HandleTraces(src ingest.Source, td ptrace.Traces) {
	if p.cfg.TracesEncoding == ingest.EncodingProto {
		err := p.handleProtoTraces(src, func() (ptrace.Traces, error) { return td, nil })
		if err == nil {
			return
		}
		p.decodersDisagree(src, err)
	}
	p.handlePdataTraces(src, td)
}

// decodersDisagree logs a record pdata decoded and a fast decoder refused
// with err: pdata is the reference, and the fast decoders do nothing before
// their error, so the record goes through pdata's path.
func (p *Pipeline) decodersDisagree(src ingest.Source, err error) {
	p.log.Warn("fast decoder refused a record pdata decodes; using pdata", "topic", src.Topic, "partition", src.Partition, "offset", src.Offset, "err", err)
}

// handlePdataTraces is HandleTraces from pdata's decoding of the record.
func (p *Pipeline) handlePdataTraces(src ingest.Source, td ptrace.Traces) {
	p.refreshRules()
	p.now = time.Now()
	part := p.agg.Partition(aggPartition(src.Topic, false, src.Partition), p.now)
	var maxDur = map[sample.TraceID]time.Duration{}
	p.spanConv.Convert(td, src.Partition, src.Tenant, func(pt *sample.Point) {
		d := time.Duration(pt.V * float64(time.Second))
		if d > maxDur[pt.Exemplar.TraceID] {
			maxDur[pt.Exemplar.TraceID] = d
		}
		p.addPoint(part, pt)
	})
	if !p.bufferOnce(src) {
		return
	}
	err := ingest.ForEachTrace(p.cfg.TracesEncoding, src.Value, td, func(id sample.TraceID, raw []byte, spans int, hasError bool) {
		p.buffer.Add(id, src.Partition, src.Offset, string(p.cfg.TracesEncoding), raw, spans, hasError, maxDur[id], p.now)
	})
	if err != nil {
		p.log.Warn("cannot split record into traces", "topic", src.Topic, "partition", src.Partition, "offset", src.Offset, "err", err)
	}
}

// HandleRawTraces is HandleTraces for an otlp_proto record not yet decoded
// (ingest.RawTracesHandler): the fast decoder reads it, and pdata decodes it
// only to split a record of several traces, or when the fast decoder
// refuses it. When pdata refuses it too, the fast decoder's error (it names
// the byte) is returned, and nothing was aggregated or buffered.
func (p *Pipeline) HandleRawTraces(src ingest.Source) error {
	decode := func() (ptrace.Traces, error) { return ingest.DecodeTraces(ingest.EncodingProto, src.Value) }
	err := p.handleProtoTraces(src, decode)
	if err == nil {
		return nil
	}
	// handleProtoTraces refuses before it decodes: this is the first decode.
	td, derr := decode()
	if derr != nil {
		return err
	}
	p.decodersDisagree(src, err)
	p.handlePdataTraces(src, td)
	return nil
}

// bufferOnce reports whether the span buffer is to take the record's spans,
// and notes that it took them.
func (p *Pipeline) bufferOnce(src ingest.Source) bool {
	if p.spansBuffered != nil {
		// Stage 1 replays records from the committed offsets after an
		// aborted transaction, but the span buffer is not rolled back with
		// the windows: a record it took already would be buffered twice, or
		// its kept trace exported twice.
		if next, ok := p.spansBuffered[src.Partition]; ok && src.Offset < next {
			return false
		}
		p.spansBuffered[src.Partition] = src.Offset + 1
	}
	return true
}

// addPoint matches a point against the rules (once per input series) and
// folds it into every target.
func (p *Pipeline) addPoint(part *aggregator.Partition, pt *sample.Point) {
	m := p.lookup(pt)
	if m.drop != "" {
		p.m.dropped.WithLabelValues(m.drop).Inc()
		return
	}
	if m.unmatched {
		p.m.unmatched.Inc()
	}
	if len(m.targets) > 0 && !p.limits.admit(m.tenant, m.priority, p.now) {
		p.m.shed.WithLabelValues(m.tenant, strconv.Itoa(m.priority)).Inc()
		return
	}
	for _, t := range m.targets {
		if part.Add(pt, t, p.now) == "" {
			p.reload.taken(pt.T)
		}
	}
}

func labelsEqual(m *match, pt *sample.Point) bool { return labels.Equal(m.lset, pt.Labels) }
