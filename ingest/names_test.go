package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/otlptranslator"
	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

// sdkMetric is one metric as an OTel SDK writes it: a name, a unit and an
// instrument.
type sdkMetric struct {
	name, unit string
	kind       string // counter, updown (non-monotonic sum), gauge, histogram, exphistogram, summary
}

// batch returns the metric with one data point, attribute attr=v, of
// resource service.name=checkout.
func (m sdkMetric) batch(attr string) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	pm := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	pm.SetName(m.name)
	pm.SetUnit(m.unit)
	switch m.kind {
	case "counter", "updown":
		s := pm.SetEmptySum()
		s.SetIsMonotonic(m.kind == "counter")
		s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		dp := s.DataPoints().AppendEmpty()
		dp.SetIntValue(1)
		dp.Attributes().PutStr(attr, "v")
	case "gauge":
		dp := pm.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetDoubleValue(0.5)
		dp.Attributes().PutStr(attr, "v")
	case "histogram":
		h := pm.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		dp := h.DataPoints().AppendEmpty()
		dp.ExplicitBounds().FromRaw([]float64{1})
		dp.BucketCounts().FromRaw([]uint64{1, 0})
		dp.SetCount(1)
		dp.Attributes().PutStr(attr, "v")
	case "exphistogram":
		h := pm.SetEmptyExponentialHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		dp := h.DataPoints().AppendEmpty()
		dp.SetZeroCount(1)
		dp.SetCount(1)
		dp.Attributes().PutStr(attr, "v")
	case "summary":
		dp := pm.SetEmptySummary().DataPoints().AppendEmpty()
		dp.SetCount(1)
		dp.Attributes().PutStr(attr, "v")
	default:
		panic(m.kind)
	}
	return md
}

// names converts m with both decoders (ConvertProto hands histograms and
// summaries to pdata) and returns the __name__ of every point and the
// label name of attribute attr, failing t when the two decoders disagree.
func names(t *testing.T, strategy otlptranslator.TranslationStrategyOption, m sdkMetric, attr string) (metricNames []string, label string) {
	t.Helper()
	md := m.batch(attr)
	raw := mustMarshalMetrics(t, md)
	fast, ref := NewMetricConverter(TranslationStrategy(strategy)), NewMetricConverter(TranslationStrategy(strategy))
	got, want, _, err := convertBoth(fast, ref, raw, 0, "")
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%+v: ConvertProto and Convert disagree (%v):\n%s\nwant\n%s", m, err, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ref.Convert(md, "", func(p *sample.Point) {
		metricNames = append(metricNames, p.Labels.Get(metricNameLabel))
		p.Labels.Range(func(l labels.Label) {
			if l.Value == "v" {
				label = l.Name
			}
		})
	})
	return metricNames, label
}

