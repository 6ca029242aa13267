package aggregator

import (
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// Spec is one output series of a Target.
type Spec struct {
	Agg Agg
	Q   float64 // Quantile only.
	// Labels of the output series, __name__ included. When empty, the
	// series is named by its Target's Labels with __name__ set to Name and,
	// for a Quantile, QuantileLabel set to Q: a target's six series then
	// cost one label set, not six, for as long as its windows are open.
	// For Buckets the le label is added at emit time.
	Labels labels.Labels
	Name   string
	// Cumulative marks a running total: the window's value is an increase
	// that stage 2 adds to the series' total of the windows before (see
	// Series.Cumulative).
	Cumulative bool
}

// SeriesLabels returns the labels of the output series s of t.
func (t *Target) SeriesLabels(s *Spec) labels.Labels {
	if !s.Labels.IsEmpty() {
		return s.Labels
	}
	b := labels.NewScratchBuilder(t.seriesLabelCount(s))
	t.eachSeriesLabel(s, func(name, value string) { b.Add(name, value) })
	return b.Labels() // eachSeriesLabel goes in name order: no Sort.
}

// seriesLabel returns the labels Specs without Labels set on their Target's
// Labels, in name order (__name__ sorts before quantile).
func seriesLabel(s *Spec) ([2]labels.Label, int) {
	set := [2]labels.Label{{Name: model.MetricNameLabel, Value: s.Name}, {Name: QuantileLabel}}
	if s.Agg != Quantile {
		return set, 1
	}
	set[1].Value = FormatQuantile(s.Q)
	return set, 2
}

// seriesLabelCount returns SeriesLabels(s).Len() without building the set.
func (t *Target) seriesLabelCount(s *Spec) int {
	if !s.Labels.IsEmpty() {
		return s.Labels.Len()
	}
	set, nset := seriesLabel(s)
	n := t.Labels.Len() + nset
	for _, l := range set[:nset] {
		if t.Labels.Has(l.Name) {
			n--
		}
	}
	return n
}

// eachSeriesLabel calls fn for each label of SeriesLabels(s), in order,
// without building the set.
func (t *Target) eachSeriesLabel(s *Spec, fn func(name, value string)) {
	if !s.Labels.IsEmpty() {
		s.Labels.Range(func(l labels.Label) { fn(l.Name, l.Value) })
		return
	}
	set, nset := seriesLabel(s)
	next := 0
	t.Labels.Range(func(l labels.Label) {
		for next < nset && set[next].Name < l.Name {
			fn(set[next].Name, set[next].Value)
			next++
		}
		if next < nset && set[next].Name == l.Name {
			fn(set[next].Name, set[next].Value)
			next++
			return
		}
		fn(l.Name, l.Value)
	})
	for ; next < nset; next++ {
		fn(set[next].Name, set[next].Value)
	}
}

// Target is one output of a rule for one input series: the output series it
// feeds, at one resolution. Targets are built by the caller (the rules decide
// them) and are immutable once handed to a Partition.
type Target struct {
	// Key identifies the window state: equal keys share state. It must cover
	// the output labels, the resolution and the rule's definition, so that a
	// changed rule starts from fresh windows.
	Key uint64
	// Resolution is the window length in milliseconds.
	Resolution int64
	// Labels name the Specs that have no Labels of their own.
	Labels labels.Labels
	// Route is an opaque tag copied onto every emitted Series, used to route
	// output to a sink (for example a storage policy "10s:2d").
	Route string
	Specs []Spec
	// Bounds are the upper bounds of the explicit buckets its Buckets and
	// Histogram outputs count single values in (observations: spans;
	// gauges; deltas), ascending, +Inf implied. Without them only explicit
	// histogram points fill buckets. Part of the window state: targets of
	// one Key have the same Bounds.
	Bounds []float64
	// Limits bound the series of the target's rule and tenant: beyond one,
	// points go to Overflow, which has no limits (see SeriesLimit).
	Limits   []*SeriesLimit
	Overflow *Target
	// needs is derived from Specs by Init.
	needs needs
}

// needs is the window state a target's outputs read: the shared state
// (dist: a sketch, buckets: explicit buckets, scalar: min, max and last) and
// the outputs with an extra state of their own, in Spec order.
type needs struct {
	dist    bool
	buckets bool
	scalar  bool
	extra   []Agg
}

// Init derives the state a target's windows need. Call it once after filling
// Specs.
func (t *Target) Init() {
	t.needs = needs{}
	for _, s := range t.Specs {
		if e, ok := entryOf(s.Agg); ok {
			n := e.needs
			t.needs.dist = t.needs.dist || n.dist
			t.needs.buckets = t.needs.buckets || n.buckets
			t.needs.scalar = t.needs.scalar || n.scalar
			if newExtra(s.Agg) != nil && !slices.Contains(t.needs.extra, s.Agg) {
				t.needs.extra = append(t.needs.extra, s.Agg)
			}
		}
	}
}
