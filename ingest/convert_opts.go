package ingest

import (
	"time"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// ConvertOpt configures a MetricConverter or a SpanConverter. An option that
// concerns only one of them is ignored by the other.
type ConvertOpt struct{ fn func(*convertConfig) }

type convertConfig struct {
	strategy     otlptranslator.TranslationStrategyOption
	promote      []string
	promoteAll   bool
	ignore       []string
	tenantAttr   string
	fallback     string
	spanDims     []string
	staleAfter   time.Duration
	maxSpanCache int
}

func defaultConvertConfig() convertConfig {
	return convertConfig{strategy: otlptranslator.UnderscoreEscapingWithSuffixes, staleAfter: 30 * time.Minute, maxSpanCache: 1 << 14}
}

// TranslationStrategy says how metric names and attribute keys become
// Prometheus names, as Prometheus' OTLP receiver's
// otlp.translation_strategy does (see otlptranslator). The default,
// UnderscoreEscapingWithSuffixes, is that receiver's: the OTel SDK's
// http.server.request.duration (unit s, a histogram) becomes
// http_server_request_duration_seconds, a monotonic sum of unit By
// x_bytes_total, attribute http.route the label http_route. A strategy that
// is not one of TranslationStrategies is ignored. SpanConverter ignores it.
func TranslationStrategy(s otlptranslator.TranslationStrategyOption) ConvertOpt {
	return ConvertOpt{func(c *convertConfig) {
		if _, err := ParseTranslationStrategy(string(s)); err == nil {
			c.strategy = s
		}
	}}
}

// PromoteResourceAttributes makes the named resource attributes labels of
// every point of the resource, named as attribute keys are (see
// TranslationStrategy), as Prometheus' otlp.promote_resource_attributes
// does: a data point attribute of the same label name wins. Every point
// also gets job (service.namespace/service.name, or service.name alone) and
// instance (service.instance.id), which win over point attributes; other
// resource attributes are not labels.
func PromoteResourceAttributes(attrs ...string) ConvertOpt {
	return ConvertOpt{func(c *convertConfig) { c.promote = append([]string(nil), attrs...) }}
}

// PromoteAllResourceAttributes promotes every resource attribute but the
// ignored ones, as Prometheus' otlp.promote_all_resource_attributes with
// ignore_resource_attributes; it replaces PromoteResourceAttributes. Its
// records take ConvertProto's slow path (ErrNeedsPdata).
func PromoteAllResourceAttributes(ignore ...string) ConvertOpt {
	return ConvertOpt{func(c *convertConfig) {
		c.promoteAll, c.ignore = true, append([]string(nil), ignore...)
	}}
}

// TenantAttribute names a resource attribute that holds the tenant. It
// applies to the resources of a batch converted with an empty tenant, that
// is, records that carried no tenant header when the Consumer's DefaultTenant
// is empty. A resource without the attribute gets the FallbackTenant.
func TenantAttribute(name string) ConvertOpt {
	return ConvertOpt{func(c *convertConfig) { c.tenantAttr = name }}
}

// FallbackTenant is the tenant of resources converted with an empty tenant
// and without the TenantAttribute (default "").
func FallbackTenant(name string) ConvertOpt {
	return ConvertOpt{func(c *convertConfig) { c.fallback = name }}
}

// SpanDimensions adds labels to span_duration_seconds: each attribute is
// looked up in the span's attributes, then the resource's; its sanitized name
// becomes the label name. A missing attribute leaves the label absent.
// MetricConverter ignores it.
func SpanDimensions(attrs ...string) ConvertOpt {
	return ConvertOpt{func(c *convertConfig) { c.spanDims = append([]string(nil), attrs...) }}
}

// StaleAfter drops the cumulative-to-delta state of a series not seen for d
// of wall time (default 30m); the series' next point becomes a new baseline.
// SpanConverter ignores it.
func StaleAfter(d time.Duration) ConvertOpt {
	return ConvertOpt{func(c *convertConfig) {
		if d > 0 {
			c.staleAfter = d
		}
	}}
}

// tenant resolves the tenant of one resource: a non-empty tenant from the
// record (header or the Consumer's default) stands; else the resource
// attribute; else the fallback.
func (c *convertConfig) tenant(record string, res pcommon.Map) string {
	if record != "" {
		return record
	}
	if c.tenantAttr != "" {
		if v, ok := res.Get(c.tenantAttr); ok {
			if s := v.AsString(); s != "" {
				return s
			}
		}
	}
	return c.fallback
}
