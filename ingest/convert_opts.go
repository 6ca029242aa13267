package ingest

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// ConvertOpt configures a MetricConverter or a SpanConverter. An option that
// concerns only one of them is ignored by the other.
type ConvertOpt struct{ fn func(*convertConfig) }

type convertConfig struct {
	promote      []string
	tenantAttr   string
	fallback     string
	spanDims     []string
	staleAfter   time.Duration
	maxSpanCache int
}

func defaultConvertConfig() convertConfig {
	return convertConfig{staleAfter: 30 * time.Minute, maxSpanCache: 1 << 14}
}

// PromoteResourceAttributes makes the named resource attributes labels of
// every point of the resource (names sanitized). service.name always becomes
// service_name; other resource attributes are dropped unless named here.
// A data point attribute of the same label name wins over a resource one.
func PromoteResourceAttributes(attrs ...string) ConvertOpt {
	return ConvertOpt{func(c *convertConfig) { c.promote = append([]string(nil), attrs...) }}
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
