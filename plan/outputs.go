package plan

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// Unmatched says what the pipeline does with the input series that no rule
// matches (and no drop rule drops). An M3 coordinator stores such series as
// they came in, and so does weir by default: the zero value passes them
// through, aggregated by their kind as a mapping rule does, at the finest
// storage policy the rules in force use.
type Unmatched struct {
	// Drop discards them instead. They are counted either way, in
	// weir_rules_unmatched_points_total.
	Drop bool
	// Policies, when not empty, replace the finest policy of the rules.
	Policies []rules.StoragePolicy
}

// For returns the storage policies at which series that no rule of s matches
// pass through: none when Drop is set, or when Policies is empty and s uses
// no storage policy at all (then they are dropped).
func (u Unmatched) For(s *rules.Set) []rules.StoragePolicy {
	switch {
	case u.Drop:
		return nil
	case len(u.Policies) > 0:
		return u.Policies
	}
	if ps := s.Policies(); len(ps) > 0 {
		return ps[:1]
	}
	return nil
}

// output is one group of series that an input series feeds: a rollup's
// output, or the input series itself passing through (raw).
type output struct {
	labels   labels.Labels // __name__ and tenant included
	specs    []aggregator.Spec
	bounds   []float64 // explicit bucket bounds for single values
	policies []rules.StoragePolicy
	fp       uint64 // the rollup's fingerprint; raw outputs use rawFingerprint
	raw      bool
	rules    []string // who asked for it, for Explain
	// maxSeries is the rollup's max_series (0: none); overflow the labels
	// and specs of its overflow series (rollups only).
	maxSeries     int
	overflow      labels.Labels
	overflowSpecs []aggregator.Spec
}

// plan says which series an input series feeds under the rules' verdict m:
// every matching rollup's output at the rollup's policies, then the input
// series itself (aggregated by kind, see specsFor) at the union of the
// policies of the matching mapping rules and keep_original rollups, or at
// unmatched when no rule matched. The raw series is planned once per policy
// however many rules ask for it, so that it is never written twice.
func plan(m rules.Match, unmatched []rules.StoragePolicy, pt *sample.Point) []output {
	if m.Drop != "" {
		return nil
	}
	var outs []output
	var rawPolicies []rules.StoragePolicy
	var rawRules []string
	addRaw := func(rule string, ps []rules.StoragePolicy) {
		if rule != "" {
			rawRules = append(rawRules, rule)
		}
		for _, p := range ps {
			if !slices.Contains(rawPolicies, p) {
				rawPolicies = append(rawPolicies, p)
			}
		}
	}
	for _, o := range m.Outputs {
		if o.Aggregations == nil { // a mapping rule
			addRaw(o.Rule, o.Policies)
			continue
		}
		lset := withTenant(o.Labels, pt.Tenant)
		out := output{
			labels: lset, specs: specsFor(o, lset, pt.Kind), bounds: o.Buckets, policies: o.Policies,
			fp: o.Fingerprint, rules: []string{o.Rule}, maxSeries: o.MaxSeries,
		}
		out.overflow = withTenant(labels.FromStrings(model.MetricNameLabel, o.Name, aggregator.OverflowLabel, "true"), pt.Tenant)
		out.overflowSpecs = specsFor(o, out.overflow, pt.Kind)
		outs = append(outs, out)
		if o.KeepOriginal {
			addRaw(o.Rule, o.Policies)
		}
	}
	if len(m.Outputs) == 0 {
		addRaw("", unmatched)
	}
	if len(rawPolicies) > 0 {
		slices.SortFunc(rawPolicies, func(a, b rules.StoragePolicy) int {
			return cmp.Or(cmp.Compare(a.Resolution, b.Resolution), cmp.Compare(a.Retention, b.Retention))
		})
		lset := withTenant(pt.Labels, pt.Tenant)
		outs = append(outs, output{
			labels: lset, specs: specsFor(rules.Output{}, lset, pt.Kind), policies: rawPolicies,
			raw: true, rules: rawRules,
		})
	}
	return outs
}

// TenantLabel is the label output series of a tenant carry (none for the
// empty tenant); remote write's tenant header is sent from it.
const TenantLabel = "tenant"

func withTenant(lset labels.Labels, tenant string) labels.Labels {
	if tenant == "" {
		return lset
	}
	return labels.NewBuilder(lset).Set(TenantLabel, tenant).Labels()
}

// rawFingerprint stands in for a rule's fingerprint in the target key of an
// input series passing through. It does not depend on the rules that asked
// for it (the series' windows are the same computation whichever did, and
// survive any reload that keeps it passing through), but on the kind, which
// decides the aggregation, and on the retention, because two policies of one
// resolution are two outputs. It is the same in every process.
func rawFingerprint(kind sample.Kind, p rules.StoragePolicy) uint64 {
	h := fnv.New64a()
	var b [17]byte
	b[0] = byte(kind)
	binary.LittleEndian.PutUint64(b[1:], uint64(p.Resolution))
	binary.LittleEndian.PutUint64(b[9:], uint64(p.Retention))
	h.Write([]byte("weir raw series\x00"))
	h.Write(b[:])
	return h.Sum64()
}

// Output describes series that one input series feeds; see Explain.
type Output struct {
	// Rules names the rules that asked for the output: the rollup, or, for
	// the input series passing through, every matching mapping rule and
	// keep_original rollup (none when no rule matched).
	Rules []string
	// PassThrough is set for the input series itself, aggregated by its
	// kind: gauges keep their last value, deltas their sum, distributions
	// become summaries and histograms keep their buckets.
	PassThrough bool
	// Policies are the storage policies the series are written at; each
	// policy's samples go to the sink routed for it.
	Policies []rules.StoragePolicy
	// Series are the labels of the series written at each policy. A
	// histogram's bucket series appears once, without its le label.
	Series []labels.Labels
}

// Explain returns what the pipeline makes of a point under the rules s and
// the unmatched policy u, as it does when the point arrives: the drop rule
// that discards it, or the outputs it feeds (none when it is unmatched and
// u drops it). Only the point's Labels, Tenant and Kind are read.
func Explain(s *rules.Set, u Unmatched, pt *sample.Point) (drop string, outs []Output) {
	m := s.Match(pt.Labels)
	if m.Drop != "" {
		return m.Drop, nil
	}
	for _, o := range plan(m, u.For(s), pt) {
		e := Output{Rules: o.rules, PassThrough: o.raw, Policies: o.policies}
		t := aggregator.Target{Labels: o.labels}
		for i := range o.specs {
			e.Series = append(e.Series, t.SeriesLabels(&o.specs[i]))
		}
		outs = append(outs, e)
	}
	return "", outs
}
