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
	return [...]string{"sum", "count", "min", "max", "last", "mean", "rate", "increase", "q", "bucket", "stddev"}[s.Agg]
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
