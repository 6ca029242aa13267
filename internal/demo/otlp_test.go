package demo

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// app is an application instrumented with an OpenTelemetry SDK exporting
// OTLP/HTTP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT: each request is a
// server span with a client span below it; a gauge goes out with each batch.
type app struct {
	endpoint string
	rng      *rand.Rand
	mu       sync.Mutex
	spans    map[string]int // trace ID → spans sent
}

const appService = "otlp-demo-app"

func (a *app) send(t *testing.T, now time.Time) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", appService)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	a.mu.Lock()
	for range 5 {
		var tid pcommon.TraceID
		var root, child pcommon.SpanID
		for i := range tid {
			tid[i] = byte(a.rng.Uint32())
		}
		for i := range root {
			root[i], child[i] = byte(a.rng.Uint32()|1), byte(a.rng.Uint32()|1)
		}
		d := time.Duration(5+a.rng.IntN(200)) * time.Millisecond
		start := now.Add(-d)
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(root)
		sp.SetName("GET /cart")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
		c := ss.Spans().AppendEmpty()
		c.SetTraceID(tid)
		c.SetSpanID(child)
		c.SetParentSpanID(root)
		c.SetName("SELECT cart")
		c.SetKind(ptrace.SpanKindClient)
		c.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
		c.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Millisecond)))
		a.spans[tid.String()] = 2
	}
	a.mu.Unlock()
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Error(err)
		return
	}
	a.post(t, "/v1/traces", body)

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", appService)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("otlp_demo_app_queue_depth")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
	dp.SetIntValue(int64(a.rng.IntN(10)))
	body, err = pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		t.Error(err)
		return
	}
	a.post(t, "/v1/metrics", body)
}

func (a *app) post(t *testing.T, path string, body []byte) {
	resp, err := http.Post(a.endpoint+path, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Errorf("POST %s: %v", path, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST %s: %s", path, resp.Status)
	}
}

func (a *app) sent(traceID string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.spans[traceID]
}

// TestDemoOTLPApp is issue 22's acceptance: an app pointed at the demo's
// OTLP/HTTP receiver finds, a decision wait after its spans, its own trace
// behind the p99 exemplar of its own operation, and its metric in the store.
func TestDemoOTLPApp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d, err := Start(ctx, Config{Listen: "127.0.0.1:0", OTLPHTTP: "127.0.0.1:0", TraceRate: 20, Seed: 7})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := d.Wait(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	if d.OTLPGRPCAddr() != "" || d.RemoteWriteAddr() != "" {
		t.Errorf("receivers on that were not asked for: %q %q", d.OTLPGRPCAddr(), d.RemoteWriteAddr())
	}
	a := &app{endpoint: "http://" + d.OTLPHTTPAddr(), rng: rand.New(rand.NewPCG(1, 2)), spans: map[string]int{}}
	appCtx, stopApp := context.WithCancel(context.Background())
	appDone := make(chan struct{})
	go func() {
		defer close(appDone)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-appCtx.Done():
				return
			case now := <-tick.C:
				a.send(t, now)
			}
		}
	}()
	defer func() { stopApp(); <-appDone }()

	base := "http://" + d.Addr()
	sel := fmt.Sprintf(`span_duration_seconds{quantile="0.99",service_name=%q,span_name="GET /cart"}`, appService)
	start := time.Now()
	deadline := start.Add(3 * time.Minute)
	var traceID string
	for traceID == "" && time.Now().Before(deadline) {
		var exs []exemplarSeries
		promQuery(t, base, "/api/v1/query_exemplars", url.Values{
			"query": {sel}, "start": {fmt.Sprint(start.Add(-time.Minute).Unix())},
			"end": {fmt.Sprint(time.Now().Add(-DecisionWait - 5*time.Second).Unix())},
		}, &exs)
		for _, es := range exs {
			for _, ex := range es.Exemplars {
				if id := ex.Labels["trace_id"]; a.sent(id) > 0 {
					traceID = id
				} else {
					t.Fatalf("exemplar of %s names trace %q, which the app did not send", sel, id)
				}
			}
		}
		if traceID == "" {
			time.Sleep(time.Second)
		}
	}
	if traceID == "" {
		t.Fatalf("no exemplar of %s a decision wait old within 3 minutes", sel)
	}
	t.Logf("exemplar of the app's p99 after %v: trace %s", time.Since(start).Round(time.Second), traceID)
	var tr jaegerTrace
	for time.Now().Before(deadline) {
		if code := getJSON(t, base+"/api/traces/"+traceID, &tr); code == http.StatusOK && len(tr.Data) == 1 && len(tr.Data[0].Spans) == a.sent(traceID) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(tr.Data) != 1 || tr.Data[0].TraceID != traceID || len(tr.Data[0].Spans) != a.sent(traceID) {
		t.Fatalf("/api/traces/%s: %+v, want the app's trace with its %d spans", traceID, tr.Data, a.sent(traceID))
	}

	var series []vectorSample
	promQuery(t, base, "/api/v1/query", url.Values{"query": {`{__name__=~"otlp_demo_app_queue_depth.*"}`}}, &struct {
		Result *[]vectorSample `json:"result"`
	}{&series})
	if len(series) == 0 {
		t.Errorf("the app's gauge is not in the store")
	}
}
