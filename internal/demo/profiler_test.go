package demo

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/weirdev/weir/cardinality"
)

// TestDemoProfiler: the demo's HTTP port answers the metrics profiler's
// questions from the profile topic its worker publishes to: Prometheus'
// /api/v1/status/tsdb lists the input metrics by series, and
// /api/v1/cardinality breaks one metric down by label, here the seven
// services of the demo shop, counted exactly at that size.
func TestDemoProfiler(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d, err := Start(ctx, Config{Listen: "127.0.0.1:0", Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := d.Wait(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	base := "http://" + d.Addr()
	const metric = "span_duration_seconds"
	var st cardinality.TSDBStatus
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var r struct {
			Data *cardinality.TSDBStatus `json:"data"`
		}
		r.Data = &st
		code := getJSON(t, base+cardinality.TSDBPath+"?limit=100", &r)
		if code == http.StatusOK && seriesOf(st, metric) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: HTTP %d, no series of %s among %v after 2 minutes", cardinality.TSDBPath, code, metric, st.SeriesCountByMetricName)
		}
		time.Sleep(time.Second)
	}
	if st.HeadStats.NumSeries < seriesOf(st, metric) {
		t.Errorf("head stats count %d series, fewer than %s's %d", st.HeadStats.NumSeries, metric, seriesOf(st, metric))
	}
	var m struct {
		Data struct {
			Series uint64                     `json:"series"`
			Labels []cardinality.LabelSummary `json:"labels"`
		} `json:"data"`
	}
	// Profiles are published every interval: poll until every service's
	// spans have been seen, but never more than there are.
	u := base + cardinality.CardinalityPath + "?" + url.Values{"tenant": {""}, "metric": {metric}}.Encode()
	services := uint64(0)
	for services < 7 && time.Now().Before(deadline) {
		if code := getJSON(t, u, &m); code != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d", u, code)
		}
		for _, l := range m.Data.Labels {
			if l.Label == "service_name" {
				services = l.Distinct
			}
		}
		time.Sleep(time.Second)
	}
	if services != 7 {
		t.Errorf("%s: %d distinct service_name values, want the demo shop's 7 (labels %+v)", metric, services, m.Data.Labels)
	}
	if code := getJSON(t, base+cardinality.CardinalityPath+"?metric=no_such_metric&tenant=", &m); code != http.StatusNotFound {
		t.Errorf("a metric without a profile: HTTP %d, want 404", code)
	}
}

func seriesOf(st cardinality.TSDBStatus, metric string) uint64 {
	for _, nv := range st.SeriesCountByMetricName {
		if nv.Name == metric {
			return nv.Value
		}
	}
	return 0
}
