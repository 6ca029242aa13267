package tailsampling

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/weirdev/weir/sample"
)

var sbT0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// sbID returns trace ID n that is never in the baseline below rate 1.
func sbID(n byte) sample.TraceID {
	id := sample.TraceID{0: n}
	for i := 8; i < 16; i++ {
		id[i] = 0xff
	}
	return id
}

// sbBaseID returns trace ID n that is in the baseline at any rate above 0.
func sbBaseID(n byte) sample.TraceID { return sample.TraceID{0: n, 1: 0xba} }

// sbOp is one call on a Buffer at sbT0+at.
type sbOp struct {
	at     time.Duration
	op     string // "add", "keep" or "tick"
	id     sample.TraceID
	chunk  string // add: the chunk's bytes
	spans  int
	err    bool          // add: hasError
	dur    time.Duration // add: maxDuration
	reason Reason        // keep
	expire int           // tick: the expected result
}

// sbKept is a Kept in a comparable form.
type sbKept struct {
	id        sample.TraceID
	partition int32
	reason    Reason
	chunks    string // joined with "|"
	encoding  string
	decidedAt time.Duration
}

type sbRecorder struct{ kept []sbKept }

func (r *sbRecorder) onKeep(k Kept) {
	cs := make([]string, len(k.Chunks))
	for i, c := range k.Chunks {
		cs[i] = string(c)
	}
	r.kept = append(r.kept, sbKept{k.TraceID, k.Partition, k.Reason, strings.Join(cs, "|"), k.Encoding, k.DecidedAt.Sub(sbT0)})
}

