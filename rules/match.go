package rules

import (
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
)

// Match is what the rules say about one input series.
type Match struct {
	// Drop is the name of the first drop rule that matched, or "". A dropped
	// series feeds nothing: Outputs is empty and KeepOriginal false.
	Drop string
	// Outputs are the rollup and mapping rules that matched, in rule order.
	Outputs []Output
	// KeepOriginal reports whether the input series is also written as it
	// came in: true when no rule matched it, or when a matching rollup says
	// keep_original. A mapping rule replaces the raw series by its policies.
	KeepOriginal bool
	// DropOverQuota is the name of the first drop rule with only_over_quota
	// that matched, or "": the series is dropped while its quota pool, or
	// its tenant outside every pool, is over its share (plan's limits
	// decide). Outputs are as if it had not matched.
	DropOverQuota string
}

// Output is one series a matching rollup or mapping rule feeds.
type Output struct {
	// Rule is the rule's name.
	Rule string
	// Fingerprint hashes the rule's definition: it changes iff the rule does,
	// so state kept per rule survives a reload that leaves the rule alone.
	Fingerprint uint64
	// Name is the output base name: a rollup's output, a mapping's input name.
	// The series each aggregation writes are named by aggregator.Aggregation.SeriesName.
	Name string
	// Labels are the output series labels with __name__ = Name: for a rollup
	// the input labels regrouped by its by or without clause, for a mapping
	// the input labels unchanged.
	Labels labels.Labels
	// Aggregations are the rollup's, in canonical order; nil for a mapping
	// rule, whose aggregation the aggregator picks by the point's kind.
	Aggregations []aggregator.Aggregation
	// Buckets are the rollup's explicit bucket bounds for single values
	// (see aggregator.Target.Bounds), ascending; shared, not to be modified.
	Buckets []float64
	// Policies are sorted by resolution.
	Policies []StoragePolicy
	// Priority: over a tenant's limit, lower priorities are shed first.
	Priority int
	// KeepOriginal is a rollup's keep_original: the input series is also
	// written as it came in, at this rule's Policies.
	KeepOriginal bool
	// KeepName is a rollup's keep_metric_names: Name is the input series'
	// own, and its one aggregation writes that name without a suffix
	// (aggregator.KeptSpecs).
	KeepName bool
	// MaxSeries is a rollup's max_series: in each window, the output series
	// beyond it fold into one overflow series (aggregator.SeriesLimit); 0
	// for none.
	MaxSeries int
}

// Match returns what the rules say about the input series lset. It does not
// allocate when no rule matches. The Aggregations and Policies of the
// returned Outputs are shared with the Set and must not be modified.
func (s *Set) Match(lset labels.Labels) Match {
	name := lset.Get(model.MetricNameLabel)
	if r := s.drops.first(name, lset); r != nil {
		return Match{Drop: r.name}
	}
	var m Match
	var c candidates
	s.xforms.candidates(name, &c)
	for r := c.next(); r != nil; r = c.next() {
		if !r.matches(name, lset) {
			continue
		}
		m.KeepOriginal = m.KeepOriginal || r.keepOriginal
		m.Outputs = append(m.Outputs, r.makeOutput(name, lset))
	}
	if len(m.Outputs) == 0 {
		m.KeepOriginal = true
	}
	if r := s.quotaDrops.first(name, lset); r != nil {
		m.DropOverQuota = r.name
	}
	return m
}

func (r *rule) makeOutput(name string, lset labels.Labels) Output {
	o := Output{
		Rule:         r.name,
		Fingerprint:  r.fp,
		Aggregations: r.aggs,
		Buckets:      r.buckets,
		Policies:     r.policies,
		Priority:     r.priority,
		KeepOriginal: r.keepOriginal,
		KeepName:     r.keepMetricNames,
		MaxSeries:    r.maxSeries,
	}
	if r.kind == MappingRule {
		o.Name, o.Labels = name, lset
		return o
	}
	o.Name = r.output
	if r.keepMetricNames {
		o.Name = name
	}
	o.Labels = r.regroup(lset, o.Name)
	return o
}

// regroup builds a rollup's output labels, named output, from the input
// labels.
func (r *rule) regroup(lset labels.Labels, output string) labels.Labels {
	// A stack buffer, so that the only allocation is the Labels themselves
	// (for series of up to 16 labels).
	var buf [16]labels.Label
	ls := buf[:0]
	if !r.grouping.Without {
		for _, n := range r.keepNames {
			if n == model.MetricNameLabel {
				ls = append(ls, labels.Label{Name: n, Value: output})
			} else if v := lset.Get(n); v != "" {
				ls = append(ls, labels.Label{Name: n, Value: v})
			}
		}
		return labels.New(ls...)
	}
	named := false
	lset.Range(func(l labels.Label) {
		switch {
		case l.Name == model.MetricNameLabel:
			ls = append(ls, labels.Label{Name: l.Name, Value: output})
			named = true
		case !slices.Contains(r.grouping.Labels, l.Name):
			ls = append(ls, l)
		}
	})
	if !named {
		ls = append(ls, labels.Label{Name: model.MetricNameLabel, Value: output})
	}
	return labels.New(ls...)
}
