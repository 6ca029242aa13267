package ingest

import (
	"fmt"
	"strings"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// RemoteWriteScope is the instrumentation scope of metrics whose names
// and attribute keys are Prometheus' already, those weir's remote-write
// receiver converts: their names and labels are kept as they are, whatever
// the TranslationStrategy.
const RemoteWriteScope = "github.com/weirdev/weir/receiver/prometheusremotewrite"

// maxNameCache bounds each of a namer's caches: names are few in practice,
// but they come from outside and must not grow memory without end. Past
// it a name is translated anew at each use.
const maxNameCache = 4096

// TranslationStrategies are the strategies TranslationStrategy takes,
// Prometheus' OTLP receiver's default first.
func TranslationStrategies() []otlptranslator.TranslationStrategyOption {
	return []otlptranslator.TranslationStrategyOption{
		otlptranslator.UnderscoreEscapingWithSuffixes,
		otlptranslator.UnderscoreEscapingWithoutSuffixes,
		otlptranslator.NoUTF8EscapingWithSuffixes,
		otlptranslator.NoTranslation,
	}
}

// ParseTranslationStrategy returns the strategy named s, one of
// TranslationStrategies, or an error listing them.
func ParseTranslationStrategy(s string) (otlptranslator.TranslationStrategyOption, error) {
	all := TranslationStrategies()
	for _, o := range all {
		if string(o) == s {
			return o, nil
		}
	}
	names := make([]string, len(all))
	for i, o := range all {
		names[i] = string(o)
	}
	return "", fmt.Errorf("%q is not a translation strategy: use one of %s", s, strings.Join(names, ", "))
}

// namer turns OTLP metric names and attribute keys into Prometheus metric
// and label names with otlptranslator, as Prometheus' OTLP receiver does
// under the same translation strategy. A name repeats in every record, so
// each translation is cached; what it returns is never a view into its
// input.
type namer struct {
	metricNamer otlptranslator.MetricNamer
	labelNamer  otlptranslator.LabelNamer
	metrics     map[metricID]string
	labels      map[string]string
}

// metricID is what a metric's Prometheus name depends on.
type metricID struct {
	name, unit string
	typ        otlptranslator.MetricType
	prom       bool // A RemoteWriteScope metric: kept as it is.
}

func newNamer(s otlptranslator.TranslationStrategyOption) namer {
	return namer{
		metricNamer: otlptranslator.NewMetricNamer("", s),
		labelNamer:  otlptranslator.LabelNamer{UTF8Allowed: !s.ShouldEscape()},
		metrics:     map[metricID]string{},
		labels:      map[string]string{},
	}
}

// metric returns the Prometheus name of the metric name of unit unit and
// type typ: with the suffix strategies, "http.server.request.duration" of
// unit "s" is "http_server_request_duration_seconds", a monotonic counter
// ends in "_total" and a gauge of unit "1" in "_ratio". Prometheus refuses
// a metric whose name translates to nothing (one of no letter or digit);
// weir keeps its points under that name with every character outside
// [a-zA-Z0-9_:] replaced by '_' ("_" for an empty name).
func (n *namer) metric(name, unit string, typ otlptranslator.MetricType, prom bool) string {
	id := metricID{name, unit, typ, prom}
	if s, ok := n.metrics[id]; ok {
		return s
	}
	id.name, id.unit = strings.Clone(name), strings.Clone(unit) // Views into a record.
	s, err := id.name, error(nil)
	if !prom {
		s, err = n.metricNamer.Build(otlptranslator.Metric{Name: id.name, Unit: id.unit, Type: typ})
	}
	if err != nil || s == "" {
		s = sanitize(id.name, true)
	}
	if len(n.metrics) < maxNameCache {
		n.metrics[id] = s
	}
	return s
}

// label returns the Prometheus label name of attribute key key: with the
// escaping strategies, characters outside [a-zA-Z0-9] become '_' (runs of
// them one), a leading digit gets "key_" ("2xx" is "key_2xx"). A key that
// Prometheus refuses (empty, or of underscores only) is kept with its
// characters outside [a-zA-Z0-9_] replaced by '_' ("_" for an empty key).
func (n *namer) label(key string) string {
	if s, ok := n.labels[key]; ok {
		return s
	}
	key = strings.Clone(key) // A view into a record.
	s, err := n.labelNamer.Build(key)
	if err != nil {
		s = sanitize(key, false)
	}
	if len(n.labels) < maxNameCache {
		n.labels[key] = s
	}
	return s
}

// metricType is the otlptranslator type of a metric of pdata type t; sums
// are counters whether delta or cumulative, as for Prometheus.
func metricType(t pmetric.MetricType, monotonic bool) otlptranslator.MetricType {
	switch t {
	case pmetric.MetricTypeGauge:
		return otlptranslator.MetricTypeGauge
	case pmetric.MetricTypeSum:
		if monotonic {
			return otlptranslator.MetricTypeMonotonicCounter
		}
		return otlptranslator.MetricTypeNonMonotonicCounter
	case pmetric.MetricTypeHistogram:
		return otlptranslator.MetricTypeHistogram
	case pmetric.MetricTypeExponentialHistogram:
		return otlptranslator.MetricTypeExponentialHistogram
	case pmetric.MetricTypeSummary:
		return otlptranslator.MetricTypeSummary
	}
	return otlptranslator.MetricTypeUnknown
}

// resourceLabel is a label every point of a resource gets: job or
// instance (identifying: it wins over a point attribute of its name, as
// in Prometheus), or a promoted resource attribute (a point attribute of
// its label name wins over it).
type resourceLabel struct {
	name, value string
	identifying bool
}

// Resource attributes of the job and instance labels.
const (
	serviceNameAttr       = "service.name"
	serviceNamespaceAttr  = "service.namespace"
	serviceInstanceIDAttr = "service.instance.id"
)

// appendIdentity appends the job and instance labels of a resource:
// service.namespace/service.name (service.name alone without a namespace;
// none without a name) and service.instance.id.
func appendIdentity(dst []resourceLabel, ns, svc, inst string, hasNs, hasSvc, hasInst bool) []resourceLabel {
	if hasSvc {
		if hasNs {
			svc = ns + "/" + svc
		}
		dst = append(dst, resourceLabel{"job", svc, true})
	}
	if hasInst {
		dst = append(dst, resourceLabel{"instance", inst, true})
	}
	return dst
}
