package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/cardinality"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

func decodeTraces(rec []byte) (ptrace.Traces, error) {
	return ingest.DecodeTraces(ingest.EncodingProto, rec)
}

func parseRules(src string) (*rules.Set, error) { return rules.Parse("<bench>", []byte(src)) }

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// bytesPerSeriesWindow feeds the span input into weir's stage 1 and leaves
// the windows open: the live heap it then holds (the windows, and the
// per-series state they need: targets, label sets, the match cache),
// divided by the number of open output series-windows. An output
// series-window is one series of one window as the storage receives it:
// span-red's _count, _sum and each of its four quantile series are one each,
// all six fed by one window's sketch. They are counted afterwards from what
// closing the windows writes; windows is the number of sketches (one _count
// series each).
func bytesPerSeriesWindow(in *spanInput) (perSeries float64, series, windows int, err error) {
	before := liveHeap()
	out := &countSink{}
	l, err := newWorker(rules.Default(), out, nil, false)
	if err != nil {
		return 0, 0, 0, err
	}
	for i, rec := range in.records {
		if err := l.Handle(pipeline.Record{Spans: true, Offset: int64(i), Key: in.keys[i], Value: rec}); err != nil {
			return 0, 0, 0, err
		}
	}
	after := liveHeap()
	if err := l.Flush(context.Background()); err != nil {
		return 0, 0, 0, err
	}
	series, windows = out.series, out.countSeries
	if windows == 0 {
		return 0, 0, 0, fmt.Errorf("memory: no window opened")
	}
	return float64(after-before) / float64(series), series, windows, nil
}

// bytesPerKeptTrace is what a keep set holds per kept trace, from the live
// heap of a set of 100,000 decisions.
func bytesPerKeptTrace() (float64, error) {
	const n = 100_000
	before := liveHeap()
	set := tailsampling.NewKeepSet(tailsampling.KeepSetConfig{})
	for i := range n {
		var d tailsampling.Decision
		d.TraceID[0], d.TraceID[1], d.TraceID[2], d.TraceID[15] = byte(i), byte(i>>8), byte(i>>16), 1
		set.Add(d, baseTime)
	}
	after := liveHeap()
	if set.Len() != n {
		return 0, fmt.Errorf("memory: the keep set holds %d decisions, want %d", set.Len(), n)
	}
	runtime.KeepAlive(set)
	return float64(after-before) / n, nil
}

// profilerBytesPerMetric is what the cardinality profiler holds per tracked
// metric: the live heap of a profiler fed metrics metrics of series series
// each, with the labels of the points scenario (12, one of them distinct per
// series), divided by the metrics; accounted is the profiler's own account
// (Bytes, what its byte limit bounds).
func profilerBytesPerMetric(metrics, series int) (heap, accounted float64, err error) {
	before := liveHeap()
	p := cardinality.New(cardinality.Config{MaxBytes: 1 << 40})
	pt := &sample.Point{T: baseTime.UnixMilli()}
	for m := range metrics {
		name := fmt.Sprintf("metric_%d_total", m)
		for j := range series {
			pt.Labels = labels.FromStrings("__name__", name, "path", fmt.Sprintf("/foo/%d", j), "job", fmt.Sprintf("foo_%d", j%pointJobs),
				"instance", "bar", "pod", "pod-123232312", "namespace", "kube-foo-bar", "node", "node-123-3434-443",
				"some_other_label", "foo-bar-baz", "environment", "prod", "label1", "value1", "label2", "value2", "label3", "value3")
			pt.Hash = 0
			p.Observe(pt, nil, baseTime)
		}
	}
	after := liveHeap()
	if p.Tracked() != metrics {
		return 0, 0, fmt.Errorf("profiler: %d metrics tracked, want %d", p.Tracked(), metrics)
	}
	acc := float64(p.Bytes()) / float64(metrics)
	runtime.KeepAlive(p)
	return float64(after-before) / float64(metrics), acc, nil
}
