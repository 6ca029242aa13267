package main

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/cardinality"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/pipeline/pipelinetest"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/tailsampling"
)

// countSink counts the series it gets and the _count series among them,
// and adds up the _count outputs.
type countSink struct {
	series, countSeries int
	count               float64
}

func (c *countSink) Enqueue(_ context.Context, series []prompb.TimeSeries) error {
	for _, ts := range series {
		c.series++
		for _, l := range ts.Labels {
			if l.Name == "__name__" && strings.HasSuffix(l.Value, "_count") {
				c.count += ts.Samples[0].Value
				c.countSeries++
			}
		}
	}
	return nil
}

// spanCount counts the spans handed to the trace sink.
type spanCount struct{ n atomic.Int64 }

func (s *spanCount) Enqueue(_ context.Context, td ptrace.Traces) error {
	s.n.Add(int64(td.SpanCount()))
	return nil
}

// newWorker returns a worker of rs, run in one process as `weir run` runs it
// over Kafka (pipelinetest.Local: stage 1 per record, the windows handed on
// and merged through their weir.partials records, stage 2 closing them).
// With profile, its stage 1 runs the cardinality profiler at its defaults.
func newWorker(rs *rules.Set, series *countSink, traces pipeline.TraceSink, profile bool) (*pipelinetest.Local, error) {
	cfg := pipeline.Config{
		Plan:   plan.Config{Rules: rs},
		Series: map[string]pipeline.SeriesSink{"": series},
		Traces: traces,
	}
	if profile {
		cfg.Profile = &cardinality.Config{}
	}
	return pipelinetest.New(cfg)
}

// weirSpans runs weir's span path over the input: every record through
// stage 1 (the fast decoder, the rules, the windows, the keep facts), the
// windows closed, and, with secondPass, every record read again as the
// second pass over the spans topic does, the kept traces (errors, exemplars,
// the 1% baseline) decoded for export.
func weirSpans(in *spanInput, secondPass, profile bool) (*countSink, int64, error) {
	ctx := context.Background()
	series, traces := &countSink{}, &spanCount{}
	l, err := newWorker(rules.Default(), series, traces, profile)
	if err != nil {
		return nil, 0, err
	}
	for i, rec := range in.records {
		if err := l.Handle(pipeline.Record{Spans: true, Offset: int64(i), Key: in.keys[i], Value: rec}); err != nil {
			return nil, 0, err
		}
	}
	if err := l.Flush(ctx); err != nil {
		return nil, 0, err
	}
	if !secondPass {
		return series, 0, nil
	}
	keep := tailsampling.NewKeepSet(tailsampling.KeepSetConfig{BaselineRate: 0.01})
	for _, d := range l.Keeps {
		keep.Add(d, baseTime)
	}
	for _, ex := range l.Exemplars {
		keep.Add(tailsampling.Decision{TraceID: ex.TraceID, Reason: tailsampling.KeepExemplar}, baseTime)
	}
	for i, rec := range in.records {
		if err := l.W.Traces.Export(ctx, pipeline.Record{Spans: true, Offset: int64(i), Key: in.keys[i], Value: rec}, keep); err != nil {
			return nil, 0, err
		}
	}
	return series, traces.n.Load(), nil
}
