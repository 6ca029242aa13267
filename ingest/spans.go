package ingest

import (
	"hash/maphash"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

// SpanDurationMetric is the metric name of the points spans yield.
const SpanDurationMetric = "span_duration_seconds"

// Span kind and status values as the spanmetrics connector writes them (the
// proto enum names; ptrace.SpanKind.String() gives "Server" instead).
var (
	spanKinds   = [...]string{"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"}
	statusCodes = [...]string{"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}
)

// SpanConverter turns every span into one Observation of its duration. It
// caches label sets, so that the spans of one operation share one
// labels.Labels instead of building it per span. It is not safe for
// concurrent use; use one per input partition.
type SpanConverter struct {
	cfg      convertConfig
	dimNames []string
	b        *labels.Builder
	p        sample.Point
	seed     maphash.Seed
	cache    map[uint64]*spanLabels
	dims     []string // Scratch: the current span's dimension values.
	fast     *protoState
}

type spanLabels struct {
	svc, name string
	kind      ptrace.SpanKind
	status    ptrace.StatusCode
	dims      []string
	lbls      labels.Labels
	hash      uint64 // lbls.Hash()
	series    sample.Series
}

// NewSpanConverter returns a SpanConverter. SpanDimensions, TenantAttribute
// and FallbackTenant apply; PromoteResourceAttributes does not (name resource
// attributes in SpanDimensions instead).
func NewSpanConverter(opts ...ConvertOpt) *SpanConverter {
	c := &SpanConverter{cfg: defaultConvertConfig(), b: labels.NewBuilder(labels.EmptyLabels()), cache: map[uint64]*spanLabels{},
		seed: maphash.MakeSeed()}
	for _, o := range opts {
		o.fn(&c.cfg)
	}
	for _, d := range c.cfg.spanDims {
		c.dimNames = append(c.dimNames, LabelName(d))
	}
	c.dims = make([]string, len(c.dimNames))
	return c
}

// Convert calls emit once per span of td, in input order, with an
// Observation of span_duration_seconds{service_name, span_name, span_kind,
// status_code, dimensions...}: V is end-start in seconds (0 when end precedes
// start), Count 1, T the end time in ms, and the exemplar links the span with
// the input partition it was read from. Labels with empty values are left
// out. tenant is the record's tenant; see TenantAttribute.
//
// emit gets a Point owned by the converter and reused for the next call: copy
// *p to keep it. Its Labels may be kept (they are shared, never modified).
func (c *SpanConverter) Convert(td ptrace.Traces, partition int32, tenant string, emit func(*sample.Point)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		svc := ""
		if v, ok := res.Get("service.name"); ok {
			svc = v.AsString()
		}
		svcHash := maphash.String(c.seed, svc)
		t := c.cfg.tenant(tenant, res)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				c.span(spans.At(k), res, svc, svcHash, t, partition, emit)
			}
		}
	}
}

func (c *SpanConverter) span(s ptrace.Span, res pcommon.Map, svc string, svcHash uint64, tenant string, partition int32, emit func(*sample.Point)) {
	for i, d := range c.cfg.spanDims {
		v, ok := s.Attributes().Get(d)
		if !ok {
			v, ok = res.Get(d)
		}
		c.dims[i] = ""
		if ok {
			c.dims[i] = v.AsString()
		}
	}
	start, end := s.StartTimestamp(), s.EndTimestamp()
	var d float64
	if end > start {
		d = float64(end-start) / 1e9
	}
	t := millis(end)
	e := c.labels(svc, svcHash, s.Name(), s.Kind(), s.Status().Code())
	c.p = sample.Point{
		Labels: e.lbls,
		Hash:   e.hash,
		Series: &e.series,
		Tenant: tenant,
		Kind:   sample.Observation,
		T:      t,
		V:      d,
		Count:  1,
		Exemplar: sample.Exemplar{
			TraceID:   sample.TraceID(s.TraceID()),
			SpanID:    sample.SpanID(s.SpanID()),
			Value:     d,
			T:         t,
			Partition: partition,
		},
	}
	emit(&c.p)
}

// labels returns the cached label set for the span's operation, building it
// on a miss; svcHash is maphash.String(c.seed, svc), hashed once per
// resource. The cache is cleared when full: operations are few, but their
// names come from outside.
func (c *SpanConverter) labels(svc string, svcHash uint64, name string, kind ptrace.SpanKind, status ptrace.StatusCode) *spanLabels {
	// One maphash.String per field, mixed: a streaming maphash.Hash cost
	// three times as much per span. The fields are compared on a hit.
	key := mixKey(svcHash, maphash.String(c.seed, name)) ^ uint64(kind)<<8 ^ uint64(status)
	for _, d := range c.dims {
		key = mixKey(key, maphash.String(c.seed, d))
	}
	if e := c.cache[key]; e != nil && e.svc == svc && e.name == name && e.kind == kind && e.status == status && slices.Equal(e.dims, c.dims) {
		return e
	}
	// ConvertProto passes views into its record: what the cache and the
	// labels keep must be copies.
	svc, name = strings.Clone(svc), strings.Clone(name)
	for i, d := range c.dims {
		c.dims[i] = strings.Clone(d)
	}
	c.b.Reset(labels.EmptyLabels())
	for i, n := range c.dimNames {
		c.b.Set(n, c.dims[i])
	}
	c.b.Set("service_name", svc)
	c.b.Set("span_name", name)
	c.b.Set("span_kind", enumName(spanKinds[:], int32(kind)))
	c.b.Set("status_code", enumName(statusCodes[:], int32(status)))
	c.b.Set(metricNameLabel, SpanDurationMetric)
	e := &spanLabels{svc: svc, name: name, kind: kind, status: status, dims: append([]string(nil), c.dims...), lbls: c.b.Labels()}
	e.hash = e.lbls.Hash()
	if len(c.cache) >= c.cfg.maxSpanCache {
		clear(c.cache)
	}
	c.cache[key] = e
	return e
}

// mixKey combines two hashes so that swapping them changes the result
// (splitmix64's finalizer over a rotation of a).
func mixKey(a, b uint64) uint64 {
	x := (a<<17 | a>>47) ^ b
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// enumName returns the name of a known enum value, "" (label left out) for
// values newer than this code.
func enumName(names []string, v int32) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return ""
}
