package aggregator

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

var t0 = time.Unix(1_700_000_000, 0)

func newAgg(tb testing.TB, opts ...Opt) *Aggregator {
	tb.Helper()
	a, err := New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// target builds a 10s target named name with the given aggregations.
func target(name string, key uint64, specs ...Spec) *Target {
	t := &Target{Key: key, Resolution: 10_000, Route: "10s:2d"}
	for _, s := range specs {
		if s.Labels.IsEmpty() {
			s.Labels = labels.FromStrings(model.MetricNameLabel, name+"_"+aggName(s))
		}
		t.Specs = append(t.Specs, s)
	}
	t.Init()
	return t
}

func aggName(s Spec) string {
	return [...]string{"sum", "count", "min", "max", "last", "mean", "rate", "increase", "q", "bucket", "stddev", "total", "histogram"}[s.Agg]
}

func obs(ms int64, v float64, trace byte) *sample.Point {
	p := &sample.Point{Kind: sample.Observation, T: ms, V: v, Count: 1}
	if trace != 0 {
		p.Exemplar = sample.Exemplar{TraceID: sample.TraceID{trace}, SpanID: sample.SpanID{trace}, Value: v, T: ms}
	}
	return p
}

// collect runs fn and returns what it emitted keyed by series.
func collect(fn func(emit func(Series))) map[string]Series {
	out := map[string]Series{}
	fn(func(s Series) { out[s.Labels.String()] = s })
	return out
}

// local is the single-process reference of the two stages for these tests:
// the partitions of one Aggregator hand on to one Merger in-process, every
// partition's watermark heard at every tick.
type local struct {
	a *Aggregator
	m *Merger
}

func newLocal(a *Aggregator) *local { return &local{a: a, m: a.NewMerger()} }

// tick advances every partition's watermark, merges what they hand on and
// emits the windows that closed.
func (l *local) tick(now time.Time, emit func(Series)) {
	for id, p := range l.a.parts {
		wm := p.Advance(now, func(pt Partial) { l.m.Merge(pt, -1) })
		l.m.Watermark(id, wm, now)
	}
	l.m.Close(now, emit)
}

// flush hands on and emits every open window regardless of watermarks.
func (l *local) flush(emit func(Series)) {
	for _, p := range l.a.parts {
		p.FlushAll(func(pt Partial) { l.m.Merge(pt, -1) })
	}
	for _, end := range l.m.ends {
		for _, k := range l.m.byEnd[end] {
			l.m.closeOne(l.m.open[k], "shutdown", emit)
			delete(l.m.open, k)
		}
		delete(l.m.byEnd, end)
	}
	l.m.ends = l.m.ends[:0]
}

// flushAll is newLocal(a).flush: every open window of a, emitted.
func flushAll(a *Aggregator, emit func(Series)) { newLocal(a).flush(emit) }
