package pipeline

import (
	"hash/maphash"
	"math"
	"strconv"

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
}

// targetsFor turns the rules' outputs for one input series into aggregator
// targets: one per output and storage policy. Targets with equal keys are
// shared between input series through p.targets.
func (p *Pipeline) targetsFor(m rules.Match, pt *sample.Point) []*aggregator.Target {
	var ts []*aggregator.Target
	for _, out := range m.Outputs {
		lset := out.Labels
		if pt.Tenant != "" {
			lset = labels.NewBuilder(lset).Set("tenant", pt.Tenant).Labels()
		}
		specs := specsFor(out, lset, pt.Kind)
		for _, pol := range out.Policies {
			key := targetKey(p.seed, lset, pol.Resolution.Milliseconds(), out.Fingerprint)
			t := p.targets[key]
			if t == nil {
				t = &aggregator.Target{Key: key, Resolution: pol.Resolution.Milliseconds(), Route: pol.String(), Specs: specs}
				t.Init()
				p.targets[key] = t
			}
			ts = append(ts, t)
		}
	}
	return ts
}

func targetKey(seed maphash.Seed, lset labels.Labels, res int64, fp uint64) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var b [8]byte
	lset.Range(func(l labels.Label) {
		h.WriteString(l.Name)
		h.WriteByte(0)
		h.WriteString(l.Value)
		h.WriteByte(0)
	})
	for i := range 8 {
		b[i] = byte(uint64(res) >> (8 * i))
	}
	h.Write(b[:])
	for i := range 8 {
		b[i] = byte(fp >> (8 * i))
	}
	h.Write(b[:])
	return h.Sum64()
}

// specsFor names the output series of one rule output. Explicit aggregations
// are named by the rules package; a mapping rule (no aggregations) keeps the
// series name and aggregates by the point's kind: gauges keep their last
// value, counters their per-window increase, distributions become summaries
// and histograms keep their buckets.
func specsFor(out rules.Output, lset labels.Labels, kind sample.Kind) []aggregator.Spec {
	base := lset.Get(model.MetricNameLabel)
	named := func(name string) labels.Labels {
		return labels.NewBuilder(lset).Set(model.MetricNameLabel, name).Labels()
	}
	quantile := func(q float64) aggregator.Spec {
		return aggregator.Spec{Agg: aggregator.Quantile, Q: q,
			Labels: labels.NewBuilder(lset).Set(model.MetricNameLabel, base).Set("quantile", formatQuantile(q)).Labels()}
	}
	if out.Aggregations == nil {
		switch kind {
		case sample.Gauge:
			return []aggregator.Spec{{Agg: aggregator.Last, Labels: lset}}
		case sample.Delta:
			return []aggregator.Spec{{Agg: aggregator.Increase, Labels: lset}}
		case sample.Histogram:
			return []aggregator.Spec{
				{Agg: aggregator.Buckets, Labels: named(base + "_bucket")},
				{Agg: aggregator.Sum, Labels: named(base + "_sum")},
				{Agg: aggregator.Count, Labels: named(base + "_count")},
			}
		default:
			specs := []aggregator.Spec{
				{Agg: aggregator.Sum, Labels: named(base + "_sum")},
				{Agg: aggregator.Count, Labels: named(base + "_count")},
			}
			for _, q := range defaultQuantiles {
				specs = append(specs, quantile(q))
			}
			return specs
		}
	}
	var specs []aggregator.Spec
	seen := map[string]bool{}
	add := func(s aggregator.Spec) {
		if k := s.Labels.String(); !seen[k] {
			seen[k] = true
			specs = append(specs, s)
		}
	}
	for _, a := range out.Aggregations {
		switch a.Kind {
		case rules.Quantile:
			add(quantile(a.Q))
		case rules.Buckets:
			add(aggregator.Spec{Agg: aggregator.Buckets, Labels: named(base + "_bucket")})
			add(aggregator.Spec{Agg: aggregator.Sum, Labels: named(base + "_sum")})
			add(aggregator.Spec{Agg: aggregator.Count, Labels: named(base + "_count")})
		default:
			add(aggregator.Spec{Agg: aggKinds[a.Kind], Labels: named(a.SeriesName(base))})
		}
	}
	return specs
}

var aggKinds = map[rules.AggKind]aggregator.Agg{
	rules.Sum: aggregator.Sum, rules.Count: aggregator.Count, rules.Min: aggregator.Min,
	rules.Max: aggregator.Max, rules.Last: aggregator.Last, rules.Mean: aggregator.Mean,
	rules.Rate: aggregator.Rate, rules.Increase: aggregator.Increase,
}

func formatQuantile(q float64) string {
	if math.IsNaN(q) {
		return "NaN"
	}
	return strconv.FormatFloat(q, 'f', -1, 64)
}
