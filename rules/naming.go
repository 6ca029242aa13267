package rules

import (
	"strconv"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// This file is the one place that decides how rollup outputs are named; see
// the package documentation for the table.

const (
	// QuantileLabel carries the quantile of a percentile series, as in a
	// Prometheus summary.
	QuantileLabel = "quantile"
	// BucketLabel carries the upper bound of a histogram bucket series.
	BucketLabel = "le"
)

var aggSuffix = [...]string{
	Sum:      "_sum",
	Count:    "_count",
	Min:      "_min",
	Max:      "_max",
	Last:     "_last",
	Mean:     "_mean",
	Rate:     "_rate",
	Increase: "_increase",
	Quantile: "",
	Buckets:  "_bucket",
}

// SeriesName returns the name of the series the aggregation writes for the
// output base name: base for a quantile (told apart by QuantileLabel),
// base+"_bucket" for buckets (which also write base+"_sum" and base+"_count"),
// base+"_"+kind otherwise.
func (a Aggregation) SeriesName(base string) string {
	if int(a.Kind) < len(aggSuffix) {
		return base + aggSuffix[a.Kind]
	}
	return base + "_" + a.Kind.String()
}

// SeriesLabels returns the labels of the series that aggregation a writes for
// an output whose labels are base: __name__ is a.SeriesName of base's name and,
// for a quantile, QuantileLabel is set to the quantile (strconv.FormatFloat(q,
// 'f', -1, 64), "0.99"). For Buckets it returns the "_bucket" series without
// BucketLabel: the aggregator adds le per bucket and writes the "_sum" and
// "_count" series with Aggregation{Kind: Sum} and {Kind: Count}.
func SeriesLabels(base labels.Labels, a Aggregation) labels.Labels {
	b := labels.NewBuilder(base)
	b.Set(model.MetricNameLabel, a.SeriesName(base.Get(model.MetricNameLabel)))
	if a.Kind == Quantile {
		b.Set(QuantileLabel, quantileValue(a.Q))
	}
	return b.Labels()
}

// quantileValue formats a quantile the way QuantileLabel carries it.
func quantileValue(q float64) string {
	return strconv.FormatFloat(q, 'f', -1, 64)
}

// seriesNames returns every series name a rollup with this output name and
// these aggregations can write, the base name included even when no
// aggregation writes it, so that two rules with the same output name always
// collide.
func seriesNames(base string, aggs []Aggregation) []string {
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
		if a.Kind == Buckets {
			add(Aggregation{Kind: Sum}.SeriesName(base))
			add(Aggregation{Kind: Count}.SeriesName(base))
		}
	}
	return names
}
