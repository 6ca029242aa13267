package ingest

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// maxNameCache bounds the sanitized-name cache: attribute keys are few in
// practice, but they come from outside and must not grow memory without end.
const maxNameCache = 4096

// nameCache remembers sanitized attribute keys so that the common keys with
// dots ("http.method") cost a map lookup instead of an allocation per point.
type nameCache map[string]string

// label returns key as a valid Prometheus label name.
func (c nameCache) label(key string) string {
	if validName(key, false) {
		return key
	}
	if s, ok := c[key]; ok {
		return s
	}
	s := sanitize(key, false)
	if len(c) < maxNameCache {
		c[strings.Clone(key)] = s // key may be a view into a record
	}
	return s
}

// metric returns name as a valid Prometheus metric name.
func (c nameCache) metric(name string) string {
	if validName(name, true) {
		return name
	}
	return sanitize(name, true)
}

func nameByte(b byte, colon bool) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || colon && b == ':'
}

func validName(s string, colon bool) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i], colon) {
			return false
		}
	}
	return true
}

// sanitize replaces every character outside [a-zA-Z0-9_] (plus ':' for
// metric names; label names may not contain it) with '_' and prefixes a
// leading digit with '_', as the Prometheus OTLP translator does without UTF-8
// names.
func sanitize(s string, colon bool) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	if s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	for _, r := range s {
		if r < 0x80 && nameByte(byte(r), colon) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// resourceLabel is one resource attribute promoted to a label.
type resourceLabel struct{ name, value string }

// resourceLabels returns the labels a resource contributes to every point:
// service.name as service_name, plus the promoted attributes. It appends to
// dst so that the caller can reuse one buffer per batch.
func resourceLabels(dst []resourceLabel, attrs pcommon.Map, promote []string, names nameCache) []resourceLabel {
	if v, ok := attrs.Get("service.name"); ok {
		dst = append(dst, resourceLabel{"service_name", v.AsString()})
	}
	for _, k := range promote {
		if v, ok := attrs.Get(k); ok {
			dst = append(dst, resourceLabel{names.label(k), v.AsString()})
		}
	}
	return dst
}

// metricNameLabel is Prometheus' __name__ (labels.MetricName is deprecated).
const metricNameLabel = "__name__"

// LabelName returns the label name ingest gives an attribute key, for
// example span dimension "http.route" → "http_route".
func LabelName(key string) string {
	if validName(key, false) {
		return key
	}
	return sanitize(key, false)
}
