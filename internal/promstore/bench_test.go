package promstore

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/prometheus/prometheus/prompb"
)

// BenchmarkWrite writes what one closed window of a rollup produces: 100
// series (25 services x 4 quantiles), one sample and one exemplar each.
func BenchmarkWrite(b *testing.B) {
	s := openStore(b)
	batch := make([]prompb.TimeSeries, 0, 100)
	for svc := range 25 {
		for _, q := range []string{"0.5", "0.9", "0.99", "0.999"} {
			ts := series(map[string]string{
				"__name__": "http_server_duration_seconds",
				"service":  fmt.Sprintf("svc-%02d", svc),
				"quantile": q,
			}, prompb.Sample{Value: 0.1})
			ts = withExemplar(ts, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 0.1, 0)
			batch = append(batch, ts)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for ; b.Loop(); i++ {
		t := base + int64(i)*10_000
		for j := range batch {
			batch[j].Samples[0].Timestamp = t
			batch[j].Samples[0].Value = float64(i)
			batch[j].Exemplars[0].Timestamp = t
		}
		if err := s.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*len(batch)), "ns/series")
}

// BenchmarkQueryRange renders an hour of 10s points of 100 series.
func BenchmarkQueryRange(b *testing.B) {
	s := openStore(b)
	const points = 360
	batch := make([]prompb.TimeSeries, 0, 100)
	for svc := range 100 {
		ts := series(map[string]string{"__name__": "rollup", "service": fmt.Sprint(svc)})
		for p := range points {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: base + int64(p)*10_000, Value: math.Sqrt(float64(p))})
		}
		batch = append(batch, ts)
	}
	if err := s.Write(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	q := url.Values{
		"query": {"rollup"},
		"start": {fmt.Sprint(base / 1000)},
		"end":   {fmt.Sprint(base/1000 + points*10)},
		"step":  {"10s"},
	}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/query_range?"+q, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
