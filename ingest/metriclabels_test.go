package ingest

import (
	"fmt"
	"testing"

	"github.com/prometheus/otlptranslator"
	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

// wantLabels builds a point's labels as the converter documents them,
// without its cache, for attributes of distinct label names: the
// attributes, promoted resource labels they do not name, job and instance,
// __name__.
func wantLabels(res []resourceLabel, name string, attrs pcommon.Map) labels.Labels {
	b := labels.NewBuilder(labels.EmptyLabels())
	namer := otlptranslator.LabelNamer{}
	for k, v := range attrs.All() {
		n, err := namer.Build(k)
		if err != nil {
			n = "_"
		}
		b.Set(n, v.AsString())
	}
	for _, l := range res {
		if l.identifying || b.Get(l.name) == "" {
			b.Set(l.name, l.value)
		}
	}
	b.Set(metricNameLabel, name)
	return b.Labels()
}

// The label cache gives every point the labels it would build, with their
// hash, for attributes of every value type, whatever it saw before; a full
// cache evicts and still answers right.
func TestMetricLabelCache(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	dps := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	dps.SetName("g")
	pts := dps.SetEmptyGauge().DataPoints()
	add := func(set func(pcommon.Map)) {
		dp := pts.AppendEmpty()
		dp.SetDoubleValue(1)
		set(dp.Attributes())
	}
	add(func(m pcommon.Map) { m.PutStr("k", "1") })
	add(func(m pcommon.Map) { m.PutInt("k", 1) }) // same labels, another key
	add(func(m pcommon.Map) { m.PutInt("k", 2) })
	add(func(m pcommon.Map) { m.PutDouble("k", 2.5) })
	add(func(m pcommon.Map) { m.PutBool("k", true) })
	add(func(m pcommon.Map) { m.PutBool("k", false) })
	add(func(m pcommon.Map) { m.PutEmptyBytes("k").FromRaw([]byte{1, 2}) })
	add(func(m pcommon.Map) { m.PutEmptySlice("k").AppendEmpty().SetStr("x") })
	add(func(m pcommon.Map) { m.PutEmptyMap("k").PutStr("a", "b") })
	add(func(m pcommon.Map) { m.PutEmpty("k") })
	add(func(m pcommon.Map) { m.PutStr("k", "1"); m.PutStr("service.name", "a label") })
	add(func(m pcommon.Map) { m.PutStr("k", "1"); m.PutStr("job", "the resource's wins") })
	add(func(m pcommon.Map) { m.PutStr("k1", ""); m.PutStr("", "k1") }) // strings do not run together
	add(func(m pcommon.Map) { m.PutStr("k", ""); m.PutStr("1", "") })
	for i := range 20 {
		add(func(m pcommon.Map) { m.PutStr("i", fmt.Sprint(i)) })
	}
	res := []resourceLabel{{"job", "checkout", true}}
	check := func(c *MetricConverter, round int) {
		t.Helper()
		i := 0
		c.Convert(md, "", func(p *sample.Point) {
			want := wantLabels(res, "g", pts.At(i).Attributes())
			if !labels.Equal(p.Labels, want) || p.Hash != want.Hash() {
				t.Errorf("round %d, point %d: labels %s (hash %x), want %s (hash %x)", round, i, p.Labels, p.Hash, want, want.Hash())
			}
			i++
		})
		if i != pts.Len() {
			t.Fatalf("round %d: %d points, want %d", round, i, pts.Len())
		}
	}
	c := NewMetricConverter()
	for round := range 3 {
		check(c, round)
	}
	if n := len(c.lcache.m); n != pts.Len() {
		t.Errorf("%d cached label sets for %d distinct points", n, pts.Len())
	}
	small := NewMetricConverter()
	small.lcache.max = 5
	for round := range 3 {
		check(small, round)
	}
	if n := len(small.lcache.m); n > 5 {
		t.Errorf("%d cached label sets, bound 5", n)
	}
}
