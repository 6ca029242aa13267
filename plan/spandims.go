package plan

import (
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// spanScoped keeps on a span-derived point only the span dimensions of its
// service: ingest extracts every dimension any service names
// (rules.Set.AllSpanDimensions), the rules say which belong to which
// service. Called on a match-cache miss only.
func spanScoped(set *rules.Set, pt *sample.Point) *sample.Point {
	if pt.Labels.Get(model.MetricNameLabel) != ingest.SpanDurationMetric {
		return pt
	}
	all := set.AllSpanDimensions()
	allowed := set.SpanDimensions(pt.Labels.Get("service_name"))
	if len(all) == len(allowed) {
		return pt
	}
	b := labels.NewBuilder(pt.Labels)
	for _, d := range all {
		if !slices.Contains(allowed, d) {
			b.Del(ingest.LabelName(d))
		}
	}
	q := *pt
	q.Labels, q.Hash, q.Series = b.Labels(), 0, nil
	return &q
}
