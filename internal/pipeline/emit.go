package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/ingest"
)

// PollDone advances the windows, sends what closed to the sinks, keeps the
// traces the closed windows link to, and exports kept traces. Sinks that block
// hold the consumer here: backpressure instead of unbounded buffering.
func (p *Pipeline) PollDone(ctx context.Context, now time.Time) error {
	p.refreshRules()
	p.agg.Tick(now, func(s aggregator.Series) { p.collect(s, now) })
	p.buffer.Tick(now)
	return p.drain(ctx)
}

// PartitionsLost hands on the windows of partitions this process no longer
// owns.
func (p *Pipeline) PartitionsLost(ctx context.Context, topic string, partitions []int32) {
	now := time.Now()
	metrics := topic != "" && p.isMetricsTopic(topic)
	for _, id := range partitions {
		p.agg.RemovePartition(aggPartition(topic, metrics, id), now)
		if metrics {
			delete(p.metricConv, id)
		}
	}
}

func (p *Pipeline) isMetricsTopic(topic string) bool { return topic == p.cfg.MetricsTopic }

// Flush emits every open window and exports every kept trace, for a clean
// shutdown after the consumer stopped.
func (p *Pipeline) Flush(ctx context.Context) error {
	now := time.Now()
	p.agg.Flush(now, func(s aggregator.Series) { p.collect(s, now) })
	return p.drain(ctx)
}

// collect converts a closed window's sample for remote write and records the
// keep decision of its exemplar.
func (p *Pipeline) collect(s aggregator.Series, now time.Time) {
	ts := prompb.TimeSeries{
		Labels:  toProto(s.Labels),
		Samples: []prompb.Sample{{Value: s.V, Timestamp: s.T}},
	}
	if s.Exemplar.Valid() {
		ts.Exemplars = []prompb.Exemplar{{
			Labels: []prompb.Label{
				{Name: "span_id", Value: s.Exemplar.SpanID.String()},
				{Name: "trace_id", Value: s.Exemplar.TraceID.String()},
			},
			Value:     s.Exemplar.Value,
			Timestamp: s.Exemplar.T,
		}}
		p.decide(s.Exemplar, now)
		p.m.exemplars.Inc()
	}
	route := s.Route
	if _, ok := p.cfg.Series[route]; !ok {
		route = ""
	}
	p.pending[route] = append(p.pending[route], ts)
	p.m.samples.Inc()
}

func toProto(ls labels.Labels) []prompb.Label {
	out := make([]prompb.Label, 0, ls.Len())
	ls.Range(func(l labels.Label) { out = append(out, prompb.Label{Name: l.Name, Value: l.Value}) })
	return out
}

// drain hands kept traces and pending samples to the sinks, traces first:
// an exemplar that a written sample links to then names a trace the trace
// sink already has (the single-process path, where both sinks are local
// stores queried at once: the demo's acceptance test once found a p99
// exemplar's trace missing between the two).
func (p *Pipeline) drain(ctx context.Context) error {
	if err := p.drainTraces(ctx); err != nil {
		return err
	}
	return p.drainSeries(ctx)
}

// drainSeries hands pending samples to the series sinks.
func (p *Pipeline) drainSeries(ctx context.Context) error {
	for route, series := range p.pending {
		if len(series) == 0 {
			continue
		}
		sink := p.cfg.Series[route]
		if sink == nil {
			p.m.unrouted.Add(float64(len(series)))
		} else if err := sink.Enqueue(ctx, series); err != nil {
			return fmt.Errorf("pipeline: series sink %q: %w", route, err)
		}
		p.pending[route] = nil
	}
	return nil
}

// drainTraces exports the traces kept since the last call.
func (p *Pipeline) drainTraces(ctx context.Context) error {
	p.keptMu.Lock()
	kept := p.kept
	p.kept = nil
	p.keptMu.Unlock()
	for _, k := range kept {
		if p.cfg.Traces == nil {
			k.Release()
			continue
		}
		tds := make([]ptrace.Traces, 0, len(k.Chunks))
		for _, chunk := range k.Chunks {
			td, err := ingest.DecodeTraces(ingest.Encoding(k.Encoding), chunk)
			if err != nil {
				// The chunk decoded once when it was read; failing now is a bug.
				p.log.Error("kept trace chunk does not decode", "trace_id", k.TraceID.String(), "err", err)
				continue
			}
			tds = append(tds, td)
		}
		// pdata copied what it decoded: the buffer may reuse the chunks' memory.
		k.Release()
		for _, td := range tds {
			if err := p.cfg.Traces.Enqueue(ctx, td); err != nil {
				return fmt.Errorf("pipeline: trace sink: %w", err)
			}
		}
		p.m.keptTraces.WithLabelValues(k.Reason.String()).Inc()
	}
	return nil
}

// TraceSinkFunc adapts a function to TraceSink.
type TraceSinkFunc func(ctx context.Context, td ptrace.Traces) error

// Enqueue calls f.
func (f TraceSinkFunc) Enqueue(ctx context.Context, td ptrace.Traces) error { return f(ctx, td) }

// SeriesSinkFunc adapts a function to SeriesSink.
type SeriesSinkFunc func(ctx context.Context, series []prompb.TimeSeries) error

// Enqueue calls f.
func (f SeriesSinkFunc) Enqueue(ctx context.Context, s []prompb.TimeSeries) error { return f(ctx, s) }
