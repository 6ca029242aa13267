package ingest

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// The OTel SDK's HTTP server histogram, as a Go or Java app sends it, is
// the input of configs/rules/example.yaml's latency rollup: the point is
// named http_server_request_duration_seconds (whose series the buckets
// aggregation writes as _bucket, _sum and _count), labelled as Prometheus'
// OTLP receiver labels it, and the rule groups it by job and route.
func TestSDKHistogramMatchesExampleRule(t *testing.T) {
	set, err := rules.Load("../configs/rules/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	ra := rm.Resource().Attributes()
	ra.PutStr("service.name", "checkout")
	ra.PutStr("service.instance.id", "627cc493-f310-47de-96bd-71410b7dec09")
	ra.PutStr("telemetry.sdk.language", "go")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	m := sm.Metrics().AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	dp := h.DataPoints().AppendEmpty()
	dp.SetTimestamp(ts(0))
	dp.ExplicitBounds().FromRaw([]float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10})
	dp.BucketCounts().FromRaw([]uint64{0, 1, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	dp.SetCount(7)
	dp.SetSum(0.19)
	dp.Attributes().PutStr("http.request.method", "GET")
	dp.Attributes().PutStr("http.route", "/cart")
	dp.Attributes().PutInt("http.response.status_code", 200)
	dp.Attributes().PutStr("url.scheme", "http")

	var pts []sample.Point
	NewMetricConverter().Convert(md, "", func(p *sample.Point) { pts = append(pts, *p) })
	if len(pts) != 1 || pts[0].Kind != sample.Histogram {
		t.Fatalf("got points %v, want one histogram", pointStrings(pts))
	}
	want := labels.FromStrings("__name__", "http_server_request_duration_seconds",
		"job", "checkout", "instance", "627cc493-f310-47de-96bd-71410b7dec09",
		"http_request_method", "GET", "http_route", "/cart", "http_response_status_code", "200", "url_scheme", "http")
	if !labels.Equal(pts[0].Labels, want) {
		t.Fatalf("labels %s, want %s", pts[0].Labels, want)
	}
	match := set.Match(pts[0].Labels)
	if len(match.Outputs) != 1 {
		t.Fatalf("example rules: %+v, want the latency rollup alone", match)
	}
	out := match.Outputs[0]
	wantOut := labels.FromStrings("__name__", "http_server_request_duration_seconds:by_service",
		"job", "checkout", "http_route", "/cart", "http_response_status_code", "200")
	if out.Rule != "http-latency-by-service" || !labels.Equal(out.Labels, wantOut) {
		t.Errorf("rule %q writes %s, want http-latency-by-service writing %s", out.Rule, out.Labels, wantOut)
	}
	if !hasAggregation(out.Aggregations, "p99") {
		t.Errorf("the rollup's aggregations %v have no p99", out.Aggregations)
	}
}

func hasAggregation(as []aggregator.Aggregation, name string) bool {
	for _, a := range as {
		if a.String() == name {
			return true
		}
	}
	return false
}
