package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/sample"
)

// TestNamesAsPrometheusOTLP writes SDK-shaped OTLP to the real Prometheus'
// own OTLP receiver and through weir's converter: the metric names weir
// gives them are the ones Prometheus gives them (an explicit histogram's
// base name for its _bucket, _sum and _count).
func TestNamesAsPrometheusOTLP(t *testing.T) {
	t.Parallel()
	prom := testenv.Prometheus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tag := fmt.Sprintf("n%x", time.Now().UnixNano()&0xffffff)
	now := pcommon.NewTimestampFromTime(time.Now())
	start := pcommon.NewTimestampFromTime(time.Now().Add(-time.Minute))
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout-"+tag)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	hist := func(name, unit string) {
		m := ms.AppendEmpty()
		m.SetName(name + "." + tag)
		m.SetUnit(unit)
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := h.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(now)
		dp.ExplicitBounds().FromRaw([]float64{0.1, 1})
		dp.BucketCounts().FromRaw([]uint64{1, 2, 3})
		dp.SetCount(6)
		dp.SetSum(7)
	}
	sum := func(name, unit string, monotonic bool) {
		m := ms.AppendEmpty()
		m.SetName(name + "." + tag)
		m.SetUnit(unit)
		s := m.SetEmptySum()
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		s.SetIsMonotonic(monotonic)
		dp := s.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(now)
		dp.SetIntValue(42)
	}
	gauge := func(name, unit string) {
		m := ms.AppendEmpty()
		m.SetName(name + "." + tag)
		m.SetUnit(unit)
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(now)
		dp.SetDoubleValue(0.5)
	}
	hist("http.server.request.duration", "s")
	sum("http.server.request.body.size", "By", true)
	sum("process.runtime.go.goroutines", "{goroutine}", false)
	gauge("system.cpu.utilization", "1")
	sum("db.client.connections.usage", "{connection}", true)

	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, prom+"/api/v1/otlp/v1/metrics", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Prometheus' OTLP receiver: %s", resp.Status)
	}

	var promNames []string
	waitFor(ctx, 200*time.Millisecond, func() bool {
		promNames = labelValues(t, ctx, prom, tag)
		return len(promNames) >= 7
	})

	// Cumulative points are baselines for weir: the names are those of
	// the next collection's points.
	conv := ingest.NewMetricConverter()
	conv.Convert(md, "", func(*sample.Point) {})
	later := pmetric.NewMetrics()
	md.CopyTo(later)
	bump(later)
	var weirNames []string
	conv.Convert(later, "", func(p *sample.Point) {
		name := p.Labels.Get("__name__")
		if p.Kind == sample.Histogram {
			weirNames = append(weirNames, name+"_bucket", name+"_count", name+"_sum")
			return
		}
		weirNames = append(weirNames, name)
	})
	slices.Sort(weirNames)
	weirNames = slices.Compact(weirNames)
	slices.Sort(promNames)
	if !slices.Equal(weirNames, promNames) {
		t.Errorf("names:\nweir:       %v\nPrometheus: %v", weirNames, promNames)
	}
	if !slices.Contains(promNames, "http_server_request_duration_"+tag+"_seconds_bucket") || !slices.Contains(promNames, "http_server_request_body_size_"+tag+"_bytes_total") {
		t.Errorf("Prometheus named them %v: not the SDK names with unit and type suffixes", promNames)
	}
	t.Logf("names: %v", weirNames)
}

// bump moves every point of md a second on and raises its counts, as an
// SDK's next collection would.
func bump(md pmetric.Metrics) {
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				switch m.Type() {
				case pmetric.MetricTypeHistogram:
					for _, dp := range m.Histogram().DataPoints().All() {
						dp.SetTimestamp(dp.Timestamp() + pcommon.Timestamp(time.Second))
						dp.BucketCounts().FromRaw([]uint64{2, 3, 4})
						dp.SetCount(9)
					}
				case pmetric.MetricTypeSum:
					for _, dp := range m.Sum().DataPoints().All() {
						dp.SetTimestamp(dp.Timestamp() + pcommon.Timestamp(time.Second))
						dp.SetIntValue(dp.IntValue() + 1)
					}
				case pmetric.MetricTypeGauge:
					for _, dp := range m.Gauge().DataPoints().All() {
						dp.SetTimestamp(dp.Timestamp() + pcommon.Timestamp(time.Second))
					}
				}
			}
		}
	}
}

// labelValues returns the metric names Prometheus holds that contain tag.
func labelValues(t *testing.T, ctx context.Context, prom, tag string) []string {
	t.Helper()
	u := prom + "/api/v1/label/__name__/values?" + url.Values{"start": {fmt.Sprint(time.Now().Add(-time.Hour).Unix())}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data []string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range r.Data {
		if strings.Contains(n, tag) {
			out = append(out, n)
		}
	}
	return out
}