// sbMetric returns the value of a counter (or a histogram's count) with the
// given labels ("k=v,k=v"), 0 if absent.
func sbMetric(t *testing.T, g prometheus.Gatherer, name, lbls string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if sbLabels(m) != lbls {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func sbLabels(m *dto.Metric) string {
	var s []string
	for _, l := range m.GetLabel() {
		s = append(s, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(s, ",")
}

// sbRun applies ops to a fresh buffer and returns it with what it kept.
func sbRun(t *testing.T, opts []BufferOpt, ops []sbOp) (*Buffer, *prometheus.Registry, []sbKept) {
	t.Helper()
	rec := &sbRecorder{}
	reg := prometheus.NewRegistry()
	b := NewBuffer(append([]BufferOpt{OnKeep(rec.onKeep), WithRegisterer(reg)}, opts...)...)
	for i, o := range ops {
		now := sbT0.Add(o.at)
		switch o.op {
		case "add":
			b.Add(o.id, 7, -1, "otlp_proto", []byte(o.chunk), o.spans, o.err, o.dur, now)
		case "keep":
			b.Keep(o.id, o.reason, now)
		case "tick":
			if got := b.Tick(now); got != o.expire {
				t.Errorf("op %d: Tick expired %d traces, want %d", i, got, o.expire)
			}
		default:
			t.Fatalf("op %d: unknown op %q", i, o.op)
		}
	}
	return b, reg, rec.kept
}

func TestBufferDecisions(t *testing.T) {
	a, c := sbID(1), sbID(2)
	const enc = "otlp_proto"
	cases := []struct {
		name     string
		opts     []BufferOpt
		ops      []sbOp
		want     []sbKept
		stats    BufferStats // Decisions not compared.
		counters map[string]float64
	}{
		{
			name: "exemplar after spans",
			ops: []sbOp{
				{at: 0, op: "add", id: a, chunk: "a1", spans: 2},
				{at: time.Second, op: "add", id: c, chunk: "c1", spans: 1},
				{at: 2 * time.Second, op: "add", id: a, chunk: "a2", spans: 3},
				{at: 5 * time.Second, op: "keep", id: a, reason: KeepExemplar},
			},
			want:  []sbKept{{a, 7, KeepExemplar, "a1|a2", enc, 5 * time.Second}},
			stats: BufferStats{Traces: 1, Spans: 1},
			counters: map[string]float64{
				"weir_tailsampling_decisions_total{reason=exemplar}":  1,
				"weir_tailsampling_late_spans_total{decision=keep}":   0,
				"weir_tailsampling_decision_to_export_seconds{}":      1,
				"weir_tailsampling_buffered_traces{}":                 1,
				"weir_tailsampling_decision_cache_total{result=miss}": 2,
				"weir_tailsampling_decision_cache_total{result=hit}":  0,
			},
		},
		{
			name: "exemplar before spans",
			ops: []sbOp{
				{at: 0, op: "keep", id: a, reason: KeepExemplar},
				{at: time.Second, op: "add", id: a, chunk: "a1", spans: 2},
				{at: 3 * time.Second, op: "add", id: a, chunk: "a2", spans: 3},
			},
			want: []sbKept{
				{a, 7, KeepExemplar, "a1", enc, 0},
				{a, 7, KeepExemplar, "a2", enc, 0},
			},
			counters: map[string]float64{
				"weir_tailsampling_decisions_total{reason=exemplar}":  1,
				"weir_tailsampling_late_spans_total{decision=keep}":   5,
				"weir_tailsampling_decision_cache_total{result=miss}": 1,
				"weir_tailsampling_decision_cache_total{result=hit}":  2,
				"weir_tailsampling_decision_to_export_seconds{}":      2,
			},
		},
		{
			name: "late spans follow a kept trace, repeated keep is a no-op",
			ops: []sbOp{
				{at: 0, op: "add", id: a, chunk: "a1", spans: 1},
				{at: time.Second, op: "keep", id: a, reason: KeepExemplar},
				{at: 2 * time.Second, op: "keep", id: a, reason: KeepLatency},
				{at: 40 * time.Second, op: "add", id: a, chunk: "a2", spans: 4},
				{at: 41 * time.Second, op: "tick", expire: 0},
			},
			want: []sbKept{
				{a, 7, KeepExemplar, "a1", enc, time.Second},
				{a, 7, KeepExemplar, "a2", enc, time.Second},
			},
			counters: map[string]float64{
				"weir_tailsampling_decisions_total{reason=exemplar}": 1,
				"weir_tailsampling_decisions_total{reason=latency}":  0,
				"weir_tailsampling_late_spans_total{decision=keep}":  4,
			},
		},
		{
			name: "late spans of an expired trace are dropped, and so is a late keep",
			ops: []sbOp{
				{at: 0, op: "add", id: a, chunk: "a1", spans: 1},
				{at: 30 * time.Second, op: "tick", expire: 1},
				{at: 31 * time.Second, op: "add", id: a, chunk: "a2", spans: 3},
				{at: 32 * time.Second, op: "keep", id: a, reason: KeepExemplar},
				{at: 33 * time.Second, op: "add", id: a, chunk: "a3", spans: 2},
			},
			counters: map[string]float64{
				"weir_tailsampling_dropped_traces_total{reason=expired}": 1,
				"weir_tailsampling_decisions_total{reason=drop}":         1,
				"weir_tailsampling_decisions_total{reason=exemplar}":     0,
				"weir_tailsampling_late_spans_total{decision=drop}":      5,
				"weir_tailsampling_late_decisions_total{}":               1,
			},
		},
		{
			name: "error keeps at once with what was buffered, later spans follow",
			ops: []sbOp{
				{at: 0, op: "add", id: a, chunk: "a1", spans: 1},
				{at: time.Second, op: "add", id: c, chunk: "c1", spans: 1},
				{at: 2 * time.Second, op: "add", id: a, chunk: "a2", spans: 1, err: true},
				{at: 3 * time.Second, op: "add", id: a, chunk: "a3", spans: 1},
			},
			want: []sbKept{
				{a, 7, KeepError, "a1|a2", enc, 2 * time.Second},
				{a, 7, KeepError, "a3", enc, 2 * time.Second},
			},
			stats: BufferStats{Traces: 1, Spans: 1},
			counters: map[string]float64{
				"weir_tailsampling_decisions_total{reason=error}": 1,
			},
		},
		{
			name: "error in the first chunk",
			ops: []sbOp{
				{at: 0, op: "add", id: a, chunk: "a1", spans: 1, err: true},
			},
			want: []sbKept{{a, 7, KeepError, "a1", enc, 0}},
		},
		{
			name: "latency threshold",
			opts: []BufferOpt{LatencyThreshold(time.Second)},
			ops: []sbOp{
				{at: 0, op: "add", id: a, chunk: "a1", spans: 1, dur: time.Second - 1},
				{at: 0, op: "add", id: c, chunk: "c1", spans: 1, dur: time.Second - 1},
				{at: time.Second, op: "add", id: a, chunk: "a2", spans: 1, dur: time.Second},
			},
			want:  []sbKept{{a, 7, KeepLatency, "a1|a2", enc, time.Second}},
			stats: BufferStats{Traces: 1, Spans: 1},
			counters: map[string]float64{
				"weir_tailsampling_decisions_total{reason=latency}": 1,
			},
		},
		{
			name: "latency threshold off by default",
			ops: []sbOp{
				{at: 0, op: "add", id: a, chunk: "a1", spans: 1, dur: time.Hour},
			},
			stats: BufferStats{Traces: 1, Spans: 1},
		},
		{
			name: "expiry after DecisionWait from the first chunk",
			opts: []BufferOpt{DecisionWait(10 * time.Second)},
			ops: []sbOp{
				{at: 0, op: "add", id: a, chunk: "a1", spans: 1},
				{at: 5 * time.Second, op: "add", id: c, chunk: "c1", spans: 1},
				{at: 8 * time.Second, op: "add", id: a, chunk: "a2", spans: 1},
				{at: 10*time.Second - 1, op: "tick", expire: 0},
				{at: 10 * time.Second, op: "tick", expire: 1},
				{at: 11 * time.Second, op: "tick", expire: 0},
			},
			stats: BufferStats{Traces: 1, Spans: 1},
			counters: map[string]float64{
				"weir_tailsampling_dropped_traces_total{reason=expired}": 1,
			},
		},
		{
			name: "expiry keeps the baseline",
			opts: []BufferOpt{DecisionWait(10 * time.Second), BaselineRate(0.5)},
			ops: []sbOp{
				{at: 0, op: "add", id: a, chunk: "a1", spans: 1},
				{at: time.Second, op: "add", id: sbBaseID(3), chunk: "b1", spans: 1},
				{at: 2 * time.Second, op: "add", id: sbBaseID(3), chunk: "b2", spans: 1},
				{at: 20 * time.Second, op: "tick", expire: 2},
				{at: 21 * time.Second, op: "add", id: sbBaseID(3), chunk: "b3", spans: 1},
			},
			want: []sbKept{
				{sbBaseID(3), 7, KeepBaseline, "b1|b2", enc, 20 * time.Second},
				{sbBaseID(3), 7, KeepBaseline, "b3", enc, 20 * time.Second},
			},
			counters: map[string]float64{
				"weir_tailsampling_decisions_total{reason=baseline}":     1,
				"weir_tailsampling_decisions_total{reason=drop}":         1,
				"weir_tailsampling_dropped_traces_total{reason=expired}": 1,
			},
		},
		{
			name: "baseline rate 0 keeps nothing",
			opts: []BufferOpt{BaselineRate(0)},
			ops: []sbOp{
				{at: 0, op: "add", id: sbBaseID(3), chunk: "b1", spans: 1},
				{at: time.Hour, op: "tick", expire: 1},
			},
		},
		{
			name: "zero trace ID is dropped",
			ops: []sbOp{
				{at: 0, op: "add", id: sample.TraceID{}, chunk: "z", spans: 1, err: true},
				{at: 0, op: "keep", id: sample.TraceID{}},
			},
			counters: map[string]float64{
				"weir_tailsampling_dropped_traces_total{reason=no_trace_id}": 1,
				"weir_tailsampling_decisions_total{reason=exemplar}":         0,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, reg, got := sbRun(t, tc.opts, tc.ops)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("kept:\n got %+v\nwant %+v", got, tc.want)
			}
			st := b.Stats()
			if st.Traces != tc.stats.Traces || st.Spans != tc.stats.Spans {
				t.Errorf("stats: %d traces, %d spans; want %d, %d", st.Traces, st.Spans, tc.stats.Traces, tc.stats.Spans)
			}
			if (st.Traces == 0) != (st.Bytes == 0) {
				t.Errorf("stats: %d traces hold %d bytes", st.Traces, st.Bytes)
			}
			for k, want := range tc.counters {
				name, lbls, _ := strings.Cut(strings.TrimSuffix(k, "}"), "{")
				if got := sbMetric(t, reg, name, lbls); got != want {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
		})
	}
}

// sbCost is what a buffered trace of chunks of these lengths is charged,
// assuming each length is a size class of its own (multiples of 16 up to 128
// are).
func sbCost(lens ...int) int64 {
	n := int64(traceOverhead)
	for _, l := range lens {
		n += int64(l) + chunkOverhead
	}
	return n
}

func TestBufferFull(t *testing.T) {
	chunk := strings.Repeat("x", 64)
	two := sbCost(64) * 2
	cases := []struct {
		name     string
		max      int64
		ops      []sbOp
		want     []sbKept
		traces   int
		evicted  float64
		lateDrop float64
	}{
		{
			name: "oldest by first arrival is evicted, later chunks of it dropped",
			max:  two + sbCost(64) - 1 + 64 + chunkOverhead, // a (two chunks) and b fit, not c as well.
			ops: []sbOp{
				{at: 0, op: "add", id: sbID(1), chunk: chunk, spans: 1},
				{at: 1, op: "add", id: sbID(2), chunk: chunk, spans: 1},
				{at: 2, op: "add", id: sbID(1), chunk: chunk, spans: 1},
				{at: 3, op: "add", id: sbID(3), chunk: chunk, spans: 1},
				{at: 4, op: "add", id: sbID(1), chunk: chunk, spans: 5},
				{at: 5, op: "keep", id: sbID(2)},
				{at: 5, op: "keep", id: sbID(3)},
			},
			want: []sbKept{
				{sbID(2), 7, KeepExemplar, chunk, "otlp_proto", 5},
				{sbID(3), 7, KeepExemplar, chunk, "otlp_proto", 5},
			},
			evicted:  1,
			lateDrop: 5,
		},
		{
			name: "several evicted for one chunk",
			max:  two + 64 + chunkOverhead,
			ops: []sbOp{
				{at: 0, op: "add", id: sbID(1), chunk: chunk, spans: 1},
				{at: 1, op: "add", id: sbID(2), chunk: chunk, spans: 1},
				{at: 2, op: "add", id: sbID(3), chunk: strings.Repeat("y", 64+int(sbCost(64))), spans: 1},
			},
			traces:  1,
			evicted: 2,
		},
		{
			name: "the trace being added may be the oldest",
			max:  two,
			ops: []sbOp{
				{at: 0, op: "add", id: sbID(1), chunk: chunk, spans: 1},
				{at: 1, op: "add", id: sbID(2), chunk: chunk, spans: 1},
				{at: 2, op: "add", id: sbID(1), chunk: chunk, spans: 1},
				{at: 3, op: "keep", id: sbID(2)},
			},
			want:    []sbKept{{sbID(2), 7, KeepExemplar, chunk, "otlp_proto", 3}},
			evicted: 1,
		},
		{
			name: "a chunk that can never fit drops only its trace",
			max:  two,
			ops: []sbOp{
				{at: 0, op: "add", id: sbID(1), chunk: chunk, spans: 1},
				{at: 1, op: "add", id: sbID(2), chunk: chunk, spans: 1},
				{at: 2, op: "add", id: sbID(2), chunk: strings.Repeat("y", int(two)), spans: 1},
				{at: 3, op: "add", id: sbID(2), chunk: chunk, spans: 2},
			},
			traces:   1,
			evicted:  1,
			lateDrop: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, reg, got := sbRun(t, []BufferOpt{MaxBytes(tc.max), BaselineRate(0)}, tc.ops)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("kept:\n got %+v\nwant %+v", got, tc.want)
			}
			st := b.Stats()
			if st.Traces != tc.traces || st.Bytes > tc.max {
				t.Errorf("stats %+v, want %d traces within %d bytes", st, tc.traces, tc.max)
			}
			if got := sbMetric(t, reg, "weir_tailsampling_dropped_traces_total", "reason=buffer_full"); got != tc.evicted {
				t.Errorf("buffer_full drops = %v, want %v", got, tc.evicted)
			}
			if got := sbMetric(t, reg, "weir_tailsampling_late_spans_total", "decision=drop"); got != tc.lateDrop {
				t.Errorf("late dropped spans = %v, want %v", got, tc.lateDrop)
			}
		})
	}
}

// TestBufferFlood pushes a million chunks, hundreds of times MaxBytes, through
// a buffer that is never ticked: only eviction keeps it bounded.
func TestBufferFlood(t *testing.T) {
	const maxBytes = 1 << 20
	b := NewBuffer(MaxBytes(maxBytes), BaselineRate(0))
	chunk := make([]byte, 1024)
	var added, peak int64
	var id sample.TraceID
	for i := range 1_000_000 {
		// Traces of a few chunks, chunks of 1 to 1024 bytes.
		n := uint64(i / (1 + i%8))
		id[0], id[1], id[2], id[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		id[15] = 1
		size := 1 + (i*7919)%len(chunk)
		added += int64(size)
		b.Add(id, 0, -1, "otlp_proto", chunk[:size], 1, false, 0, sbT0.Add(time.Duration(i)*time.Microsecond))
		st := b.Stats()
		if st.Bytes > maxBytes {
			t.Fatalf("after %d chunks the buffer holds %d bytes, above %d", i+1, st.Bytes, maxBytes)
		}
		peak = max(peak, st.Bytes)
	}
	st := b.Stats()
	if added < 100*maxBytes || st.Traces == 0 || peak < maxBytes*9/10 {
		t.Fatalf("flood of %d bytes left %+v (peak %d): the test did not fill the buffer", added, st, peak)
	}
	if got := len(b.traces); got != st.Traces {
		t.Fatalf("map holds %d traces, stats say %d", got, st.Traces)
	}
	if st.Decisions != DefaultDecisionCacheSize {
		t.Fatalf("decision cache holds %d, want its bound %d", st.Decisions, DefaultDecisionCacheSize)
	}
}

// TestBufferAccounting checks the byte bound's bookkeeping: the charged bytes
// are what the buffered traces hold, and return to zero when they leave.
func TestBufferAccounting(t *testing.T) {
	if s := unsafe.Sizeof(bufTrace{}); s > 144 {
		t.Fatalf("bufTrace is %d bytes; traceOverhead charges 144", s)
	}
	b := NewBuffer(BaselineRate(0))
	var want int64
	for i, l := range []int{0, 16, 48, 112} {
		b.Add(sbID(byte(i)), 0, -1, "otlp_proto", make([]byte, l), 1, false, 0, sbT0)
		b.Add(sbID(byte(i)), 0, -1, "otlp_proto", make([]byte, l), 1, false, 0, sbT0)
		want += sbCost(l, l)
	}
	if st := b.Stats(); st.Bytes != want || st.Traces != 4 || st.Spans != 8 {
		t.Fatalf("stats %+v, want %d bytes, 4 traces, 8 spans", st, want)
	}
	b.Keep(sbID(1), KeepExemplar, sbT0)
	want -= sbCost(16, 16)
	if st := b.Stats(); st.Bytes != want || st.Traces != 3 || st.Spans != 6 {
		t.Fatalf("after a keep: stats %+v, want %d bytes, 3 traces, 6 spans", st, want)
	}
	if n := b.Tick(sbT0.Add(DefaultDecisionWait)); n != 3 {
		t.Fatalf("Tick expired %d traces, want 3", n)
	}
	if st := b.Stats(); st != (BufferStats{Decisions: 4}) {
		t.Fatalf("after expiry: stats %+v, want empty with 4 decisions", st)
	}
}

// TestBufferAddCopies checks that the buffer keeps no reference to the
// caller's chunk.
func TestBufferAddCopies(t *testing.T) {
	for _, path := range []string{"buffered", "error", "late"} {
		t.Run(path, func(t *testing.T) {
			var got []Kept
			b := NewBuffer(OnKeep(func(k Kept) { got = append(got, k) }))
			chunk := []byte("span")
			if path == "late" {
				b.Keep(sbID(1), KeepExemplar, sbT0)
			}
			b.Add(sbID(1), 0, -1, "otlp_proto", chunk, 1, path == "error", 0, sbT0)
			copy(chunk, "XXXX")
			if path == "buffered" {
				b.Keep(sbID(1), KeepExemplar, sbT0)
			}
			if len(got) != 1 || len(got[0].Chunks) != 1 || string(got[0].Chunks[0]) != "span" {
				t.Fatalf("kept %v, want one chunk \"span\"", got)
			}
		})
	}
}

// TestBufferSlabs checks the chunks the buffer copies into its slabs: each
// intact across slab boundaries (small, large, and alone-sized ones), and
// an append to one kept chunk cannot write into the next.
func TestBufferSlabs(t *testing.T) {
	var got []Kept
	b := NewBuffer(BaselineRate(0), OnKeep(func(k Kept) { got = append(got, k) }))
	sizes := []int{0, 1, 100, 30_000, slabAlone, slabAlone + 1, 3 * slabSize / 4, 2 * slabSize}
	var want [][]byte
	for i := range 3 * len(sizes) { // three rounds: past several slabs
		c := make([]byte, sizes[i%len(sizes)])
		for j := range c {
			c[j] = byte(i + j)
		}
		want = append(want, c)
		b.Add(sbID(byte(i)), 0, -1, "otlp_proto", c, 1, false, 0, sbT0)
	}
	for i := range want {
		b.Keep(sbID(byte(i)), KeepExemplar, sbT0)
	}
	if len(got) != len(want) {
		t.Fatalf("kept %d traces, want %d", len(got), len(want))
	}
	for i, k := range got {
		if len(k.Chunks) != 1 || string(k.Chunks[0]) != string(want[i]) {
			t.Fatalf("trace %d: kept chunk of %d bytes differs from the %d added", i, len(k.Chunks[0]), len(want[i]))
		}
		_ = append(k.Chunks[0], 0xee, 0xee, 0xee)
	}
	for i, k := range got {
		if string(k.Chunks[0]) != string(want[i]) {
			t.Fatalf("trace %d: an append to another kept chunk wrote into it", i)
		}
	}
}

func TestBufferOptionDefaults(t *testing.T) {
	cases := []struct {
		opts []BufferOpt
		want bufferConfig
	}{
		{nil, bufferConfig{maxBytes: DefaultMaxBytes, decisionWait: DefaultDecisionWait, baselineRate: DefaultBaselineRate, cacheSize: DefaultDecisionCacheSize}},
		{
			[]BufferOpt{MaxBytes(-1), DecisionWait(0), BaselineRate(-0.5), LatencyThreshold(-time.Second), DecisionCacheSize(0)},
			bufferConfig{maxBytes: DefaultMaxBytes, decisionWait: DefaultDecisionWait, cacheSize: DefaultDecisionCacheSize},
		},
		{
			[]BufferOpt{MaxBytes(10), DecisionWait(time.Second), BaselineRate(2), LatencyThreshold(time.Second), DecisionCacheSize(5)},
			bufferConfig{maxBytes: 10, decisionWait: time.Second, baselineRate: 1, latency: time.Second, cacheSize: 5},
		},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			b := NewBuffer(tc.opts...)
			got := b.cfg
			if got.slabs == nil || got.slabs.max != DefaultSlabPoolBytes/slabSize {
				t.Fatalf("slab pool %+v, want a pool of its own of DefaultSlabPoolBytes", got.slabs)
			}
			got.logger, got.slabs = nil, nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("config %+v, want %+v", got, tc.want)
			}
			if w := b.DecisionWait(); w != tc.want.decisionWait {
				t.Fatalf("DecisionWait() = %v, want %v", w, tc.want.decisionWait)
			}
		})
	}
}

// TestBufferConcurrent drives one buffer from several goroutines (run it with
// -race): no chunk is ever exported twice, the byte bound holds, and in the
// end every trace has left the buffer.
func TestBufferConcurrent(t *testing.T) {
	const (
		adders   = 4
		perAdder = 20_000
		maxBytes = 256 << 10
	)
	var (
		mu   sync.Mutex
		seen = map[uint64]bool{}
		dup  = -1
	)
	b := NewBuffer(MaxBytes(maxBytes), DecisionWait(time.Millisecond), BaselineRate(0.1),
		OnKeep(func(k Kept) {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range k.Chunks {
				n := binary.BigEndian.Uint64(c)
				if seen[n] {
					dup = int(n)
				}
				seen[n] = true
			}
		}))
	id := func(n uint64) sample.TraceID {
		var id sample.TraceID
		binary.BigEndian.PutUint64(id[:8], n/3+1) // Three chunks per trace.
		binary.BigEndian.PutUint64(id[8:], (n/3)*0x9e3779b97f4a7c15)
		return id
	}
	var wg sync.WaitGroup
	for a := range adders {
		wg.Go(func() {
			chunk := make([]byte, 200)
			for i := range perAdder {
				n := uint64(i*adders + a)
				binary.BigEndian.PutUint64(chunk, n)
				b.Add(id(n), int32(a), -1, "otlp_proto", chunk, 1, n%997 == 0, 0, sbT0.Add(time.Duration(i)*time.Microsecond))
				if st := b.Stats(); st.Bytes > maxBytes {
					t.Errorf("buffer holds %d bytes, above %d", st.Bytes, maxBytes)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range perAdder {
			b.Keep(id(uint64(i*adders*5)), KeepExemplar, sbT0.Add(time.Duration(i)*time.Microsecond))
		}
	})
	wg.Go(func() {
		for i := range perAdder / 100 {
			b.Tick(sbT0.Add(time.Duration(i*100) * time.Microsecond))
		}
	})
	wg.Wait()
	b.Tick(sbT0.Add(time.Hour))
	if st := b.Stats(); st.Traces != 0 || st.Bytes != 0 || st.Spans != 0 {
		t.Fatalf("after the last expiry: %+v, want empty", st)
	}
	if dup >= 0 || len(seen) == 0 {
		t.Fatalf("%d chunks exported, chunk %d twice", len(seen), dup)
	}
}
