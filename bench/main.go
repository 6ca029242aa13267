// Command bench measures weir against its peers on the same input, in one
// process, one after the other, on one core, and ends with four lines:
//
//	spans_per_sec_per_core weir=N otelcol=N ratio=R
//	points_per_sec_per_core weir=N vmstreamaggr=N ratio=R
//	bytes_per_series_window weir=N
//	bytes_per_buffered_span weir=N wire=N ratio=R
//
// Run it with bench/run.sh (or cd bench && go run . -rounds 5); -short is a
// one-round smoke test on a small input; -cpuprofile/-memprofile with
// -peers=false profile weir alone.
//
// What each timed section covers, per round, on fresh state:
//
//   - weir spans: per record, SpanConverter.ConvertProto (the fast decoder,
//     no pdata), the rules matched once per series (rules.Default, span-red),
//     each point folded into its aggregator targets (count, sum, p50, p90,
//     p99, p999, exemplars), and the record into the tailsampling.Buffer (split
//     by ingest.ForEachTrace only when it holds several traces): the wiring
//     of internal/pipeline.HandleTraces, rebuilt from public packages.
//     Then every window is closed (exemplar traces kept) and the buffer ticked
//     past its decision wait, deciding every trace. The rounds' buffers share
//     one tailsampling.SlabPool, as a long-running buffer copies chunks into the
//     slabs its decided traces freed: the first round allocates them.
//
//   - otelcol spans: per record, pdata decode, the spanmetrics connector
//     (delta, exponential histogram, exemplars) and the tail sampling
//     processor (keep errors, 1% baseline, 30s decision wait); then the tail
//     sampler's Shutdown, which drains its queue and decides every trace it
//     holds. Decisions are not driven by its 1s ticker: the run is shorter
//     than the decision wait. spanmetrics' periodic flush is not timed.
//
//   - weir points and vmstreamaggr: VictoriaMetrics' BenchmarkAggregatorsPush
//     batch (10,000 series, 12 labels, 100 jobs) pushed -point-loops times,
//     aggregated by job into sum, count, max and three quantiles, then closed
//     (weir's Flush; streamaggr's flush on shutdown).
//
//   - decode floor: pdata unmarshal of the same span records alone (pdata=),
//     and ConvertProto with points discarded (fast=): the fast decoder
//     cannot decode without making points, so its floor includes the label
//     cache. weir_share_of_floor is weir spans against the fast floor, the
//     decoder weir's path uses.
//
//   - stage breakdown: weir's span path without the tail-sampling buffer
//     (weir-spans-nobuf). Against the fast floor and the whole path it gives
//     what each stage adds per span, in one run: decoding and labels, rules
//     and aggregation, buffering. Marginal costs, not profile shares: they
//     include what a stage costs the others (cache, GC).
//
//   - the cardinality profiler: weir spans and weir points again with the
//     profiler on (weir-spans-prof, weir-points-prof); the
//     profiler_throughput_ratio line gives on/off per kind, same run.
//
// Memory is measured first, while the heap holds little but the input:
// bytes_per_series_window is the live heap that weir's rules and aggregator
// hold with the span input's windows open, per open output series-window
// (one series of one window: span-red writes six per window, _count, _sum
// and four quantiles, all fed by the window's one sketch; the line above
// gives the bytes per window too);
// profiler_bytes_per_metric is the live heap of a profiler per tracked
// metric (100 metrics of 2,000 series, 12 labels), and its own account of it;
// bytes_per_buffered_span is what tailsampling.Buffer charges for the traces it
// buffers (Stats().Bytes, its own account of its memory, checked against the
// real heap on the line above) per span, against their wire bytes.
//
// GOMAXPROCS is 1 for the whole process, so background goroutines of the
// peers share the one core. Rates are items per second of the process's CPU
// time (user+system), which other load on a shared machine does not inflate;
// wall-clock rates are printed above. Figures are medians over the rounds.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/sample"
)

