package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/rules"
)

// Fault tests at weir's shipped defaults (see writeConfig): each one's
// remote-write output must equal the single-process reference exactly.

// traceBackend is an OTLP gRPC trace endpoint that can be down: it answers
// Unavailable while down, and counts the spans it accepted.
type traceBackend struct {
	ptraceotlp.UnimplementedGRPCServer
	addr  string
	down  atomic.Bool
	spans atomic.Int64
	calls atomic.Int64
}

func newTraceBackend(t *testing.T) *traceBackend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &traceBackend{addr: l.Addr().String()}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, b)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return b
}

func (b *traceBackend) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	b.calls.Add(1)
	if b.down.Load() {
		return ptraceotlp.NewExportResponse(), status.Error(codes.Unavailable, "trace backend down")
	}
	b.spans.Add(int64(req.Traces().SpanCount()))
	return ptraceotlp.NewExportResponse(), nil
}

func (b *traceBackend) config() string {
	return fmt.Sprintf("traces:\n  endpoint: %s\n  insecure: true\ntail_sampling:\n  decision_wait: 20s\n", b.addr)
}

// TestTraceSinkDown: one process' trace backend is down for 60 s. Only its
// traces wait (the second pass over the spans commits nothing meanwhile);
// the metrics output equals the reference, and the traces arrive once the
// backend is back.
func TestTraceSinkDown(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t, 1)
	down, up := newTraceBackend(t), newTraceBackend(t)
	down.down.Store(true)
	_, rw, want, cfg := scenario(t, brokers, "tracedown")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	a := startWeir(t, "a", cfg("a", down.config()))
	b := startWeir(t, "b", cfg("b", up.config()))
	time.Sleep(60 * time.Second)
	if exited(a, b) {
		t.Fatal("a weir process exited while a trace backend was down")
	}
	refused := down.calls.Load()
	down.down.Store(false)
	settle(ctx, rw, len(want))
	waitFor(ctx, time.Second, func() bool { return down.spans.Load() > 0 })
	a.stop(t)
	b.stop(t)
	got, conflicts := rw.snapshot()
	testenv.CompareOutput(t, want, got, conflicts)
	t.Logf("the down backend refused %d exports, then took %d spans; the other took %d", refused, down.spans.Load(), up.spans.Load())
	if refused == 0 || down.spans.Load() == 0 {
		t.Errorf("the outage was not exercised (%d refused exports) or its traces never arrived (%d spans)", refused, down.spans.Load())
	}
}

// TestStage1Stalled stops one of two processes (SIGSTOP) for twice the
// close timeout, then lets it go on (SIGCONT): its partitions move to the
// other after the session timeout, their windows wait for them, and the
// stalled process' stale transactions are fenced.
func TestStage1Stalled(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t, 1)
	_, rw, want, cfg := scenario(t, brokers, "stall")
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	a, b := startWeir(t, "a", cfg("a")), startWeir(t, "b", cfg("b"))
	waitFor(ctx, 50*time.Millisecond, func() bool { got, _ := rw.snapshot(); return len(got) > 0 || exited(a, b) })
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	const closeTimeout = 2 * time.Minute // the default: twice the 45s session timeout and 30s
	time.Sleep(2 * closeTimeout)
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	settle(ctx, rw, len(want))
	a.stop(t)
	b.stop(t)
	got, conflicts := rw.snapshot()
	testenv.CompareOutput(t, want, got, conflicts)
}

// TestRebalanceStorm: a member joins and leaves every 10 s for 2 minutes
// beside a steady one.
func TestRebalanceStorm(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t, 1)
	_, rw, want, cfg := scenario(t, brokers, "storm")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	steady := startWeir(t, "steady", cfg("steady"))
	end := time.Now().Add(2 * time.Minute)
	for i := 0; time.Now().Before(end); i++ {
		p := startWeir(t, fmt.Sprint("storm-", i), cfg(fmt.Sprint("storm-", i)))
		time.Sleep(10 * time.Second)
		p.stop(t)
	}
	settle(ctx, rw, len(want))
	steady.stop(t)
	got, conflicts := rw.snapshot()
	testenv.CompareOutput(t, want, got, conflicts)
}

func httpGet(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestClockSkewedPoint: one gauge point nine minutes ahead of its record's
// timestamp (within the 10m max future), in the middle of the input. It
// waits in its own window: every sample of the input without it is in the
// output, the skewed window too, and weir_ingest_clock_skew_seconds shows
// the skew.
func TestClockSkewedPoint(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t, 1)
	const prefix = "skew"
	in := genInput(t, prefix+"_spans", prefix+"_metrics", 6000, 200)
	plain := in
	plain.records = slices.Clone(in.records)
	mid := len(in.records) / 2
	for in.records[mid].Topic != prefix+"_metrics" {
		mid++
	}
	neighbour := in.records[mid]
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("e2e_gauge")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.Attributes().PutStr("job", "job-3")
	dp.Attributes().PutStr("instance", "skewed")
	dp.SetTimestamp(pcommon.NewTimestampFromTime(neighbour.Timestamp.Add(9 * time.Minute)))
	dp.SetDoubleValue(42)
	b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	skewed := &kgo.Record{Topic: neighbour.Topic, Partition: neighbour.Partition, Timestamp: neighbour.Timestamp, Value: b}
	in.records = slices.Insert(in.records, mid+1, skewed)

	dir, rw, want, cfg := scenarioOf(t, brokers, prefix, in)
	set, err := rules.Load(filepath.Join(dir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	without := reference(t, plain, set, prefix+"_spans", prefix+"_metrics")
	for k, v := range without {
		if want[k] != v {
			t.Fatalf("the reference with the skewed point lost or changed %s (%q, want %q): the skewed point closed others' windows", k, want[k], v)
		}
	}
	if len(want) <= len(without) {
		t.Fatalf("the reference has no samples of the skewed point's window (%d samples, %d without it)", len(want), len(without))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	a, b2 := startWeir(t, "a", cfg("a")), startWeir(t, "b", cfg("b"))
	addrs := []string{a.httpAddr(ctx), b2.httpAddr(ctx)}
	var seen float64
	waitFor(ctx, time.Second, func() bool {
		for _, addr := range addrs {
			if mt, err := scrape(ctx, addr); err == nil {
				if v, ok := mt.sum("weir_ingest_clock_skew_seconds"); ok {
					seen = max(seen, v)
				}
			}
		}
		got, _ := rw.snapshot()
		return len(got) >= len(want) || exited(a, b2)
	})
	settle(ctx, rw, len(want))
	a.stop(t)
	b2.stop(t)
	got, conflicts := rw.snapshot()
	testenv.CompareOutput(t, want, got, conflicts)
	if seen < 9*60 {
		t.Errorf("weir_ingest_clock_skew_seconds showed at most %v s, want at least the 540 s of the skewed point", seen)
	}
}
