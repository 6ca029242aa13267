package main

import (
	"fmt"
	"hash/maphash"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// weirAgg is the rules → aggregator half of internal/pipeline, rebuilt from
// weir's public packages (the bench module cannot import internal ones): the
// rules are matched once per input series, the outcome cached by the series'
// label hash, and each point folded into every target of its series. Only
// rollups with explicit aggregations are wired (the rules used here).
type weirAgg struct {
	rules   *rules.Set
	agg     *aggregator.Aggregator
	part    *aggregator.Partition
	seed    maphash.Seed
	cache   map[uint64][]*match
	targets map[uint64]*aggregator.Target
	now     time.Time
	dropped int
}

type match struct {
	lset    labels.Labels
	targets []*aggregator.Target
	owner   *weirAgg
}

func newWeirAgg(rs *rules.Set, now time.Time, opts ...aggregator.Opt) (*weirAgg, error) {
	agg, err := aggregator.New(append([]aggregator.Opt{aggregator.MaxFuture(100 * 365 * 24 * time.Hour)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &weirAgg{
		rules:   rs,
		agg:     agg,
		part:    agg.Partition(0, now),
		seed:    maphash.MakeSeed(),
		cache:   map[uint64][]*match{},
		targets: map[uint64]*aggregator.Target{},
		now:     now,
	}, nil
}

func (w *weirAgg) add(pt *sample.Point) {
	m := w.lookup(pt)
	for _, t := range m.targets {
		if w.part.Add(pt, t, w.now) != "" {
			w.dropped++
		}
	}
}

func (w *weirAgg) lookup(pt *sample.Point) *match {
	if s := pt.Series; s != nil {
		if m, ok := s.State.(*match); ok && m.owner == w {
			return m
		}
	}
	m := w.lookupLabels(pt)
	if pt.Series != nil {
		pt.Series.State = m
	}
	return m
}

// lookupLabels is lookup by the point's labels: the pipeline's match cache.
func (w *weirAgg) lookupLabels(pt *sample.Point) *match {
	h := pt.Hash
	if h == 0 {
		h = pt.Labels.Hash()
	}
	for _, m := range w.cache[h] {
		if labels.Equal(m.lset, pt.Labels) {
			return m
		}
	}
	m := &match{lset: pt.Labels, owner: w}
	for _, out := range w.rules.Match(pt.Labels).Outputs {
		specs := specsFor(out)
		for _, pol := range out.Policies {
			key := targetKey(w.seed, out.Labels, pol.Resolution.Milliseconds(), out.Fingerprint)
			t := w.targets[key]
			if t == nil {
				t = &aggregator.Target{Key: key, Resolution: pol.Resolution.Milliseconds(), Labels: out.Labels, Route: pol.String(), Specs: specs}
				t.Init()
				w.targets[key] = t
			}
			m.targets = append(m.targets, t)
		}
	}
	w.cache[h] = append(w.cache[h], m)
	return m
}

// flush closes every window and returns how many series it emitted and the
// sum of the _count outputs; keep is called with every exemplar's trace.
func (w *weirAgg) flush(keep func(sample.TraceID)) (series int, count float64) {
	w.agg.Flush(w.now, func(s aggregator.Series) {
		series++
		if s.Labels.Get("__name__") != "" && isCount(s.Labels) {
			count += s.V
		}
		if keep != nil && s.Exemplar.Valid() {
			keep(s.Exemplar.TraceID)
		}
	})
	return series, count
}

func isCount(ls labels.Labels) bool {
	n := ls.Get("__name__")
	return len(n) > 6 && n[len(n)-6:] == "_count"
}

func targetKey(seed maphash.Seed, lset labels.Labels, res int64, fp uint64) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	lset.Range(func(l labels.Label) {
		h.WriteString(l.Name)
		h.WriteByte(0)
		h.WriteString(l.Value)
		h.WriteByte(0)
	})
	var b [16]byte
	for i := range 8 {
		b[i] = byte(uint64(res) >> (8 * i))
		b[8+i] = byte(fp >> (8 * i))
	}
	h.Write(b[:])
	return h.Sum64()
}

// specsFor names a rollup's output series as the aggregator does.
func specsFor(out rules.Output) []aggregator.Spec {
	if out.Aggregations == nil {
		panic(fmt.Sprintf("bench: rule %q has no aggregations: mapping rules are not wired here", out.Rule))
	}
	return aggregator.Specs(out.Labels.Get("__name__"), out.Aggregations)
}

// weirSpans is weir's span path of internal/pipeline.HandleTraces (its
// otlp_proto branch, handleProtoTraces): the fast decoder derives the RED
// series' points straight from the record bytes and folds them, then the
// record goes to the tail-sampling buffer, as it is when it holds one trace,
// decoded by pdata and split when it holds several.
type weirSpans struct {
	*weirAgg
	conv   *ingest.SpanConverter
	buf    *tailsampling.Buffer
	traces []spanTrace // Scratch: the record's traces.
	kept   int         // traces kept (errors, exemplars, baseline)
	offset int64       // the record's offset in its (one) partition
	// noBuffer leaves the tail-sampling buffer out, for the stage
	// breakdown: the path then ends at the aggregator.
	noBuffer bool
}

type spanTrace struct {
	id     sample.TraceID
	spans  int
	hasErr bool
	maxDur time.Duration
}

func newWeirSpans(now time.Time, slabs *tailsampling.SlabPool) (*weirSpans, error) {
	a, err := newWeirAgg(rules.Default(), now)
	if err != nil {
		return nil, err
	}
	w := &weirSpans{weirAgg: a, conv: ingest.NewSpanConverter()}
	// The pipeline releases a kept trace's chunks once it has decoded them
	// for export (internal/pipeline drainTraces); here they are only counted.
	w.buf = tailsampling.NewBuffer(tailsampling.Slabs(slabs), tailsampling.OnKeep(func(k tailsampling.Kept) {
		w.kept++
		k.Release()
	}))
	return w, nil
}

func (w *weirSpans) addTrace(id sample.TraceID, spans int, hasErr bool, maxDur time.Duration) {
	w.traces = append(w.traces, spanTrace{id, spans, hasErr, maxDur})
}

func (w *weirSpans) record(rec []byte) error {
	w.traces = w.traces[:0]
	w.offset++
	if err := w.conv.ConvertProto(rec, 0, "", w.add, w.addTrace); err != nil {
		return err
	}
	if w.noBuffer {
		return nil
	}
	enc := string(ingest.EncodingProto)
	switch len(w.traces) {
	case 0:
		return nil
	case 1:
		t := w.traces[0]
		w.buf.Add(t.id, 0, w.offset, enc, rec, t.spans, t.hasErr, t.maxDur, w.now)
		return nil
	}
	td, err := ingest.DecodeTraces(ingest.EncodingProto, rec)
	if err != nil {
		return err
	}
	return ingest.ForEachTrace(ingest.EncodingProto, rec, td, func(id sample.TraceID, raw []byte, spans int, hasError bool) {
		var maxDur time.Duration
		for _, t := range w.traces {
			if t.id == id {
				maxDur = t.maxDur
				break
			}
		}
		w.buf.Add(id, 0, w.offset, enc, raw, spans, hasError, maxDur, w.now)
	})
}

// finish closes every window, keeps the traces their exemplars name, and
// decides every other buffered trace as if its decision wait had passed: the
// work the collector's tail sampling does at Shutdown.
func (w *weirSpans) finish() (series int, count float64) {
	series, count = w.flush(func(id sample.TraceID) { w.buf.Keep(id, tailsampling.KeepExemplar, w.now) })
	w.buf.Tick(w.now.Add(tailsampling.DefaultDecisionWait + time.Second))
	return series, count
}
