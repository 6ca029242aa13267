package receiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// fakeKafka stands in for the Kafka client: it keeps what it acknowledges,
// fails records as fail says, and holds every produce until release is
// closed (when set).
type fakeKafka struct {
	mu      sync.Mutex
	recs    []*kgo.Record
	fail    func(*kgo.Record) error
	release chan struct{}
	entered chan struct{} // receives once per ProduceSync call, when set
}

func (f *fakeKafka) ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			out := make(kgo.ProduceResults, len(rs))
			for i, r := range rs {
				out[i] = kgo.ProduceResult{Record: r, Err: ctx.Err()}
			}
			return out
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(kgo.ProduceResults, len(rs))
	for i, r := range rs {
		var err error
		if f.fail != nil {
			err = f.fail(r)
		}
		if err == nil {
			f.recs = append(f.recs, r)
		}
		out[i] = kgo.ProduceResult{Record: r, Err: err}
	}
	return out
}

func (f *fakeKafka) records() []*kgo.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*kgo.Record(nil), f.recs...)
}

// start runs a receiver on f with every protocol on a free port.
func start(t *testing.T, f syncProducer, cfg Config) (*Receiver, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.GRPC, cfg.HTTP, cfg.RemoteWrite = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if cfg.SpansTopic == "" {
		cfg.SpansTopic, cfg.MetricsTopic = "spans", "metrics"
	}
	cfg.Reg = reg
	r, err := newReceiver(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r, reg
}

func post(t *testing.T, url, contentType string, headers map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func traceID(b byte) pcommon.TraceID { return pcommon.TraceID{0: 0xab, 15: b} }

// twoServices is what an SDK pair sends: services A (traces 1 and 2) and B
// (trace 1).
func twoServices() ptrace.Traces {
	td := ptrace.NewTraces()
	for _, svc := range []struct {
		name   string
		traces []byte
	}{{"A", []byte{1, 2, 1}}, {"B", []byte{1}}} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc.name)
		ss := rs.ScopeSpans().AppendEmpty()
		for i, tr := range svc.traces {
			sp := ss.Spans().AppendEmpty()
			sp.SetName(svc.name + string(rune('0'+i)))
			sp.SetTraceID(traceID(tr))
			sp.SetSpanID(pcommon.SpanID{7: byte(i + 1)})
		}
	}
	return td
}

func gauges(n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "app")
	dps := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	dps.SetName("queue_depth")
	g := dps.SetEmptyGauge().DataPoints()
	for i := range n {
		dp := g.AppendEmpty()
		dp.SetIntValue(int64(i))
		dp.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + i))
	}
	return md
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
