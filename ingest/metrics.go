package ingest

import (
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

// MetricConverter flattens OTLP metrics into sample.Points. It holds the
// cumulative-to-delta state of the series it has seen, so use one per input
// partition: a series' points must all reach the same converter, in order.
// It is not safe for concurrent use.
type MetricConverter struct {
	cfg    convertConfig
	names  namer
	lcache labelCache
	b      *labels.Builder
	res    []resourceLabel
	attrs  []attrLabel // A point's attributes, on a label cache miss.
	// prom is true while converting a RemoteWriteScope metric.
	prom bool
	// stats counts the data points read (TakeStats); why is the reason
	// the last cumulative point yielded no increase.
	stats ConvertStats
	why   Reason
	p     sample.Point
	now   func() time.Time

	nums  map[seriesKey]numState
	hists map[seriesKey]*histState
	exps  map[seriesKey]*expState
	holds baseHolds // the records holding the series' previous points
	stamp int64     // wall time of the running Convert, Unix ns; marks series as seen.
	// offset is the input offset of the record being converted (SetOffset);
	// base the offset of the previous point of the delta being emitted.
	offset, base int64
	sweep        int64 // wall time of the next stale-state sweep.
	// fast is ConvertProto's state, made on its first call.
	fast *metricProtoState
}

// NewMetricConverter returns a converter with empty state.
func NewMetricConverter(opts ...ConvertOpt) *MetricConverter {
	c := &MetricConverter{
		cfg:    defaultConvertConfig(),
		lcache: labelCache{seed: maphash.MakeSeed(), m: map[uint64]*cachedLabels{}, max: maxMetricLabels},
		b:      labels.NewBuilder(labels.EmptyLabels()),
		now:    time.Now,
		nums:   map[seriesKey]numState{},
		hists:  map[seriesKey]*histState{},
		exps:   map[seriesKey]*expState{},
		offset: -1,
	}
	for _, o := range opts {
		o.fn(&c.cfg)
	}
	c.names = newNamer(c.cfg.strategy)
	return c
}

// SetOffset tells the converter the input offset of the record it converts
// next. Deltas derived from cumulative points then name the offset of the
// record holding the point they are relative to (sample.Point.BaseOffset):
// a replay from there derives the same deltas.
func (c *MetricConverter) SetOffset(offset int64) { c.offset = offset }

// OldestBase returns the input offset of the oldest record that holds a
// series' previous point (ok is false when no series has one). A successor
// that resumes the input there derives every series' next delta as this
// converter would; one that resumes after it takes those series' next
// points as baselines and loses their increases since, so a commit point
// must not pass it. A series holds it until its next point, its end, or
// its state going stale (see StaleAfter).
func (c *MetricConverter) OldestBase() (offset int64, ok bool) { return c.holds.oldest() }

// Series returns how many series the converter holds cumulative state for.
func (c *MetricConverter) Series() int { return len(c.nums) + len(c.hists) + len(c.exps) }

// Convert calls emit for every point md yields, in input order:
//
//   - Gauge: one Gauge point per data point.
//   - Sum: delta -> Delta; monotonic cumulative -> Delta of the increase since
//     the series' previous point (the first point is a baseline and yields
//     nothing; a decrease or a new StartTimestamp is a counter reset and yields
//     the value itself); non-monotonic cumulative -> Gauge.
//   - Histogram and ExponentialHistogram: delta -> Histogram /
//     ExponentialHistogram; cumulative -> per-bucket deltas, same rules.
//   - Summary: Gauges name{quantile="q"}, name_sum and name_count.
//
// Labels are those Prometheus' OTLP receiver gives the point: __name__ (the
// metric name under the TranslationStrategy, with unit and type suffixes by
// default), the point's attributes (their keys named likewise; values of keys
// that name the same label are joined with ';', in key order), job and
// instance from the resource's service.namespace, service.name and
// service.instance.id (see PromoteResourceAttributes), and the promoted
// resource attributes.
//
// Points flagged "no recorded value" yield nothing and end the series'
// cumulative state; NaN values, unspecified temporality and malformed
// histograms yield nothing. A cumulative point not newer than the series'
// previous one (same StartTimestamp) is a replay and yields nothing.
//
// tenant is the record's tenant; see TenantAttribute for how an empty one is
// resolved. emit gets a Point owned by the converter and reused for the next
// call: copy *p to keep it. The Labels, Hist and Exp it references are never
// reused and may be kept, but must not be modified.
func (c *MetricConverter) Convert(md pmetric.Metrics, tenant string, emit func(*sample.Point)) {
	c.stamp = c.now().UnixNano()
	c.sweepStale()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		attrs := rm.Resource().Attributes()
		c.resourceLabels(attrs)
		t := c.cfg.tenant(tenant, attrs)
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			c.prom = sms.At(j).Scope().Name() == RemoteWriteScope
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				c.metric(ms.At(k), t, emit)
			}
		}
	}
}

