package cardinality

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/axiomhq/hyperloglog"
)

// View merges published profiles: of every partition of every process, one
// record each. It is not safe for concurrent use; build one per query.
type View struct {
	metrics map[metricKey]*Metric
}

// NewView returns an empty view.
func NewView() *View { return &View{metrics: map[metricKey]*Metric{}} }

// Add merges a profile in: sketches are united, samples added, and the time
// covered is the widest. A sketch of a precision the others do not have is
// left out.
func (v *View) Add(m *Metric) {
	k := metricKey{m.Tenant, m.Name}
	have := v.metrics[k]
	if have == nil {
		have = &Metric{Tenant: m.Tenant, Name: m.Name, Start: m.Start, End: m.End, Series: newSketch(seriesPrecision), Outputs: newSketch(seriesPrecision), Labels: map[string]*Label{}}
		v.metrics[k] = have
	}
	have.Start, have.End = min(have.Start, m.Start), max(have.End, m.End)
	// Partitions are profiled side by side: their rates add up, each over
	// its own span.
	have.Samples += m.Samples
	_ = have.Series.Merge(m.Series)
	_ = have.Outputs.Merge(m.Outputs)
	for name, l := range m.Labels {
		hl := have.Labels[name]
		if hl == nil {
			hl = &Label{Values: newSketch(labelPrecision), Top: NewTopK(l.Top.K())}
			have.Labels[name] = hl
		}
		_ = hl.Values.Merge(l.Values)
		hl.Top.Merge(l.Top)
	}
}

// MetricSummary is one metric of a tenant, merged.
type MetricSummary struct {
	Tenant           string  `json:"tenant"`
	Metric           string  `json:"metric"`
	Series           uint64  `json:"series"`
	SamplesPerSecond float64 `json:"samplesPerSecond"`
	OutputSeries     uint64  `json:"outputSeries"`
	Labels           int     `json:"labels"`
}

// LabelSummary is one label of a metric.
type LabelSummary struct {
	Label    string     `json:"label"`
	Distinct uint64     `json:"distinctValues"`
	Top      []TopValue `json:"topValues"`
}

// TopValue is a frequent value of a label: Series counts the series that
// carry it (overestimated by at most Err), Share is Series over the
// metric's series.
type TopValue struct {
	Value  string  `json:"value"`
	Series uint64  `json:"series"`
	Err    uint64  `json:"maxError"`
	Share  float64 `json:"share"`
}

// Metrics summarizes the metrics of tenant ("" for every tenant's), most
// series first, or most samples per second first when bySamples.
func (v *View) Metrics(tenant string, all, bySamples bool) []MetricSummary {
	var out []MetricSummary
	for k, m := range v.metrics {
		if !all && k.tenant != tenant {
			continue
		}
		out = append(out, MetricSummary{Tenant: k.tenant, Metric: k.name, Series: m.Series.Estimate(), SamplesPerSecond: m.SamplesPerSecond(),
			OutputSeries: m.Outputs.Estimate(), Labels: len(m.Labels)})
	}
	slices.SortFunc(out, func(a, b MetricSummary) int {
		if bySamples {
			if c := cmp.Compare(b.SamplesPerSecond, a.SamplesPerSecond); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(b.Series, a.Series), cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Metric, b.Metric))
	})
	return out
}

// Metric returns a metric of a tenant, nil when no profile has it.
func (v *View) Metric(tenant, metric string) *Metric { return v.metrics[metricKey{tenant, metric}] }

// Labels summarizes the labels of m, most distinct values first; each with
// up to top values (all kept when top ≤ 0).
func Labels(m *Metric, top int) []LabelSummary {
	series := max(m.Series.Estimate(), 1)
	out := make([]LabelSummary, 0, len(m.Labels))
	for name, l := range m.Labels {
		out = append(out, labelSummary(name, l, series, top))
	}
	slices.SortFunc(out, func(a, b LabelSummary) int {
		return cmp.Or(cmp.Compare(b.Distinct, a.Distinct), cmp.Compare(a.Label, b.Label))
	})
	return out
}

