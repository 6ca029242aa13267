package ingest

import "strings"

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

// metricNameLabel is Prometheus' __name__ (labels.MetricName is deprecated).
const metricNameLabel = "__name__"

// LabelName returns the label name of a span dimension, for example
// "http.route" → "http_route". Metric attributes are named by the
// translation strategy instead (see TranslationStrategy).
func LabelName(key string) string {
	if validName(key, false) {
		return key
	}
	return sanitize(key, false)
}
