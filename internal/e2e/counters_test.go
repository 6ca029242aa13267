package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/receiver"
)

const counterRules = `
rollup:
  - name: requests
    match: e2e_requests_total
    output: e2e_requests
    by: [job]
    aggregations: [total]
    policies: [10s:2d]
  - name: latency
    match: '{__name__="span_duration_seconds"}'
    output: e2e_latency_seconds
    by: [service_name]
    aggregations: [histogram]
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]
    policies: [10s:2d]
`

// counterRate is the input's true rate: 10 requests every 100 ms.
const counterRate = 100.0

// TestCountersOnPrometheus feeds the real Prometheus through weir run, killed
// with SIGKILL mid-run and restarted: rate() over the total output equals the
// input's true rate everywhere, and histogram_quantile(rate(_bucket)) over the
// histogram output answers, as for counters and histograms Prometheus
// scraped.
func TestCountersOnPrometheus(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t, 1)
	prom := testenv.Prometheus(t)
	prefix := fmt.Sprintf("ctr%x", time.Now().UnixNano()&0xffffff)
	spansTopic, metricsTopic := prefix+"_spans", prefix+"_metrics"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Six minutes of input ending a minute ago, event-time ordered.
	const steps = 3600
	base := time.Now().Add(-7 * time.Minute).Truncate(10 * time.Second)
	g := loadgen.New(loadgen.WithSeed(7))
	var recs []*kgo.Record
	for i := range steps {
		at := base.Add(time.Duration(i) * 100 * time.Millisecond)
		md := pmetric.NewMetrics()
		m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("e2e_requests")
		sum := m.SetEmptySum()
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		sum.SetIsMonotonic(true)
		dp := sum.DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
		dp.SetDoubleValue(counterRate / 10)
		dp.Attributes().PutStr("job", "api")
		b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: metricsTopic, Partition: int32(i % 4), Value: b})
		rs, err := receiver.TraceRecords(spansTopic, g.NextTrace(at))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), inputPartitioner(metricsTopic), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 4, -1, nil, spansTopic, metricsTopic); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(counterRules), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, "ctr", brokers, prom+"/api/v1/write", spansTopic, metricsTopic, 1)
	a := startWeir(t, "a", cfg)
	samples := func() int {
		r, err := promInstant(ctx, prom, `count_over_time(e2e_requests_total[1h])`, time.Now())
		if err != nil || len(r) == 0 {
			return 0
		}
		return int(r[0])
	}
	waitFor(ctx, 200*time.Millisecond, func() bool { return samples() > 5 || exited(a) })
	a.kill()
	t.Logf("killed weir with %d samples of the counter in Prometheus", samples())
	b := startWeir(t, "b", cfg)
	last, stable := -1, 0
	waitFor(ctx, time.Second, func() bool {
		n := samples()
		if n == last && n >= steps/100-1 {
			stable++
		} else {
			stable = 0
		}
		last = n
		return stable >= 5 || exited(b)
	})
	b.stop(t)
	if n := samples(); n < steps/100-1 {
		t.Fatalf("%d samples of the counter in Prometheus, want a window's each of the %d", n, steps/100)
	}
	for _, at := range []time.Duration{90 * time.Second, 3 * time.Minute, 5 * time.Minute} {
		ts := base.Add(at)
		r, err := promInstant(ctx, prom, `rate(e2e_requests_total[1m])`, ts)
		if err != nil || len(r) != 1 {
			t.Fatalf("rate at +%v: %v, %v", at, r, err)
		}
		if math.Abs(r[0]-counterRate) > 1e-9*counterRate {
			t.Errorf("rate(e2e_requests_total[1m]) at +%v = %v, want the input's %v", at, r[0], counterRate)
		}
	}
	q, err := promInstant(ctx, prom, `histogram_quantile(0.99, sum by (le) (rate(e2e_latency_seconds_bucket[1m])))`, base.Add(3*time.Minute))
	if err != nil || len(q) != 1 || !(q[0] > 0 && q[0] <= 5) {
		t.Fatalf("histogram_quantile over the histogram output: %v, %v; want a p99 within the buckets", q, err)
	}
}

// promInstant evaluates query at ts and returns the vector's values.
func promInstant(ctx context.Context, base, query string, ts time.Time) ([]float64, error) {
	u := base + "/api/v1/query?" + url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(ts.UnixMilli())/1000, 'f', 3, 64)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", query, r.Error)
	}
	var out []float64
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(strings.TrimSpace(str), 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
