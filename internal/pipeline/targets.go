package pipeline

import (
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// DefaultQuantiles are the percentiles of outputs whose rule names none
// (mapping rules of distributions).
var defaultQuantiles = [...]float64{0.5, 0.9, 0.99, 0.999}

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
	// owner and gen say whose match cache, and which generation of it
	// (Pipeline.cacheGen), held the match when lookup left it in a point's
	// sample.Series: it is valid there while both still hold.
	owner *Pipeline
	gen   uint64
}

// targetsFor turns what the rules say about one input series (see plan)
// into aggregator targets: one per output and storage policy. Targets with
// equal keys are shared between input series through p.targets.
func (p *Pipeline) targetsFor(m rules.Match, unmatched []rules.StoragePolicy, pt *sample.Point) []*aggregator.Target {
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
				t = &aggregator.Target{Key: key, Resolution: pol.Resolution.Milliseconds(), Labels: out.labels, Route: pol.String(), Specs: out.specs}
				t.Init()
				p.targets[key] = t
			}
			ts = append(ts, t)
		}
	}
	return ts
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

// specsFor names the output series of one rule output. Explicit aggregations
// are named by the rules package; a mapping rule (no aggregations) keeps the
// series name and aggregates by the point's kind: gauges keep their last
// value, counters their per-window increase, distributions become summaries
// and histograms keep their buckets.
func specsFor(out rules.Output, lset labels.Labels, kind sample.Kind) []aggregator.Spec {
	base := lset.Get(model.MetricNameLabel)
	named := func(agg aggregator.Agg, name string) aggregator.Spec { return aggregator.Spec{Agg: agg, Name: name} }
	quantile := func(q float64) aggregator.Spec { return aggregator.Spec{Agg: aggregator.Quantile, Q: q, Name: base} }
	if out.Aggregations == nil {
		switch kind {
		case sample.Gauge:
			return []aggregator.Spec{named(aggregator.Last, base)}
		case sample.Delta:
			return []aggregator.Spec{named(aggregator.Increase, base)}
		case sample.Histogram:
			return []aggregator.Spec{
				named(aggregator.Buckets, base+"_bucket"),
				named(aggregator.Sum, base+"_sum"),
				named(aggregator.Count, base+"_count"),
			}
		default:
			specs := []aggregator.Spec{named(aggregator.Sum, base+"_sum"), named(aggregator.Count, base+"_count")}
			for _, q := range defaultQuantiles {
				specs = append(specs, quantile(q))
			}
			return specs
		}
	}
	var specs []aggregator.Spec
	type seriesKey struct {
		name     string
		quantile bool
		q        float64
	}
	seen := map[seriesKey]bool{}
	add := func(s aggregator.Spec) {
		k := seriesKey{name: s.Name}
		if s.Agg == aggregator.Quantile {
			k.quantile, k.q = true, s.Q
		}
		if !seen[k] {
			seen[k] = true
			specs = append(specs, s)
		}
	}
	for _, a := range out.Aggregations {
		switch a.Kind {
		case rules.Quantile:
			add(quantile(a.Q))
		case rules.Buckets:
			add(named(aggregator.Buckets, base+"_bucket"))
			add(named(aggregator.Sum, base+"_sum"))
			add(named(aggregator.Count, base+"_count"))
		default:
			add(named(aggKinds[a.Kind], a.SeriesName(base)))
		}
	}
	return specs
}

var aggKinds = map[rules.AggKind]aggregator.Agg{
	rules.Sum: aggregator.Sum, rules.Count: aggregator.Count, rules.Min: aggregator.Min,
	rules.Max: aggregator.Max, rules.Last: aggregator.Last, rules.Mean: aggregator.Mean,
	rules.Rate: aggregator.Rate, rules.Increase: aggregator.Increase,
}
