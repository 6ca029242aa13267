package rules

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
)

// RuleKind is the section of the rules file a rule comes from.
type RuleKind uint8

const (
	DropRule RuleKind = iota
	RollupRule
	MappingRule
)

func (k RuleKind) String() string {
	switch k {
	case DropRule:
		return "drop"
	case RollupRule:
		return "rollup"
	case MappingRule:
		return "mapping"
	}
	return "unknown"
}

// Grouping is the by or without clause of a rollup rule, as in PromQL. A rule
// with neither aggregates across all labels, like sum(x) with no by clause.
type Grouping struct {
	// Without is true for "without": keep every label except Labels. It is
	// false for "by": keep only Labels (none when Labels is empty).
	Without bool
	// Labels are sorted and distinct and never include __name__.
	Labels []string
}

// String returns "by (a, b)" or "without (c)".
func (g Grouping) String() string {
	kw := "by"
	if g.Without {
		kw = "without"
	}
	return kw + " (" + strings.Join(g.Labels, ", ") + ")"
}

// rule is one compiled rule. It is never modified once finish has run.
type rule struct {
	kind      RuleKind
	name      string
	seq       int // position among all rules of the set: the order of outputs
	pos       position
	namePos   position
	outputPos position

	selector     string // as written
	matchers     []*labels.Matcher
	output       string
	grouping     Grouping
	aggs         []aggregator.Aggregation
	buckets      []float64
	policies     []StoragePolicy
	keepOriginal bool
	// keepMetricNames: a rollup whose outputs keep each input series' name.
	keepMetricNames bool
	priority        int
	maxSeries       int // 0: no limit
	// onlyOverQuota: a drop rule that drops only while the series' quota
	// pool (or its tenant, outside every pool) is over its share.
	onlyOverQuota bool
	fp            uint64

	// rest are the matchers still to check once the index has selected the
	// rule by metric name; set by index.add.
	rest []*labels.Matcher
	// keepNames are the label names a "by" rollup keeps plus __name__, in
	// label order, so that output labels are built already sorted.
	keepNames []string
}

// finish puts the decoded rule in canonical form and fingerprints it.
func (r *rule) finish() {
	sortStrings(r.grouping.Labels)
	slices.SortFunc(r.aggs, aggregator.CompareAggregations)
	slices.SortFunc(r.policies, compareStoragePolicy)
	if r.kind == RollupRule && !r.grouping.Without {
		r.keepNames = append([]string{model.MetricNameLabel}, r.grouping.Labels...)
		sortStrings(r.keepNames)
	}
	r.rest = slices.Clone(r.matchers)
	orderMatchers(r.rest)
	r.fp = r.fingerprint()
}

// fingerprint hashes everything that defines what the rule does, in
// canonical form: reordering aggregations, policies, grouping labels or
// matchers, reformatting the YAML or moving the rule to another file leaves it
// unchanged; any change of meaning changes it. FNV-1a is stable across
// processes and releases, which matters because aggregator state may be keyed
// by it.
func (r *rule) fingerprint() uint64 {
	h := fnv.New64a()
	var buf []byte
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	num := func(v uint64) { buf = binary.AppendUvarint(buf, v) }

	num(uint64(r.kind))
	str(r.name)
	str(canonicalSelector(r.matchers))
	str(r.output)
	if r.kind == RollupRule {
		if r.grouping.Without {
			num(1)
		} else {
			num(0)
		}
		num(uint64(len(r.grouping.Labels)))
		for _, l := range r.grouping.Labels {
			str(l)
		}
	}
	num(uint64(len(r.aggs)))
	for _, a := range r.aggs {
		str(a.String())
	}
	num(uint64(len(r.buckets)))
	for _, b := range r.buckets {
		num(math.Float64bits(b))
	}
	num(uint64(len(r.policies)))
	for _, p := range r.policies {
		num(uint64(p.Resolution))
		num(uint64(p.Retention))
	}
	if r.keepOriginal {
		num(1)
	} else {
		num(0)
	}
	if r.keepMetricNames {
		num(1)
	} else {
		num(0)
	}
	num(uint64(int64(r.priority)))
	if r.onlyOverQuota { // only when set: the other rules' fingerprints stay those of before
		num(1)
	}
	h.Write(buf)
	return h.Sum64()
}

// matches checks the matchers the index has not already checked. name is
// lset's __name__, looked up once per Match rather than once per rule.
func (r *rule) matches(name string, lset labels.Labels) bool {
	for _, m := range r.rest {
		v := name
		if m.Name != model.MetricNameLabel {
			v = lset.Get(m.Name)
		}
		if !m.Matches(v) {
			return false
		}
	}
	return true
}

// orderMatchers puts the matchers most likely to reject a series cheaply
// first: the metric name (already at hand), then equalities, then the rest.
// The order does not change what the rule matches.
func orderMatchers(ms []*labels.Matcher) {
	rank := func(m *labels.Matcher) int {
		switch {
		case m.Name == model.MetricNameLabel:
			return 0
		case m.Type == labels.MatchEqual:
			return 1
		case m.Type == labels.MatchNotEqual:
			return 2
		}
		return 3
	}
	slices.SortStableFunc(ms, func(a, b *labels.Matcher) int { return rank(a) - rank(b) })
}

// RuleInfo describes one rule of a Set, for display and tests.
type RuleInfo struct {
	Kind RuleKind
	Name string
	// File, Line and Col locate the rule in its file.
	File      string
	Line, Col int
	// Match is the selector as written.
	Match string
	// Output, Grouping, Aggregations, KeepOriginal and KeepMetricNames are
	// set for rollups (Output is empty when KeepMetricNames is set).
	Output          string
	Grouping        Grouping
	Aggregations    []aggregator.Aggregation
	Buckets         []float64
	KeepMetricNames bool
	// Policies are set for rollup and mapping rules, sorted by resolution.
	Policies     []StoragePolicy
	KeepOriginal bool
	Priority     int
	// MaxSeries bounds a rollup's series per window (0: no limit).
	MaxSeries   int
	Fingerprint uint64
}

func (r *rule) info() RuleInfo {
	return RuleInfo{
		Kind:            r.kind,
		Name:            r.name,
		File:            r.pos.file,
		Line:            r.pos.line,
		Col:             r.pos.col,
		Match:           r.selector,
		Output:          r.output,
		Grouping:        Grouping{Without: r.grouping.Without, Labels: slices.Clone(r.grouping.Labels)},
		Aggregations:    slices.Clone(r.aggs),
		KeepMetricNames: r.keepMetricNames,
		Buckets:         slices.Clone(r.buckets),
		Policies:        slices.Clone(r.policies),
		KeepOriginal:    r.keepOriginal,
		Priority:        r.priority,
		MaxSeries:       r.maxSeries,
		Fingerprint:     r.fp,
	}
}

func sortStrings(s []string) { slices.Sort(s) }
