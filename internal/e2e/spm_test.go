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
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/receiver"
)

// TestJaegerMonitorTab runs the shipped configs/rules/jaeger-spm.yaml in weir
// run on live spans, writing to the real Prometheus, and asks a real Jaeger
// whose metrics backend is that Prometheus what its Monitor tab asks: call
// rates, error rates and p95 latencies of a service's server spans. Each
// answer holds points with values, and the call rate is the input's.
func TestJaegerMonitorTab(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t, 1)
	prom := testenv.Prometheus(t)
	jaeger := testenv.JaegerSPM(t, prom)
	prefix := fmt.Sprintf("spm%x", time.Now().UnixNano()&0xffffff)
	spansTopic, metricsTopic := prefix+"_spans", prefix+"_metrics"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Three minutes of traces ending now, 50 per second.
	const traces = 9000
	end := time.Now()
	base := end.Add(-traces * 20 * time.Millisecond)
	g := loadgen.New(loadgen.WithSeed(5))
	var recs []*kgo.Record
	servers := map[string]int{} // server spans per service
	errs := map[string]int{}
	durs := map[string][]float64{}
	for i := range traces {
		tr := g.NextTrace(base.Add(time.Duration(i) * 20 * time.Millisecond))
		rs, err := receiver.TraceRecords(spansTopic, tr)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
		for _, rs := range tr.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					if sp.Kind() != ptrace.SpanKindServer {
						continue
					}
					servers[svc.Str()]++
					durs[svc.Str()] = append(durs[svc.Str()], sp.EndTimestamp().AsTime().Sub(sp.StartTimestamp().AsTime()).Seconds())
					if sp.Status().Code() == ptrace.StatusCodeError {
						errs[svc.Str()]++
					}
				}
			}
		}
	}
	svc, most := "", 0
	for s, n := range servers {
		if n > most {
			svc, most = s, n
		}
	}
	if svc == "" {
		t.Fatal("the load generator made no server span")
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
	shipped, err := os.ReadFile(filepath.Join(testenv.Root(t), "configs", "rules", "jaeger-spm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), shipped, 0o644); err != nil {
		t.Fatal(err)
	}
	w := startWeir(t, "spm", writeConfig(t, dir, prefix, brokers, prom+"/api/v1/write", spansTopic, metricsTopic, 1))
	// Every window of the input written: the last closes once its
	// partitions have been idle for the idle timeout.
	written := func() bool {
		r, err := promInstant(ctx, prom, fmt.Sprintf(`max(timestamp(traces_span_metrics_calls_total{service_name=%q}))`, svc), time.Now())
		return err == nil && len(r) == 1 && r[0] >= float64(end.Add(-10*time.Second).Unix())
	}
	waitFor(ctx, time.Second, func() bool { return written() || exited(w) })
	if !written() {
		t.Fatalf("weir did not write the input's last windows of %s", svc)
	}

	at := end.Add(-30 * time.Second)
	q := url.Values{
		"service":  {svc},
		"spanKind": {"server"},
		"endTs":    {strconv.FormatInt(at.UnixMilli(), 10)},
		"lookback": {strconv.FormatInt((2 * time.Minute).Milliseconds(), 10)},
		"step":     {strconv.FormatInt((15 * time.Second).Milliseconds(), 10)},
		"ratePer":  {strconv.FormatInt(time.Minute.Milliseconds(), 10)},
	}
	calls := jaegerMetric(t, ctx, jaeger, "calls", q)
	var rate float64
	for _, p := range calls {
		rate = p // the last point: the minute before at
	}
	want := float64(most) / (traces * 0.020) // server spans per second
	if math.Abs(rate-want) > 0.2*want {
		t.Errorf("Monitor tab: %s calls at %.2f/s, want the input's %.2f/s", svc, rate, want)
	}
	// histogram_quantile interpolates within the bucket that holds the
	// true p95: the answer is in that bucket's bounds.
	d := durs[svc]
	slices.Sort(d)
	p95 := d[int(math.Ceil(0.95*float64(len(d))))-1]
	lo, hi := spmBucket(p95)
	q.Set("quantile", "0.95")
	lat := jaegerMetric(t, ctx, jaeger, "latencies", q)
	if p := lat[len(lat)-1]; p < lo || p > hi {
		t.Errorf("Monitor tab: %s p95 latency %v s, want one in the bucket (%v, %v] of the input's %v s", svc, p, lo, hi, p95)
	}
	q.Del("quantile")
	er := jaegerMetric(t, ctx, jaeger, "errors", q)
	wantErr := float64(errs[svc]) / float64(most)
	if p := er[len(er)-1]; math.Abs(p-wantErr) > max(0.5*wantErr, 0.005) {
		t.Errorf("Monitor tab: %s error rate %v, want about the input's %v", svc, p, wantErr)
	}
	w.stop(t)
}

// spmBuckets are the bounds configs/rules/jaeger-spm.yaml writes.
var spmBuckets = []float64{0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15}

// spmBucket returns the bounds of the bucket that holds v.
func spmBucket(v float64) (lo, hi float64) {
	for _, b := range spmBuckets {
		if v <= b {
			return lo, b
		}
		lo = b
	}
	return lo, math.Inf(1)
}

// jaegerMetric asks Jaeger's /api/metrics/KIND for q and returns the values
// of the one series' points; the test fails unless there is one series with
// points that all have values.
func jaegerMetric(t *testing.T, ctx context.Context, jaeger, kind string, q url.Values) []float64 {
	t.Helper()
	u := jaeger + "/api/metrics/" + kind + "?" + q.Encode()
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
		Metrics []struct {
			MetricPoints []struct {
				GaugeValue struct {
					DoubleValue *float64 `json:"doubleValue"`
				} `json:"gaugeValue"`
			} `json:"metricPoints"`
		} `json:"metrics"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if len(r.Metrics) != 1 || len(r.Metrics[0].MetricPoints) == 0 {
		t.Fatalf("GET %s: %d series, want one with points", u, len(r.Metrics))
	}
	var out []float64
	for _, p := range r.Metrics[0].MetricPoints {
		if p.GaugeValue.DoubleValue == nil || math.IsNaN(*p.GaugeValue.DoubleValue) {
			t.Fatalf("GET %s: a point without a value", u)
		}
		out = append(out, *p.GaugeValue.DoubleValue)
	}
	t.Logf("%s: %v", kind, out)
	return out
}
