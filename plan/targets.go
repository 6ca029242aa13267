package plan

import (
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// match is the cached outcome of the rules for one input series.
type match struct {
	lset    labels.Labels
	tenant  string
	kind    sample.Kind
	drop    string
	targets []*aggregator.Target
	// unmatched is set when no rule matched the series: its targets, if
	// any, pass it through at the Unmatched policies.
	unmatched bool
	// phase tells apart the matches of one series during a rule switch:
	// see reloadState.mixed.
	phase int
	// priority is the highest priority of the rules feeding the series: a
	// tenant over its limit sheds the lowest first (see limits.go).
	priority int
	// pool is the index of the tenant's quota pool holding the series (-1:
	// none); dropOverQuota the drop rule that drops it while that pool is
	// over quota ("": none).
	pool          int
	dropOverQuota string
	// owner and gen say whose match cache, and which generation of it
	// (Plan.cacheGen), held the match when lookup left it in a point's
	// sample.Series: it is valid there while both still hold.
	owner *Plan
	gen   uint64
}

// targetsFor turns what the rules say about one input series (see plan)
// into aggregator targets: one per output and storage policy. Targets with
// equal keys are shared between input series through p.targets.
func (p *Plan) targetsFor(m rules.Match, unmatched []rules.StoragePolicy, pt *sample.Point) []*aggregator.Target {
	var ts []*aggregator.Target
	for _, out := range plan(m, unmatched, pt) {
		for _, pol := range out.policies {
			fp := out.fp
			if out.raw {
				fp = rawFingerprint(pt.Kind, pol)
			}
			key := targetKey(out.labels, pol.Resolution.Milliseconds(), fp)
			t := p.targets[key]
			if t == nil {
				t = &aggregator.Target{Key: key, Resolution: pol.Resolution.Milliseconds(), Labels: out.labels, Route: pol.String(), Specs: out.specs, Bounds: out.bounds}
				p.limit(t, out, pol, fp, pt.Tenant)
				t.Init()
				p.targets[key] = t
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// limit puts the series limits of a rollup's target in force: its rule's
// max_series (one SeriesLimit per rule, tenant and policy) and its tenant's
// (one per tenant and policy), both folding into the rule's overflow
// target.
func (p *Plan) limit(t *aggregator.Target, out output, pol rules.StoragePolicy, fp uint64, tenant string) {
	if out.raw {
		return
	}
	ovKey := targetKey(out.overflow, pol.Resolution.Milliseconds(), fp)
	if out.maxSeries > 0 {
		t.Limits = append(t.Limits, p.seriesLimit(ovKey, out.rules[0], out.maxSeries))
	}
	if n := p.tenantMaxSeries(tenant); n > 0 {
		k := targetKey(labels.FromStrings(TenantLabel, tenant), pol.Resolution.Milliseconds(), 0)
		t.Limits = append(t.Limits, p.seriesLimit(k, "tenant:"+tenant, n))
	}
	if len(t.Limits) == 0 {
		return
	}
	o := p.targets[ovKey]
	if o == nil {
		o = &aggregator.Target{Key: ovKey, Resolution: pol.Resolution.Milliseconds(), Labels: out.overflow, Route: pol.String(), Specs: out.overflowSpecs, Bounds: out.bounds}
		o.Init()
		p.targets[ovKey] = o
	}
	t.Overflow = o
}

// seriesLimit returns the SeriesLimit under key, made anew when its bound
// changed.
func (p *Plan) seriesLimit(key uint64, name string, max int) *aggregator.SeriesLimit {
	if l := p.seriesLimits[key]; l != nil && l.Max == max {
		return l
	}
	l := &aggregator.SeriesLimit{Name: name, Max: max}
	p.seriesLimits[key] = l
	return l
}

// targetKey identifies an output series' window state. It must be the same
// in every weir process: stage 1 on one node and stage 2 on another meet on
// it, and it chooses the weir.partials partition.
func targetKey(lset labels.Labels, res int64, fp uint64) uint64 {
	return mix(lset.Hash() ^ mix(uint64(res)^mix(fp)))
}

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// specsFor names the output series of one rule output: a rollup's
// aggregations, or for a mapping rule (no aggregations) the input series'
// own name aggregated by the point's kind.
func specsFor(out rules.Output, lset labels.Labels, kind sample.Kind) []aggregator.Spec {
	base := lset.Get(model.MetricNameLabel)
	switch {
	case out.Aggregations == nil:
		return aggregator.DefaultSpecs(base, kind)
	case out.KeepName && len(out.Aggregations) == 1:
		return aggregator.KeptSpecs(base, out.Aggregations[0])
	}
	return aggregator.Specs(base, out.Aggregations)
}

// tenantMaxSeries returns the max_series of tenant's limit (0: none).
func (p *Plan) tenantMaxSeries(tenant string) int { return p.limits.limits.For(tenant).MaxSeries }
