package main

import (
	"fmt"
	"runtime"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/ingest"
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

// bytesPerSeriesWindow feeds the span input's points into weir's rules and
// aggregator and leaves the windows open: the live heap it then holds (the
// windows, and the per-series state they need: targets, label sets, the
// match cache), divided by the number of open output series-windows. An
// output series-window is one series of one window as the storage receives
// it: span-red's _count, _sum and each of its four quantile series are one
// each, all six fed by one window's sketch. They are counted afterwards from
// what closing the windows writes; windows is the number of sketches (one
// _count series each).
func bytesPerSeriesWindow(in *spanInput) (perSeries float64, series, windows int, err error) {
	before := liveHeap()
	w, err := newWeirAgg(rules.Default(), time.Now())
	if err != nil {
		return 0, 0, 0, err
	}
	conv := ingest.NewSpanConverter()
	for _, rec := range in.records {
		td, err := decodeTraces(rec)
		if err != nil {
			return 0, 0, 0, err
		}
		conv.Convert(td, 0, "", w.add)
	}
	after := liveHeap()
	w.agg.Flush(w.now, func(s aggregator.Series) {
		series++
		if isCount(s.Labels) {
			windows++
		}
	})
	runtime.KeepAlive(conv)
	if windows == 0 {
		return 0, 0, 0, fmt.Errorf("memory: no window opened")
	}
	return float64(after-before) / float64(series), series, windows, nil
}

// bytesPerBufferedSpan buffers every trace of the input that the buffer
// holds (those without errors) and reports what the buffer charges for them
// (Stats().Bytes, its own account of its memory), the spans it holds, their
// wire bytes per span, and the live heap it really holds per span.
func bytesPerBufferedSpan(in *spanInput) (charged, spans int64, wirePerSpan, heapPerSpan float64, err error) {
	now := time.Now()
	type rec struct {
		id     sample.TraceID
		raw    []byte
		spans  int
		hasErr bool
	}
	var recs []rec
	for _, b := range in.records {
		td, err := decodeTraces(b)
		if err != nil {
			return 0, 0, 0, 0, err
		}
		err = ingest.ForEachTrace(ingest.EncodingProto, b, td, func(id sample.TraceID, raw []byte, n int, hasErr bool) {
			recs = append(recs, rec{id, raw, n, hasErr})
		})
		if err != nil {
			return 0, 0, 0, 0, err
		}
	}
	before := liveHeap()
	buf := tailsampling.NewBuffer()
	wire := 0
	for i, r := range recs {
		buf.Add(r.id, 0, int64(i), string(ingest.EncodingProto), r.raw, r.spans, r.hasErr, 0, now)
		if !r.hasErr {
			wire += len(r.raw)
		}
	}
	after := liveHeap()
	st := buf.Stats()
	runtime.KeepAlive(buf)
	if st.Spans == 0 {
		return 0, 0, 0, 0, fmt.Errorf("memory: the buffer holds no span")
	}
	return st.Bytes, st.Spans, float64(wire) / float64(st.Spans), float64(after-before) / float64(st.Spans), nil
}