// The profiler's memory is measured on profMetrics metrics of profSeries
// series each.
const (
	profMetrics = 100
	profSeries  = 2000
)

type options struct {
	rounds        int
	spans         int
	spansPerTrace int
	pointLoops    int
	seed          uint64
	peers         bool
	cpuProfile    string
	memProfile    string
}

func main() {
	var o options
	short := flag.Bool("short", false, "one short round on a small input (a smoke test)")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds; figures are medians over them")
	flag.IntVar(&o.spans, "spans", 200_000, "spans in the span input")
	flag.IntVar(&o.spansPerTrace, "spans-per-trace", 100, "spans per trace (one trace per record)")
	flag.IntVar(&o.pointLoops, "point-loops", 100, "times the 10,000-series batch is pushed per round")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the span input")
	flag.BoolVar(&o.peers, "peers", true, "also run the peers and the decode floor (off: weir only, for profiling)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured sections to this file")
	flag.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile to this file at the end")
	flag.Parse()
	if *short {
		o.rounds, o.spans, o.pointLoops = 1, 20_000, 10
	}
	if err := run(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// measurement is one timed section.
type measurement struct {
	items int
	cpu   time.Duration
	wall  time.Duration
}

func (m measurement) cpuRate() float64  { return float64(m.items) / m.cpu.Seconds() }
func (m measurement) wallRate() float64 { return float64(m.items) / m.wall.Seconds() }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs fn after a GC, so that one contender's garbage is not collected
// on another's time.
func timed(items int, fn func() error) (measurement, error) {
	runtime.GC()
	c0, w0 := cpuTime(), time.Now()
	err := fn()
	return measurement{items: items, cpu: cpuTime() - c0, wall: time.Since(w0)}, err
}

func run(out io.Writer, o options) error {
	runtime.GOMAXPROCS(1)
	ctx := context.Background()
	fmt.Fprintf(out, "# generating input: %d spans, ~%d per trace, seed %d; %d series × %d pushes\n",
		o.spans, o.spansPerTrace, o.seed, pointSeries, o.pointLoops)
	in, err := genSpans(o.seed, o.spans, o.spansPerTrace)
	if err != nil {
		return err
	}
	pts := genPoints()
	fmt.Fprintf(out, "# span input: %d records, %d spans, %d traces with errors (%d error spans), %.0f wire bytes/span\n",
		len(in.records), in.spans, in.errorTraces, in.errors, float64(in.bytes)/float64(in.spans))

	// Memory first, while the heap holds nothing but the input: live-heap
	// deltas are only as good as the quiet around them.
	bsw, seriesWindows, windows, err := bytesPerSeriesWindow(in)
	if err != nil {
		return err
	}
	keptBytes, err := bytesPerKeptTrace()
	if err != nil {
		return err
	}
	profHeap, profAcc, err := profilerBytesPerMetric(profMetrics, profSeries)
	if err != nil {
		return err
	}

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	results := map[string][]measurement{}
	add := func(name string, m measurement) {
		results[name] = append(results[name], m)
		fmt.Fprintf(out, "# round %d %-14s %12.0f items/cpu-s %12.0f items/wall-s (%d items, cpu %v)\n",
			len(results[name]), name, m.cpuRate(), m.wallRate(), m.items, m.cpu.Round(time.Millisecond))
	}
	for range o.rounds {
		if o.peers {
			m, err := timed(in.spans, func() error { return decodeAll(in) })
			if err != nil {
				return err
			}
			add("decode", m)
			if m, err = timed(in.spans, func() error { return decodeFastAll(in) }); err != nil {
				return err
			}
			add("decode-fast", m)
		}
		m, err := timed(in.spans, func() error { return weirSpansRun(in, true, false) })
		if err != nil {
			return err
		}
		add("weir-spans", m)
		if m, err = timed(in.spans, func() error { return weirSpansRun(in, true, true) }); err != nil {
			return err
		}
		add("weir-spans-prof", m)
		if o.peers {
			m, err := timed(in.spans, func() error { return weirSpansRun(in, false, false) })
			if err != nil {
				return err
			}
			add("weir-spans-1st", m)
			if m, err = timed(in.spans, func() error { return otelcolRun(ctx, in) }); err != nil {
				return err
			}
			add("otelcol-spans", m)
		}
		m, err = timed(pointSeries*o.pointLoops, func() error { return weirPointsRun(pts, o.pointLoops, false) })
		if err != nil {
			return err
		}
		add("weir-points", m)
		if m, err = timed(pointSeries*o.pointLoops, func() error { return weirPointsRun(pts, o.pointLoops, true) }); err != nil {
			return err
		}
		add("weir-points-prof", m)
		if o.peers {
			m, err := timed(pointSeries*o.pointLoops, func() error { return vmPointsRun(pts, o.pointLoops) })
			if err != nil {
				return err
			}
			add("vm-points", m)
		}
	}

	if o.memProfile != "" {
		f, err := os.Create(o.memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}

	med := func(name string) (cpu, wall float64) {
		ms := results[name]
		if len(ms) == 0 {
			return 0, 0
		}
		c := make([]float64, len(ms))
		w := make([]float64, len(ms))
		for i, m := range ms {
			c[i], w[i] = m.cpuRate(), m.wallRate()
		}
		return median(c), median(w)
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	ws, wsWall := med("weir-spans")
	os_, osWall := med("otelcol-spans")
	dec, decWall := med("decode")
	fast, _ := med("decode-fast")
	wp, wpWall := med("weir-points")
	vp, vpWall := med("vm-points")
	fmt.Fprintf(out, "# medians of %d rounds (wall-clock: weir spans %.0f, otelcol %.0f, decode %.0f, weir points %.0f, vmstreamaggr %.0f per s)\n",
		o.rounds, wsWall, osWall, decWall, wpWall, vpWall)
	fmt.Fprintf(out, "# memory: %d open output series-windows, %d windows (%.0f spans each, %.0f bytes each); no span is held (the spans topic is the buffer)\n",
		seriesWindows, windows, float64(in.spans)/float64(windows), bsw*float64(seriesWindows)/float64(windows))
	if noBuf, _ := med("weir-spans-1st"); fast > 0 && noBuf > 0 && ws > 0 {
		ns := func(rate float64) float64 { return 1e9 / rate }
		fmt.Fprintf(out, "# weir spans, CPU ns per span: decode and labels %.0f, + rules and aggregation %.0f, + the second pass (tail sampling) %.0f = %.0f\n",
			ns(fast), ns(noBuf)-ns(fast), ns(ws)-ns(noBuf), ns(ws))
	}
	wsp, _ := med("weir-spans-prof")
	wpp, _ := med("weir-points-prof")
	fmt.Fprintf(out, "# profiler: %d metrics of %d series, 12 labels: %.0f bytes of live heap per tracked metric, %.0f by its own account\n",
		profMetrics, profSeries, profHeap, profAcc)
	fmt.Fprintf(out, "profiler_throughput_ratio spans=%.2f points=%.2f\n", ratio(wsp, ws), ratio(wpp, wp))
	fmt.Fprintf(out, "profiler_bytes_per_metric heap=%.0f accounted=%.0f\n", profHeap, profAcc)
	fmt.Fprintf(out, "decode_floor_spans_per_sec_per_core pdata=%.0f fast=%.0f weir_share_of_floor=%.2f\n", dec, fast, ratio(ws, fast))
	fmt.Fprintf(out, "spans_per_sec_per_core weir=%.0f otelcol=%.0f ratio=%.2f\n", ws, os_, ratio(ws, os_))
	fmt.Fprintf(out, "points_per_sec_per_core weir=%.0f vmstreamaggr=%.0f ratio=%.2f\n", wp, vp, ratio(wp, vp))
	fmt.Fprintf(out, "bytes_per_series_window weir=%.0f\n", bsw)
	fmt.Fprintf(out, "bytes_per_kept_trace weir=%.0f\n", keptBytes)
	return nil
}

func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func decodeAll(in *spanInput) error {
	n := 0
	for _, rec := range in.records {
		td, err := decodeTraces(rec)
		if err != nil {
			return err
		}
		n += td.SpanCount()
	}
	if n != in.spans {
		return fmt.Errorf("decode: %d spans, want %d", n, in.spans)
	}
	return nil
}

// decodeFastAll runs the fast decoder over the input, discarding the points.
func decodeFastAll(in *spanInput) error {
	conv := ingest.NewSpanConverter()
	n := 0
	count := func(*sample.Point) { n++ }
	for _, rec := range in.records {
		if err := conv.ConvertProto(rec, 0, "", count, nil); err != nil {
			return err
		}
	}
	if n != in.spans {
		return fmt.Errorf("decode fast: %d spans, want %d", n, in.spans)
	}
	return nil
}

// weirSpansRun runs weir's span path over the input (weirSpans) and checks
// that every span was counted once in the RED series and, with the second
// pass, that every failing trace was exported.
func weirSpansRun(in *spanInput, secondPass, profile bool) error {
	series, exported, err := weirSpans(in, secondPass, profile)
	switch {
	case err != nil:
		return err
	case int(series.count) != in.spans:
		return fmt.Errorf("weir spans: _count outputs add up to %v, want %d spans (%d series)", series.count, in.spans, series.series)
	case secondPass && exported < int64(in.errorTraceSpans):
		return fmt.Errorf("weir spans: exported %d spans, fewer than the %d of traces with errors", exported, in.errorTraceSpans)
	}
	return nil
}

// otelcolRun runs the collector's components over the input, through the
// tail sampler's Shutdown, which drains its queue and decides every trace it
// holds: the 30s decision wait never passes during a run, so without it the
// sampler would only have queued the spans.
func otelcolRun(ctx context.Context, in *spanInput) error {
	o, err := newOtelcol(ctx)
	if err != nil {
		return err
	}
	for _, rec := range in.records {
		if err := o.record(ctx, rec); err != nil {
			return err
		}
	}
	if err := o.shutdown(ctx); err != nil {
		return err
	}
	if n := o.sampled.Load(); n < int64(in.errorTraceSpans) {
		return fmt.Errorf("otelcol: tail sampling kept %d spans, fewer than the %d of traces with errors", n, in.errorTraceSpans)
	}
	return nil
}

// weirPointsRun hands the batch's records loops times to weir's stage 1
// (the fast decoder, the rules, the windows) and closes the window.
func weirPointsRun(in *pointInput, loops int, profile bool) error {
	rs, err := parseRules(weirPointRules)
	if err != nil {
		return err
	}
	series := &countSink{}
	l, err := newWorker(rs, series, nil, profile)
	if err != nil {
		return err
	}
	offset := int64(0)
	for range loops {
		for _, rec := range in.records {
			if err := l.Handle(pipeline.Record{Offset: offset, Time: baseTime, Value: rec}); err != nil {
				return err
			}
			offset++
		}
	}
	if err := l.Flush(context.Background()); err != nil {
		return err
	}
	if series.series != pointOutputs || int(series.count) != pointSeries*loops {
		return fmt.Errorf("weir points: %d series with count %v; want %d series counting %d",
			series.series, series.count, pointOutputs, pointSeries*loops)
	}
	return nil
}

// vmPointsRun does the same with lib/streamaggr, whose shutdown flushes the
// open interval.
func vmPointsRun(in *pointInput, loops int) error {
	v, err := newVMAggr()
	if err != nil {
		return err
	}
	for range loops {
		v.push(in.vm)
	}
	v.stop()
	if n := v.series.Load(); n != pointOutputs {
		return fmt.Errorf("vmstreamaggr: flushed %d series, want %d", n, pointOutputs)
	}
	return nil
}