// Metric names and attribute keys as Prometheus' OTLP receiver writes
// them, under each translation strategy, for what OTel SDKs send.
func TestNames(t *testing.T) {
	var (
		escapeSuffixes = otlptranslator.UnderscoreEscapingWithSuffixes
		escape         = otlptranslator.UnderscoreEscapingWithoutSuffixes
		utf8Suffixes   = otlptranslator.NoUTF8EscapingWithSuffixes
		none           = otlptranslator.NoTranslation
	)
	for _, tc := range []struct {
		strategy otlptranslator.TranslationStrategyOption
		m        sdkMetric
		want     string // __name__ of the points, ','-separated
	}{
		{escapeSuffixes, sdkMetric{"http.server.request.duration", "s", "histogram"}, "http_server_request_duration_seconds"},
		{escapeSuffixes, sdkMetric{"http.server.request.duration", "s", "exphistogram"}, "http_server_request_duration_seconds"},
		{escapeSuffixes, sdkMetric{"http.server.request.body.size", "By", "counter"}, "http_server_request_body_size_bytes_total"},
		{escapeSuffixes, sdkMetric{"http.server.requests", "{request}", "counter"}, "http_server_requests_total"},
		{escapeSuffixes, sdkMetric{"http.server.requests_total", "{request}", "counter"}, "http_server_requests_total"},
		{escapeSuffixes, sdkMetric{"requests.total.count", "", "counter"}, "requests_count_total"},
		{escapeSuffixes, sdkMetric{"db.client.operation.duration", "ms", "histogram"}, "db_client_operation_duration_milliseconds"},
		{escapeSuffixes, sdkMetric{"request.duration.seconds", "s", "histogram"}, "request_duration_seconds"},
		{escapeSuffixes, sdkMetric{"system.cpu.utilization", "1", "gauge"}, "system_cpu_utilization_ratio"},
		{escapeSuffixes, sdkMetric{"errors", "1", "counter"}, "errors_total"},
		{escapeSuffixes, sdkMetric{"process.memory.usage", "By", "gauge"}, "process_memory_usage_bytes"},
		{escapeSuffixes, sdkMetric{"db.client.connection.count", "{connection}", "updown"}, "db_client_connection_count"},
		{escapeSuffixes, sdkMetric{"system.network.io", "By/s", "gauge"}, "system_network_io_bytes_per_second"},
		{escapeSuffixes, sdkMetric{"küche.temperatur", "Cel", "gauge"}, "k_che_temperatur_celsius"},
		{escapeSuffixes, sdkMetric{"2xx.responses", "", "counter"}, "_2xx_responses_total"},
		{escapeSuffixes, sdkMetric{"ns:sub.size", "", "gauge"}, "ns:sub_size"},
		{escapeSuffixes, sdkMetric{"rpc.legacy.latency", "s", "summary"}, "rpc_legacy_latency_seconds_sum,rpc_legacy_latency_seconds_count"},
		{escapeSuffixes, sdkMetric{"...", "", "gauge"}, "___"}, // Prometheus refuses it.
		{escape, sdkMetric{"http.server.request.duration", "s", "histogram"}, "http_server_request_duration"},
		{escape, sdkMetric{"http.server.requests", "{request}", "counter"}, "http_server_requests"},
		{escape, sdkMetric{"system.cpu.utilization", "1", "gauge"}, "system_cpu_utilization"},
		{escape, sdkMetric{"2xx..responses", "", "counter"}, "_2xx_responses"},
		{utf8Suffixes, sdkMetric{"http.server.request.duration", "s", "histogram"}, "http.server.request.duration_seconds"},
		{utf8Suffixes, sdkMetric{"http.server.request.body.size", "By", "counter"}, "http.server.request.body.size_bytes_total"},
		{utf8Suffixes, sdkMetric{"system.cpu.utilization", "1", "gauge"}, "system.cpu.utilization_ratio"},
		{none, sdkMetric{"http.server.request.duration", "s", "histogram"}, "http.server.request.duration"},
		{none, sdkMetric{"http.server.requests", "{request}", "counter"}, "http.server.requests"},
	} {
		got, _ := names(t, tc.strategy, tc.m, "a")
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %+v is named %q, want %q", tc.strategy, tc.m, got, tc.want)
		}
	}
	for _, tc := range []struct {
		strategy  otlptranslator.TranslationStrategyOption
		key, want string
	}{
		{escapeSuffixes, "http.route", "http_route"},
		{escapeSuffixes, "http.response.status_code", "http_response_status_code"},
		{escapeSuffixes, "2xx", "key_2xx"},
		{escapeSuffixes, "küche", "k_che"},
		{escapeSuffixes, "a..b", "a_b"},
		{escapeSuffixes, "_private", "_private"},
		{escapeSuffixes, "__", "__"}, // Prometheus refuses it.
		{escape, "http.route", "http_route"},
		{utf8Suffixes, "http.route", "http.route"},
		{none, "küche", "küche"},
	} {
		_, got := names(t, tc.strategy, sdkMetric{"g", "", "gauge"}, tc.key)
		if got != tc.want {
			t.Errorf("%s: attribute %q is label %q, want %q", tc.strategy, tc.key, got, tc.want)
		}
	}
}