func (c *MetricConverter) metric(m pmetric.Metric, tenant string, emit func(*sample.Point)) {
	typ := m.Type()
	name := c.names.metric(m.Name(), m.Unit(), metricType(typ, typ == pmetric.MetricTypeSum && m.Sum().IsMonotonic()), c.prom)
	switch typ {
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			c.number(dps.At(i), name, tenant, sample.Gauge, false, emit)
		}
	case pmetric.MetricTypeSum:
		s := m.Sum()
		kind, cumulative := sample.Delta, false
		switch s.AggregationTemporality() {
		case pmetric.AggregationTemporalityDelta:
		case pmetric.AggregationTemporalityCumulative:
			if s.IsMonotonic() {
				cumulative = true
			} else {
				kind = sample.Gauge
			}
		default:
			c.dropAll(s.DataPoints().Len(), ReasonUnspecifiedTemporality)
			return
		}
		dps := s.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			c.number(dps.At(i), name, tenant, kind, cumulative, emit)
		}
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		cumulative, ok := temporality(h.AggregationTemporality())
		if !ok {
			c.dropAll(h.DataPoints().Len(), ReasonUnspecifiedTemporality)
			return
		}
		dps := h.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			c.histogram(dps.At(i), name, tenant, cumulative, emit)
		}
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		cumulative, ok := temporality(h.AggregationTemporality())
		if !ok {
			c.dropAll(h.DataPoints().Len(), ReasonUnspecifiedTemporality)
			return
		}
		dps := h.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			c.expHistogram(dps.At(i), name, tenant, cumulative, emit)
		}
	case pmetric.MetricTypeSummary:
		c.summary(m.Summary().DataPoints(), name, tenant, emit)
	}
}

// resourceLabels sets c.res to the labels of a resource of attributes attrs.
func (c *MetricConverter) resourceLabels(attrs pcommon.Map) {
	get := func(k string) (string, bool) {
		if v, ok := attrs.Get(k); ok {
			return v.AsString(), true
		}
		return "", false
	}
	ns, hasNs := get(serviceNamespaceAttr)
	svc, hasSvc := get(serviceNameAttr)
	inst, hasInst := get(serviceInstanceIDAttr)
	c.res = appendIdentity(c.res[:0], ns, svc, inst, hasNs, hasSvc, hasInst)
	if c.cfg.promoteAll {
		for k, v := range attrs.All() {
			if !slices.Contains(c.cfg.ignore, k) {
				c.res = append(c.res, resourceLabel{name: c.names.label(k), value: v.AsString()})
			}
		}
		return
	}
	for _, k := range c.cfg.promote {
		if v, ok := get(k); ok {
			c.res = append(c.res, resourceLabel{name: c.names.label(k), value: v})
		}
	}
}

func temporality(t pmetric.AggregationTemporality) (cumulative, ok bool) {
	switch t {
	case pmetric.AggregationTemporalityDelta:
		return false, true
	case pmetric.AggregationTemporalityCumulative:
		return true, true
	}
	return false, false
}

