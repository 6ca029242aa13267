package pipeline

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/cardinality"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// Stage1 folds input records into the windows of their partitions. It is
// not safe for concurrent use: one goroutine drives it.
type Stage1 struct {
	cfg        Config
	log        *slog.Logger
	plan       *plan.Plan
	agg        *aggregator.Aggregator
	metricConv map[int32]*ingest.MetricConverter
	spanConv   *ingest.SpanConverter
	traces     []spanTrace // Scratch: the traces of a spans record.
	now        time.Time   // Wall time of the record being handled.
	part       *aggregator.Partition
	in         plan.Input // Where the record being handled comes from.
	add        func(*sample.Point)
	scratch    []byte
	prof       *cardinality.Profiler // nil: off
	m          *stage1Metrics
	skew       map[int32]skewPeak // Per partition: its largest skew held.
}

type spanTrace struct {
	id     sample.TraceID
	hasErr bool
	maxDur time.Duration
}

func newStage1(cfg Config, pl *plan.Plan, agg *aggregator.Aggregator) *Stage1 {
	s := &Stage1{
		cfg:        cfg,
		log:        cfg.Logger,
		plan:       pl,
		agg:        agg,
		metricConv: map[int32]*ingest.MetricConverter{},
		spanConv:   ingest.NewSpanConverter(cfg.SpanConvert...),
		m:          newStage1Metrics(cfg.Reg),
		skew:       map[int32]skewPeak{},
	}
	if cfg.Profile != nil {
		pc := *cfg.Profile
		if pc.Reg == nil {
			pc.Reg = cfg.Reg
		}
		s.prof = cardinality.New(pc)
	}
	s.add = s.addPoint
	return s
}

// Handle folds one input record into its partition's windows. For a spans
// record, keep gets the decisions the record settles at once: its traces
// with an error span or a span over the latency threshold.
//
// An error means the record does not decode and did nothing: the caller
// sends it to the dead-letter topic. The fast decoders' refusals of records
// pdata decodes are logged and the record goes through pdata, the
// reference.
func (s *Stage1) Handle(r Record, keep func(tailsampling.Decision)) error {
	s.plan.Refresh()
	s.now = time.Now()
	s.part = s.agg.Partition(Source(r.Spans, r.Partition), s.now)
	s.part.SetRecord(r.Offset, r.Time)
	s.in = plan.Input{Spans: r.Spans, Partition: r.Partition, Offset: r.Offset, Watermark: s.part.Watermark()}
	if r.Spans {
		return s.spans(r, keep)
	}
	return s.metrics(r)
}

func (s *Stage1) addPoint(pt *sample.Point) {
	ts := s.plan.Route(pt, s.in)
	for _, t := range ts {
		if s.part.Add(pt, t, s.now) == "" {
			s.plan.Taken(pt.T)
		}
	}
	if s.prof != nil {
		s.prof.Observe(pt, ts, s.now)
	}
}

// Profiled reports whether the worker profiles its input.
func (s *Stage1) Profiled() bool { return s.prof != nil }

// Profile hands the profiles of the worker's input as of now to emit, as
// values of the profile topic (see cardinality.Profiler.Records); it does
// nothing when the profiler is off.
func (s *Stage1) Profile(now time.Time, emit func(tenant, metric string, value []byte)) {
	if s.prof != nil {
		s.prof.Records(now, emit)
	}
}

// metrics converts a metrics record. otlp_proto goes to the fast decoder
// (MetricConverter.ConvertProto), which refuses before it emits anything.
func (s *Stage1) metrics(r Record) error {
	conv := s.metricConv[r.Partition]
	if conv == nil {
		conv = ingest.NewMetricConverter(s.cfg.MetricConvert...)
		s.metricConv[r.Partition] = conv
	}
	conv.SetOffset(r.Offset)
	defer s.m.converted(conv)
	if s.cfg.MetricsEncoding == ingest.EncodingProto {
		err := conv.ConvertProto(r.Value, r.Tenant, s.add)
		if err == nil {
			s.m.fastRecords.Inc()
			return nil
		}
		md, derr := ingest.DecodeMetrics(ingest.EncodingProto, r.Value)
		if derr != nil {
			return derr
		}
		if !errors.Is(err, ingest.ErrNeedsPdata) {
			s.disagree(r, err)
		}
		conv.Convert(md, r.Tenant, s.add)
		s.m.pdataRecords.Inc()
		return nil
	}
	md, err := ingest.DecodeMetrics(s.cfg.MetricsEncoding, r.Value)
	if err != nil {
		return err
	}
	conv.Convert(md, r.Tenant, s.add)
	return nil
}

