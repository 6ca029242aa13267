package aggregator

import (
	"math"
	"strconv"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

// This file is the one place that names the series of outputs.

// QuantileLabel is the label of a quantile series (the Prometheus summary
// convention); its value is FormatQuantile of the spec's Q.
const QuantileLabel = "quantile"

// FormatQuantile formats a quantile as QuantileLabel carries it ("0.99").
func FormatQuantile(q float64) string {
	if math.IsNaN(q) {
		return "NaN"
	}
	return strconv.FormatFloat(q, 'f', -1, 64)
}

// SeriesName returns the name of the series the aggregation writes for the
// output base name: base for a quantile (told apart by QuantileLabel),
// base+"_bucket" for buckets and histograms (which also write base+"_sum"
// and base+"_count"), base plus the aggregation's suffix otherwise ("_max",
// "_total"). A rollup that keeps the input's name writes base itself (see
// KeptName).
func (a Aggregation) SeriesName(base string) string {
	if e, ok := entryOf(a.Agg); ok {
		return base + e.suffix
	}
	return base + "_" + a.Agg.String()
}

// SeriesLabels returns the labels of the series that aggregation a writes for
// an output whose labels are base: __name__ is a.SeriesName of base's name and,
// for a quantile, QuantileLabel is set to the quantile. For Buckets it returns
// the "_bucket" series without the le label, which each bucket's series adds.
func SeriesLabels(base labels.Labels, a Aggregation) labels.Labels {
	b := labels.NewBuilder(base)
	b.Set(model.MetricNameLabel, a.SeriesName(base.Get(model.MetricNameLabel)))
	if a.Agg == Quantile {
		b.Set(QuantileLabel, FormatQuantile(a.Q))
	}
	return b.Labels()
}

// SeriesNames returns every series name a rollup with this output name and
// these aggregations can write, the base name included even when no
// aggregation writes it, so that two rules with the same output name always
// collide.
func SeriesNames(base string, aggs []Aggregation) []string {
	names := []string{base}
	add := func(n string) {
		for _, m := range names {
			if m == n {
				return
			}
		}
		names = append(names, n)
	}
	for _, a := range aggs {
		add(a.SeriesName(base))
		if a.Agg == Buckets || a.Agg == Histogram {
			add(Aggregation{Agg: Sum}.SeriesName(base))
			add(Aggregation{Agg: Count}.SeriesName(base))
		}
	}
	return names
}

// defaultQuantiles are the percentiles of a distribution passing through
// under its own name (DefaultSpecs).
var defaultQuantiles = [...]float64{0.5, 0.9, 0.99, 0.999}

// Specs returns the output series of a rollup whose output is named base
// and computes aggs: one Spec per distinct series, Buckets bringing its
// _sum and _count series.
func Specs(base string, aggs []Aggregation) []Spec {
	var specs []Spec
	type seriesKey struct {
		name     string
		quantile bool
		q        float64
	}
	seen := map[seriesKey]bool{}
	add := func(a Aggregation, cumulative bool) {
		s := Spec{Agg: a.Agg, Q: a.Q, Name: a.SeriesName(base), Cumulative: cumulative || a.Cumulative()}
		k := seriesKey{name: s.Name}
		if s.Agg == Quantile {
			k.quantile, k.q = true, s.Q
		}
		if !seen[k] {
			seen[k] = true
			specs = append(specs, s)
		}
	}
	for _, a := range aggs {
		add(a, false)
		if a.Agg == Buckets || a.Agg == Histogram {
			add(Aggregation{Agg: Sum}, a.Agg == Histogram)
			add(Aggregation{Agg: Count}, a.Agg == Histogram)
		}
	}
	return specs
}

// DefaultSpecs returns the output series of an input series passing through
// under its own name base (a mapping rule, or a series no rule matches),
// aggregated by its kind: a gauge keeps its last value, a counter its
// increase, an explicit histogram its buckets, and other distributions
// become summaries (quantiles, _sum and _count).
func DefaultSpecs(base string, kind sample.Kind) []Spec {
	switch kind {
	case sample.Gauge:
		return []Spec{{Agg: Last, Name: base}}
	case sample.Delta:
		return []Spec{{Agg: Increase, Name: base}}
	case sample.Histogram:
		return Specs(base, []Aggregation{{Agg: Buckets}})
	}
	aggs := []Aggregation{{Agg: Sum}, {Agg: Count}}
	for _, q := range defaultQuantiles {
		aggs = append(aggs, Aggregation{Agg: Quantile, Q: q})
	}
	return Specs(base, aggs)
}

// KeptSpecs returns the output series of a rollup that keeps its input's
// name base (keep_metric_names) and computes the one aggregation a: its
// series is named base itself, so that queries and dashboards written for
// the input find it; a histogram's and buckets' series are base's _bucket,
// _sum and _count, as the input's own are named.
func KeptSpecs(base string, a Aggregation) []Spec {
	switch a.Agg {
	case Buckets, Histogram:
		return Specs(base, []Aggregation{a})
	}
	return []Spec{{Agg: a.Agg, Q: a.Q, Name: base, Cumulative: a.Cumulative()}}
}
