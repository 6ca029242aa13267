package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/sample"
)

// Stage2 merges the partial windows of its weir.partials partitions, closes
// windows and writes their samples to the series sinks. It is not safe for
// concurrent use.
type Stage2 struct {
	cfg     Config
	agg     *aggregator.Aggregator
	mergers map[int32]*aggregator.Merger
	// totals are the running totals of the cumulative series of each
	// partition, changed what Close changed since the last TakeState.
	totals  map[int32]map[uint64]runningTotal
	changed map[int32]map[uint64]struct{}
	pending map[string][]prompb.TimeSeries
	m       *stage2Metrics
}

func newStage2(cfg Config, agg *aggregator.Aggregator) *Stage2 {
	return &Stage2{cfg: cfg, agg: agg, mergers: map[int32]*aggregator.Merger{},
		totals: map[int32]map[uint64]runningTotal{}, changed: map[int32]map[uint64]struct{}{},
		pending: map[string][]prompb.TimeSeries{}, m: newStage2Metrics(cfg.Reg)}
}

// Assigned starts merging weir.partials partition q: it waits for the
// watermarks of sources (see Sources), and when has skips the partials of
// windows ending at or before closedThrough (emitted by an earlier owner).
// Its running totals start empty: Restore fills them.
func (s *Stage2) Assigned(q int32, closedThrough int64, has bool, sources []int32, now time.Time) {
	m := s.agg.NewMerger()
	m.Expect(now, sources...)
	if has {
		m.Restore(closedThrough)
	}
	s.mergers[q] = m
	s.totals[q] = map[uint64]runningTotal{}
	delete(s.changed, q)
}

// Restore takes one record of partition q's state (see TakeState): the
// running total of a cumulative series as the last owner committed it with
// the partition's offsets. An error means the record does not decode.
func (s *Stage2) Restore(q int32, key, value []byte) error {
	k, t, err := parseTotal(key, value)
	if err != nil {
		return err
	}
	if m := s.totals[q]; m != nil {
		m[k] = t
	}
	return nil
}

// TakeState hands the running totals that changed since the last call to
// save, as records of partition q's state (a compacted topic: a key's last
// record is its state). They must be committed atomically with the offsets
// Position gives: then a replay from those offsets continues exactly from
// the totals restored.
func (s *Stage2) TakeState(save func(q int32, key, value []byte)) {
	for q, keys := range s.changed {
		m := s.totals[q]
		for k := range keys {
			if t, ok := m[k]; ok {
				key, value := appendTotal(k, t)
				save(q, key, value)
			}
		}
		delete(s.changed, q)
	}
}

// Revoked forgets partition q: its next owner replays it.
func (s *Stage2) Revoked(q int32) {
	delete(s.mergers, q)
	delete(s.totals, q)
	delete(s.changed, q)
	qs := strconv.Itoa(int(q))
	s.m.open.DeleteLabelValues(qs)
	s.m.behind.DeleteLabelValues(qs)
	s.m.oldest.DeleteLabelValues(qs)
}

// Owns reports whether partition q is merged here.
func (s *Stage2) Owns(q int32) bool { return s.mergers[q] != nil }

// Handle merges one weir.partials record of partition q read at offset. An
// error means the record does not decode and did nothing: the caller sends
// it to the dead-letter topic.
func (s *Stage2) Handle(q int32, offset int64, value []byte, now time.Time) error {
	m := s.mergers[q]
	if m == nil {
		return nil // not ours any more
	}
	rec, err := s.agg.Decode(value)
	if err != nil {
		return err
	}
	if rec.IsWatermark {
		m.Watermark(rec.Source, rec.Watermark, now)
		return nil
	}
	m.Merge(*rec.Partial, offset)
	return nil
}

// Close emits the windows that closed in every partition into the sinks'
// pending batches (Flush hands them over); decide gets the exemplar of
// every sample that carries one, for its keep decision.
func (s *Stage2) Close(now time.Time, decide func(sample.Exemplar)) {
	for q, m := range s.mergers {
		m.Close(now, func(ser aggregator.Series) {
			if ser.Cumulative {
				ser.V = s.accumulate(q, ser)
			}
			s.collect(ser, decide)
		})
		qs := strconv.Itoa(int(q))
		s.m.open.WithLabelValues(qs).Set(float64(m.Open()))
		oldest, behind := m.Waiting()
		s.m.behind.WithLabelValues(qs).Set(float64(len(behind)))
		if oldest != 0 {
			s.m.oldest.WithLabelValues(qs).Set(float64(oldest) / 1000)
		}
	}
}

