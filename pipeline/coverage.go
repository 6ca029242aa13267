package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/weirdev/weir/aggregator"
)

// coverage counts the samples whose exemplar coverage weir reports (see
// aggregator.Series.Source): per output series name, quantile and source,
// those that carry an exemplar, those that could and do not, and those that
// never can (a summary's quantiles). Its labels name rule outputs, never
// series: their number is bounded by the rules.
type coverage struct {
	vec *prometheus.CounterVec
	// by caches the counters of one name, quantile and source, in the
	// order of coverageStates.
	by map[coverageKey]*[3]prometheus.Counter
}

type coverageKey struct {
	name, quantile string
	src            aggregator.Source
}

// The exemplar label's values.
var coverageStates = [3]string{"attached", "missing", "impossible"}

func newCoverage() *coverage {
	return &coverage{
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_exemplar_coverage_points_total",
			Help: "Percentile samples (and histogram buckets that observations landed in) written, per output series name, quantile and source of their window's points (spans, exponential_histogram, explicit_histogram, summary, gauge, mixed), by whether they carry an exemplar: attached, missing, or impossible (summaries carry none).",
		}, []string{"output", "quantile", "source", "exemplar"}),
		by: map[coverageKey]*[3]prometheus.Counter{},
	}
}

func (c *coverage) count(ser *aggregator.Series) {
	if ser.Source == aggregator.SourceNone {
		return
	}
	k := coverageKey{name: ser.Labels.Get(model.MetricNameLabel), quantile: ser.Labels.Get(aggregator.QuantileLabel), src: ser.Source}
	cs := c.by[k]
	if cs == nil {
		cs = &[3]prometheus.Counter{}
		for i, st := range coverageStates {
			cs[i] = c.vec.WithLabelValues(k.name, k.quantile, k.src.String(), st)
		}
		c.by[k] = cs
	}
	switch {
	case ser.Exemplar.Valid():
		cs[0].Inc()
	case ser.Source.ExemplarsPossible():
		cs[1].Inc()
	default:
		cs[2].Inc()
	}
}