// spans derives the span series of a spans record and its keep facts.
func (s *Stage1) spans(r Record, keep func(tailsampling.Decision)) error {
	s.traces = s.traces[:0]
	onTrace := func(id sample.TraceID, _ int, hasError bool, maxDur time.Duration) {
		s.traces = append(s.traces, spanTrace{id: id, hasErr: hasError, maxDur: maxDur})
	}
	if s.cfg.TracesEncoding == ingest.EncodingProto {
		err := s.spanConv.ConvertProto(r.Value, r.Partition, r.Tenant, s.add, onTrace)
		if err == nil {
			s.keepFacts(keep)
			return nil
		}
		// ConvertProto refuses before it emits: pdata is the reference.
		td, derr := ingest.DecodeTraces(ingest.EncodingProto, r.Value)
		if derr != nil {
			return err
		}
		s.disagree(r, err)
		s.traces = s.traces[:0]
		s.spanConv.Convert(td, r.Partition, r.Tenant, s.add)
		s.traces = traceFacts(s.traces, td)
		s.keepFacts(keep)
		return nil
	}
	td, err := ingest.DecodeTraces(s.cfg.TracesEncoding, r.Value)
	if err != nil {
		return err
	}
	s.spanConv.Convert(td, r.Partition, r.Tenant, s.add)
	s.traces = traceFacts(s.traces, td)
	s.keepFacts(keep)
	return nil
}

// keepFacts reports the traces of the record just converted that are kept
// whatever the windows say.
func (s *Stage1) keepFacts(keep func(tailsampling.Decision)) {
	lt := s.cfg.LatencyThreshold
	for _, t := range s.traces {
		switch {
		case t.id.IsZero():
		case t.hasErr:
			keep(tailsampling.Decision{TraceID: t.id, Reason: tailsampling.KeepError})
		case lt > 0 && t.maxDur >= lt:
			keep(tailsampling.Decision{TraceID: t.id, Reason: tailsampling.KeepLatency})
		}
	}
}

func (s *Stage1) disagree(r Record, err error) {
	s.log.Warn("fast decoder refused a record pdata decodes; using pdata", "spans", r.Spans, "partition", r.Partition, "offset", r.Offset, "err", err)
}

// Advance ends a poll: it moves every partition's watermark and hands the
// windows it passed to partial, as weir.partials records with the key that
// chooses their partition, then every partition's watermark to watermark.
// Both own the bytes they get.
func (s *Stage1) Advance(now time.Time, partial func(key uint64, value []byte), watermark func(source int32, value []byte)) {
	s.agg.Advance(now, func(pt aggregator.Partial) {
		s.scratch = aggregator.EncodePartial(s.scratch[:0], pt)
		partial(pt.Target.Key, append([]byte(nil), s.scratch...))
		s.m.partials.Inc()
	}, func(source int32, wm int64) {
		watermark(source, aggregator.EncodeWatermark(nil, source, wm))
	})
	if s.prof != nil {
		s.prof.Tick(now)
	}
	for id, p := range s.agg.Partitions() {
		s.holdSkew(id, p.TakeSkew(), now)
		spans, part := sourcePartition(id)
		s.plan.AdvanceLimits(spans, part, p.Watermark())
	}
}

// skewHold is how long weir_ingest_clock_skew_seconds shows a partition's
// largest skew: longer than a scrape interval, so that one skewed point
// among correct ones is seen, not overwritten by the next poll's.
const skewHold = time.Minute

type skewPeak struct {
	v  time.Duration
	at time.Time
}

// holdSkew reports skew, the largest of a poll of partition id, unless a
// larger one was seen within skewHold.
func (s *Stage1) holdSkew(id int32, skew time.Duration, now time.Time) {
	pk, held := s.skew[id]
	expired := held && now.Sub(pk.at) >= skewHold
	switch {
	case skew > 0 && (!held || expired || skew >= pk.v):
		s.skew[id] = skewPeak{skew, now}
		s.m.skew.WithLabelValues(sourceLabel(id)).Set(skew.Seconds())
	case expired:
		delete(s.skew, id)
		s.m.skew.DeleteLabelValues(sourceLabel(id))
	}
}

// KeyPartition returns the weir.partials partition of a partial's key.
func KeyPartition(key uint64, partitions int32) int32 { return int32(key % uint64(partitions)) }

// PartialKey returns the record key of a partial: its target key,
// big-endian.
func PartialKey(key uint64) []byte { return binary.BigEndian.AppendUint64(nil, key) }