// Flush hands the pending samples to the series sinks and waits until every
// sink that queues acknowledged them. An error means some are not
// acknowledged yet: nothing is lost (the sink keeps them, or the caller
// reads the partials again), but the offsets must not be committed.
func (s *Stage2) Flush(ctx context.Context) error {
	for route, series := range s.pending {
		if len(series) == 0 {
			continue
		}
		sink := s.cfg.Series[route]
		if sink == nil {
			s.m.unrouted.Add(float64(len(series)))
		} else if err := sink.Enqueue(ctx, series); err != nil {
			return fmt.Errorf("pipeline: series sink %q: %w", route, err)
		}
		s.pending[route] = nil
	}
	var errs []error
	for route, sink := range s.cfg.Series {
		if f, ok := sink.(Flusher); ok {
			if err := f.Flush(ctx); err != nil {
				errs = append(errs, fmt.Errorf("pipeline: series sink %q: %w", route, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Position returns what to commit for partition q, read up to next: the
// first offset that still feeds an open window, and the time through which
// every window was emitted, for the commit's metadata.
func (s *Stage2) Position(q int32, next int64) (offset, closedThrough int64, ok bool) {
	m := s.mergers[q]
	if m == nil || next <= 0 {
		return 0, 0, false
	}
	return m.CommitPoint(next), m.ClosedThrough(), true
}

// collect converts a closed window's sample for remote write and reports
// its exemplar for the keep decision.
func (s *Stage2) collect(ser aggregator.Series, decide func(sample.Exemplar)) {
	ts := prompb.TimeSeries{
		Labels:  toProto(ser.Labels),
		Samples: []prompb.Sample{{Value: ser.V, Timestamp: ser.T}},
	}
	if ser.Exemplar.Valid() {
		ts.Exemplars = []prompb.Exemplar{{
			Labels: []prompb.Label{
				{Name: "span_id", Value: ser.Exemplar.SpanID.String()},
				{Name: "trace_id", Value: ser.Exemplar.TraceID.String()},
			},
			Value:     ser.Exemplar.Value,
			Timestamp: ser.Exemplar.T,
		}}
		if ser.Exemplar.Partition >= 0 {
			s.m.exemplarsSpans.Inc()
		} else {
			s.m.exemplarsSDK.Inc()
		}
		if decide != nil {
			decide(ser.Exemplar)
		}
	}
	s.m.coverage.count(&ser)
	route := ser.Route
	if _, ok := s.cfg.Series[route]; !ok {
		route = ""
	}
	s.pending[route] = append(s.pending[route], ts)
	s.m.samples.Inc()
}

func toProto(ls labels.Labels) []prompb.Label {
	out := make([]prompb.Label, 0, ls.Len())
	ls.Range(func(l labels.Label) { out = append(out, prompb.Label{Name: l.Name, Value: l.Value}) })
	return out
}

type stage2Metrics struct {
	samples        prometheus.Counter
	unrouted       prometheus.Counter
	exemplarsSpans prometheus.Counter
	exemplarsSDK   prometheus.Counter
	open           *prometheus.GaugeVec
	behind         *prometheus.GaugeVec
	oldest         *prometheus.GaugeVec
	coverage       *coverage
}

func newStage2Metrics(reg prometheus.Registerer) *stage2Metrics {
	exemplars := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_exemplars_emitted_total", Help: "Exemplars attached to output samples, by the source of their trace: spans (read by weir, so exported when kept) or sdk (an SDK's exemplar on a metric point).",
	}, []string{"source"})
	m := &stage2Metrics{
		samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_pipeline_output_samples_total", Help: "Samples of closed windows handed to the series sinks.",
		}),
		unrouted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_pipeline_unrouted_samples_total", Help: "Output samples whose storage policy has no sink.",
		}),
		exemplarsSpans: exemplars.WithLabelValues("spans"),
		exemplarsSDK:   exemplars.WithLabelValues("sdk"),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_stage2_open_windows", Help: "Stage-2 windows waiting to close, per weir.partials partition.",
		}, []string{"partition"}),
		behind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_stage2_sources_behind", Help: "Stage-1 sources whose watermark holds the oldest open window of a weir.partials partition (why it waits).",
		}, []string{"partition"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_stage2_oldest_open_window_end_seconds", Help: "End of the oldest window waiting to close, per weir.partials partition (Unix seconds).",
		}, []string{"partition"}),
		coverage: newCoverage(),
	}
	if reg != nil {
		reg.MustRegister(m.samples, m.unrouted, exemplars, m.open, m.behind, m.oldest, m.coverage.vec)
	}
	return m
}