func (c *MetricConverter) number(dp pmetric.NumberDataPoint, name, tenant string, kind sample.Kind, cumulative bool, emit func(*sample.Point)) {
	c.stats.Points++
	if dp.Flags().NoRecordedValue() {
		if cumulative {
			c.endNum(seriesKey{tenant, c.labels(name, dp.Attributes(), "", "").hash})
		}
		c.drop(ReasonNoRecordedValue)
		return
	}
	v := dp.DoubleValue()
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		v = float64(dp.IntValue())
	}
	if math.IsNaN(v) {
		c.drop(ReasonNaN)
		return
	}
	e := c.labels(name, dp.Attributes(), "", "")
	if cumulative {
		var ok bool
		if v, ok = c.cumulative(seriesKey{tenant, e.hash}, uint64(dp.StartTimestamp()), uint64(dp.Timestamp()), v); !ok {
			c.drop(c.why)
			return
		}
	}
	c.p = sample.Point{Labels: e.lbls, Hash: e.hash, Series: &e.series, Tenant: tenant, Kind: kind, T: millis(dp.Timestamp()), V: v, Exemplar: firstExemplar(dp.Exemplars()),
		HasBase: cumulative, BaseOffset: c.base}
	c.stats.Emitted++
	emit(&c.p)
}

func (c *MetricConverter) summary(dps pmetric.SummaryDataPointSlice, name, tenant string, emit func(*sample.Point)) {
	sumName, countName := name+"_sum", name+"_count"
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		c.stats.Points++
		if dp.Flags().NoRecordedValue() {
			c.drop(ReasonNoRecordedValue)
			continue
		}
		c.stats.Emitted++ // its count at least: never NaN
		t, attrs := millis(dp.Timestamp()), dp.Attributes()
		gauge := func(e *cachedLabels, v float64) {
			if !math.IsNaN(v) {
				c.p = sample.Point{Labels: e.lbls, Hash: e.hash, Series: &e.series, Tenant: tenant, Kind: sample.Gauge, T: t, V: v}
				emit(&c.p)
			}
		}
		qs := dp.QuantileValues()
		for j := 0; j < qs.Len(); j++ {
			q := qs.At(j)
			gauge(c.labels(name, attrs, "quantile", strconv.FormatFloat(q.Quantile(), 'g', -1, 64)), q.Value())
		}
		gauge(c.labels(sumName, attrs, "", ""), dp.Sum())
		gauge(c.labels(countName, attrs, "", ""), float64(dp.Count()))
	}
}

func millis(t pcommon.Timestamp) int64 { return int64(t) / int64(time.Millisecond) }

// firstExemplar returns the first exemplar that links to a trace.
func firstExemplar(es pmetric.ExemplarSlice) sample.Exemplar {
	for i := 0; i < es.Len(); i++ {
		if e, ok := exemplar(es.At(i)); ok {
			return e
		}
	}
	return sample.Exemplar{}
}

// exemplars returns the exemplars that link to a trace, or nil.
func exemplars(es pmetric.ExemplarSlice) []sample.Exemplar {
	var out []sample.Exemplar
	for i := 0; i < es.Len(); i++ {
		if e, ok := exemplar(es.At(i)); ok {
			out = append(out, e)
		}
	}
	return out
}

func exemplar(e pmetric.Exemplar) (sample.Exemplar, bool) {
	tid := e.TraceID()
	if tid.IsEmpty() {
		return sample.Exemplar{}, false
	}
	v := e.DoubleValue()
	if e.ValueType() == pmetric.ExemplarValueTypeInt {
		v = float64(e.IntValue())
	}
	return sample.Exemplar{
		TraceID:   sample.TraceID(tid),
		SpanID:    sample.SpanID(e.SpanID()),
		Value:     v,
		T:         millis(e.Timestamp()),
		Partition: -1,
	}, true
}