// Position returns what to commit for an input partition: the first offset
// that still feeds an open window, holds the previous point of a
// cumulative series or counted in a tenant's limit interval that points
// still to come may fall in, and the partition's watermark (its
// flushed-through time), for the commit's metadata. ok is false when the
// partition holds nothing to commit yet. Committing them makes a replay
// rebuild exactly the open windows, skip the emitted ones, derive the same
// next delta of every cumulative series, whose previous point may be in a
// window long handed on, and admit the same points under the limits.
func (s *Stage1) Position(spans bool, partition int32) (offset, flushedThrough int64, ok bool) {
	p := s.agg.Partitions()[Source(spans, partition)]
	if p == nil {
		return 0, 0, false
	}
	off := p.CommitPoint()
	if off < 0 {
		return 0, 0, false
	}
	if conv := s.metricConv[partition]; !spans && conv != nil {
		if base, held := conv.OldestBase(); held && base < off {
			off = base
		}
	}
	if held, ok := s.plan.LimitsHold(spans, partition); ok && held < off {
		off = held
	}
	return off, p.Watermark(), true
}

// Assigned starts an input partition afresh: consumption resumes at its
// committed offset, and windows ending at or before flushedThrough (its
// committed metadata, when has) were handed on by an earlier owner.
func (s *Stage1) Assigned(spans bool, partition int32, flushedThrough int64, has bool) {
	s.Revoked(spans, partition)
	p := s.agg.Partition(Source(spans, partition), time.Now())
	p.SetBehind(true)
	if has {
		p.Restore(flushedThrough)
	}
}

// Behind tells an input partition whether its consumer has records of it
// still to read (see aggregator.Partition.SetBehind). A partition is behind
// from its assignment until its consumer says otherwise.
func (s *Stage1) Behind(spans bool, partition int32, behind bool) {
	if p := s.agg.Partitions()[Source(spans, partition)]; p != nil {
		p.SetBehind(behind)
	}
}

// Revoked forgets a partition's state: its next owner replays it from the
// committed offset.
func (s *Stage1) Revoked(spans bool, partition int32) {
	id := Source(spans, partition)
	s.agg.DropPartition(id)
	delete(s.skew, id)
	s.m.skew.DeleteLabelValues(sourceLabel(id))
	s.plan.ForgetLimits(spans, partition)
	if !spans {
		delete(s.metricConv, partition)
	}
}

// Reset forgets every partition's state, for a session that starts over
// from the committed offsets (an aborted transaction).
func (s *Stage1) Reset() {
	for id := range s.agg.Partitions() {
		s.agg.DropPartition(id)
	}
	clear(s.metricConv)
	clear(s.skew)
	s.plan.ForgetAllLimits()
	s.m.skew.Reset()
}

func sourceLabel(id int32) string {
	if spans, part := sourcePartition(id); !spans {
		return "metrics/" + strconv.Itoa(int(part))
	}
	return "spans/" + strconv.Itoa(int(id))
}

// sourcePartition is the inverse of Source.
func sourcePartition(id int32) (spans bool, partition int32) {
	return id&(1<<20) == 0, id &^ (1 << 20)
}

type stage1Metrics struct {
	dataPoints   prometheus.Counter
	dropped      [ingest.NumReasons]prometheus.Counter
	partials     prometheus.Counter
	fastRecords  prometheus.Counter
	pdataRecords prometheus.Counter
	skew         *prometheus.GaugeVec
}

func newStage1Metrics(reg prometheus.Registerer) *stage1Metrics {
	decoded := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_pipeline_metrics_records_total", Help: "otlp_proto metrics records read, by decoder: fast (weir's, histograms and summaries by pdata metric by metric) or pdata (records it leaves to pdata whole).",
	}, []string{"decoder"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_ingest_dropped_points_total", Help: "OTLP data points that yield no point, by reason: nan, no_recorded_value, unspecified_temporality, malformed_histogram, cumulative_baseline (a cumulative series' first point, which the next one's increase is taken from), cumulative_replay (read before).",
	}, []string{"reason"})
	m := &stage1Metrics{
		dataPoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_ingest_data_points_total", Help: "OTLP data points read from metrics records: each yields points or is counted in weir_ingest_dropped_points_total.",
		}),
		partials: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_stage1_partials_total", Help: "Partial windows handed on to weir.partials.",
		}),
		skew: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_ingest_clock_skew_seconds", Help: "How far the event times of an input partition's points ran ahead of their records' timestamps at most, the largest over the last minute with such points (0 is not reported).",
		}, []string{"input"}),
		fastRecords:  decoded.WithLabelValues("fast"),
		pdataRecords: decoded.WithLabelValues("pdata"),
	}
	if reg != nil {
		reg.MustRegister(m.dataPoints, dropped, m.partials, m.skew, decoded)
	}
	for r := range ingest.NumReasons {
		m.dropped[r] = dropped.WithLabelValues(r.String())
	}
	return m
}

// converted adds what conv counted since its last record.
func (m *stage1Metrics) converted(conv *ingest.MetricConverter) {
	st := conv.TakeStats()
	m.dataPoints.Add(float64(st.Points))
	for r, n := range st.Dropped {
		if n > 0 {
			m.dropped[r].Add(float64(n))
		}
	}
}