func TestParseTranslationStrategy(t *testing.T) {
	for _, s := range TranslationStrategies() {
		if got, err := ParseTranslationStrategy(string(s)); got != s || err != nil {
			t.Errorf("ParseTranslationStrategy(%q) = %q, %v", s, got, err)
		}
	}
	_, err := ParseTranslationStrategy("underscore_escaping")
	if err == nil || !strings.Contains(err.Error(), `"underscore_escaping"`) || !strings.Contains(err.Error(), "NoUTF8EscapingWithSuffixes") {
		t.Errorf("an unknown strategy: error %v, want it to name the value and the valid ones", err)
	}
}

// Past maxNameCache names, translations are not kept but still right.
func TestNamerBounded(t *testing.T) {
	n := newNamer(otlptranslator.UnderscoreEscapingWithSuffixes)
	for i := range 2 * maxNameCache {
		k := fmt.Sprintf("k.%d", i)
		if got, want := n.label(k), fmt.Sprintf("k_%d", i); got != want {
			t.Fatalf("label(%q) = %q, want %q", k, got, want)
		}
		if got, want := n.metric(k, "s", otlptranslator.MetricTypeGauge, false), fmt.Sprintf("k_%d_seconds", i); got != want {
			t.Fatalf("metric(%q) = %q, want %q", k, got, want)
		}
	}
	if len(n.labels) > maxNameCache || len(n.metrics) > maxNameCache {
		t.Fatalf("caches hold %d labels and %d metrics, bound %d", len(n.labels), len(n.metrics), maxNameCache)
	}
}

// Metrics of the remote-write receiver's scope carry Prometheus names
// already: a counter without _total, a histogram's _bucket series (a
// counter too) and label names keep theirs, under every strategy, where
// the same metrics of another scope are translated.
func TestRemoteWriteNamesKept(t *testing.T) {
	batch := func(scope string) pmetric.Metrics {
		md := pmetric.NewMetrics()
		sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(scope)
		for _, name := range []string{"http_requests", "rpc_duration_seconds_bucket"} {
			m := sm.Metrics().AppendEmpty()
			m.SetName(name)
			m.SetUnit("seconds")
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			dp := s.DataPoints().AppendEmpty()
			dp.SetIntValue(1)
			dp.Attributes().PutStr("a__b", "v")
			dp.Attributes().PutStr("le", "0.5")
		}
		return md
	}
	for _, tc := range []struct {
		scope string
		want  string
	}{
		{RemoteWriteScope, `{__name__="http_requests", a__b="v", le="0.5"} {__name__="rpc_duration_seconds_bucket", a__b="v", le="0.5"}`},
		{"otelhttp", `{__name__="http_requests_seconds_total", a_b="v", le="0.5"} {__name__="rpc_duration_seconds_bucket_total", a_b="v", le="0.5"}`},
	} {
		for _, s := range TranslationStrategies() {
			if tc.scope != RemoteWriteScope && s != otlptranslator.UnderscoreEscapingWithSuffixes {
				continue
			}
			md := batch(tc.scope)
			raw := mustMarshalMetrics(t, md)
			fast, ref := NewMetricConverter(TranslationStrategy(s)), NewMetricConverter(TranslationStrategy(s))
			got, want, took, err := convertBoth(fast, ref, raw, 0, "")
			if err != nil || !took || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("%s, %s: ConvertProto (took %v) and Convert disagree (%v):\n%s\nwant\n%s", tc.scope, s, took, err, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			var names []string
			ref.Convert(md, "", func(p *sample.Point) { names = append(names, p.Labels.String()) })
			if g := strings.Join(names, " "); g != tc.want {
				t.Errorf("%s, %s: %s, want %s", tc.scope, s, g, tc.want)
			}
		}
	}
}