func labelSummary(name string, l *Label, series uint64, top int) LabelSummary {
	s := LabelSummary{Label: name, Distinct: l.Values.Estimate()}
	items := l.Top.Top()
	if top > 0 && len(items) > top {
		items = items[:top]
	}
	for _, it := range items {
		s.Top = append(s.Top, TopValue{Value: it.Value, Series: it.Count, Err: it.Err, Share: min(float64(it.Count)/float64(series), 1)})
	}
	return s
}

// NameValue is an entry of Prometheus' TSDB status lists.
type NameValue struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

// TSDBStatus is the data of Prometheus' /api/v1/status/tsdb.
type TSDBStatus struct {
	HeadStats                   HeadStats   `json:"headStats"`
	SeriesCountByMetricName     []NameValue `json:"seriesCountByMetricName"`
	LabelValueCountByLabelName  []NameValue `json:"labelValueCountByLabelName"`
	MemoryInBytesByLabelName    []NameValue `json:"memoryInBytesByLabelName"`
	SeriesCountByLabelValuePair []NameValue `json:"seriesCountByLabelValuePair"`
}

// HeadStats is Prometheus' head block summary: here the active input
// series, their distinct label pairs (estimated from the label sketches),
// and the time the profiles cover. weir keeps no chunks.
type HeadStats struct {
	NumSeries     uint64 `json:"numSeries"`
	NumLabelPairs uint64 `json:"numLabelPairs"`
	ChunkCount    uint64 `json:"chunkCount"`
	MinTime       int64  `json:"minTime"`
	MaxTime       int64  `json:"maxTime"`
}

// TSDB returns the figures of tenant's metrics (every tenant's when all) in
// Prometheus' TSDB status shape, each list cut to limit entries.
// memoryInBytesByLabelName estimates each label's index size as its distinct
// values times the mean length of its top values.
func (v *View) TSDB(tenant string, all bool, limit int) TSDBStatus {
	var st TSDBStatus
	series := newSketch(seriesPrecision)
	values := map[string]*hyperloglog.Sketch{}
	lengths := map[string][2]uint64{} // label → (bytes, values) of top values
	pairs := map[string]uint64{}
	first := true
	for k, m := range v.metrics {
		if !all && k.tenant != tenant {
			continue
		}
		_ = series.Merge(m.Series)
		if first || m.Start < st.HeadStats.MinTime {
			st.HeadStats.MinTime = m.Start
		}
		if first || m.End > st.HeadStats.MaxTime {
			st.HeadStats.MaxTime = m.End
		}
		first = false
		st.SeriesCountByMetricName = append(st.SeriesCountByMetricName, NameValue{k.name, m.Series.Estimate()})
		for name, l := range m.Labels {
			s := values[name]
			if s == nil {
				s = newSketch(labelPrecision)
				values[name] = s
			}
			_ = s.Merge(l.Values)
			for _, it := range l.Top.items {
				pairs[name+"="+it.Value] += it.Count
				n := lengths[name]
				lengths[name] = [2]uint64{n[0] + uint64(len(it.Value)), n[1] + 1}
			}
		}
	}
	st.HeadStats.NumSeries = series.Estimate()
	for _, name := range slices.Sorted(maps.Keys(values)) {
		d := values[name].Estimate()
		st.HeadStats.NumLabelPairs += d
		st.LabelValueCountByLabelName = append(st.LabelValueCountByLabelName, NameValue{name, d})
		mean := uint64(0)
		if n := lengths[name]; n[1] > 0 {
			mean = n[0] / n[1]
		}
		st.MemoryInBytesByLabelName = append(st.MemoryInBytesByLabelName, NameValue{name, d * mean})
	}
	for p, n := range pairs {
		st.SeriesCountByLabelValuePair = append(st.SeriesCountByLabelValuePair, NameValue{p, n})
	}
	for _, l := range []*[]NameValue{&st.SeriesCountByMetricName, &st.LabelValueCountByLabelName, &st.MemoryInBytesByLabelName, &st.SeriesCountByLabelValuePair} {
		slices.SortFunc(*l, func(a, b NameValue) int {
			return cmp.Or(cmp.Compare(b.Value, a.Value), strings.Compare(a.Name, b.Name))
		})
		if limit > 0 && len(*l) > limit {
			*l = (*l)[:limit]
		}
		if *l == nil {
			*l = []NameValue{}
		}
	}
	return st
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
