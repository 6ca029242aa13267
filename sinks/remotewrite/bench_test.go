package remotewrite

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/prometheus/prompb"
)

// benchSeries is what one closed window of a rollup rule looks like: summary
// quantile series with an exemplar each.
func benchSeries(n int) []prompb.TimeSeries {
	out := make([]prompb.TimeSeries, n)
	for i := range out {
		out[i] = prompb.TimeSeries{
			Labels: []prompb.Label{
				{Name: "__name__", Value: "http_server_duration_seconds"},
				{Name: "http_route", Value: fmt.Sprintf("/api/v1/items/%d", i%50)},
				{Name: "quantile", Value: []string{"0.5", "0.9", "0.99", "0.999"}[i%4]},
				{Name: "service", Value: fmt.Sprintf("svc-%d", i%20)},
				{Name: "tenant", Value: "acme"},
			},
			Samples: []prompb.Sample{{Value: float64(i) * 0.001, Timestamp: 1_760_000_000_000}},
			Exemplars: []prompb.Exemplar{{
				Labels: []prompb.Label{
					{Name: "trace_id", Value: fmt.Sprintf("%032x", i)},
					{Name: "span_id", Value: fmt.Sprintf("%016x", i)},
				},
				Value:     float64(i) * 0.001,
				Timestamp: 1_759_999_999_123,
			}},
		}
	}
	return out
}

// BenchmarkEncode measures marshalling and compressing 1000 series with
// exemplars into a reused buffer, as Send does for every request.
func BenchmarkEncode(b *testing.B) {
	series := benchSeries(1000)
	var buf encodeBuf
	out, err := encode(&buf, series)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf.raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encode(&buf, series); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out)), "wire-B/req")
}

// BenchmarkDeliver measures a whole request of 1000 series with exemplars to
// a loopback receiver that discards the body, as a shard sends it.
func BenchmarkDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c, err := New(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	series := benchSeries(1000)
	r := request{series: series, weight: weightOf(series)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.deliver(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
