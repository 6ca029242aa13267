package otlptrace

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/weirdev/weir/sinks/sendqueue"
)

func newExporter(t *testing.T, endpoint string, opts ...Opt) *Exporter {
	t.Helper()
	e, err := New(endpoint, append([]Opt{WithInsecure(), WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func failed(e *Exporter, reason string) float64 {
	return testutil.ToFloat64(e.m.failed.WithLabelValues(reason))
}

func TestExportSpansArriveIntact(t *testing.T) {
	srv := &traceServer{}
	e := newExporter(t, srv.start(t), WithHeaders(map[string]string{
		"X-Scope-OrgID": "acme",
		"authorization": "Bearer t0ken",
	}))
	in := testTraces(10)
	if err := e.Export(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	var m ptrace.ProtoMarshaler
	want, err := m.MarshalTraces(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.MarshalTraces(reqs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("received traces differ from the exported ones")
	}
	if n := reqs[0].SpanCount(); n != 10 {
		t.Errorf("server got %d spans, want 10", n)
	}
	sp := reqs[0].ResourceSpans().At(1).ScopeSpans().At(0).Spans().At(2)
	if sp.TraceID()[15] != 5 || sp.Events().At(0).Name() != "exception" || sp.TraceState().AsRaw() != "vendor=1" {
		t.Errorf("span 5 arrived as trace %v, events %d, tracestate %q", sp.TraceID(), sp.Events().Len(), sp.TraceState().AsRaw())
	}
	md := srv.md[0]
	if got := md.Get("x-scope-orgid"); !slices.Equal(got, []string{"acme"}) {
		t.Errorf("metadata x-scope-orgid = %v, want [acme]", got)
	}
	if got := md.Get("authorization"); !slices.Equal(got, []string{"Bearer t0ken"}) {
		t.Errorf("metadata authorization = %v, want [Bearer t0ken]", got)
	}
	if n := testutil.ToFloat64(e.m.spans); n != 10 {
		t.Errorf("spans_total = %v, want 10", n)
	}
}

func TestExportRetriesRetryableCodes(t *testing.T) {
	for _, code := range []codes.Code{codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted} {
		t.Run(code.String(), func(t *testing.T) {
			srv := &traceServer{respond: func(_ context.Context, n int) (ptraceotlp.ExportResponse, error) {
				if n == 0 {
					return ptraceotlp.NewExportResponse(), status.Error(code, "try later")
				}
				return ptraceotlp.NewExportResponse(), nil
			}}
			e := newExporter(t, srv.start(t))
			if err := e.Export(context.Background(), testTraces(5)); err != nil {
				t.Fatal(err)
			}
			if got := len(srv.requests()); got != 2 {
				t.Errorf("server got %d requests, want 2", got)
			}
			if n := testutil.ToFloat64(e.m.retries); n != 1 {
				t.Errorf("retries_total = %v, want 1", n)
			}
			if n := testutil.ToFloat64(e.m.spans); n != 5 {
				t.Errorf("spans_total = %v, want 5", n)
			}
			if n := failed(e, reasonRejected) + failed(e, reasonGaveUp); n != 0 {
				t.Errorf("failed spans = %v, want 0", n)
			}
		})
	}
}

// TestExportHonoursRetryInfo sets a backoff of an hour: the retry can only
// come within the test's deadline if the server's RetryInfo of 0s is obeyed.
func TestExportHonoursRetryInfo(t *testing.T) {
	srv := &traceServer{respond: func(_ context.Context, n int) (ptraceotlp.ExportResponse, error) {
		if n == 0 {
			st, err := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(0)})
			if err != nil {
				return ptraceotlp.NewExportResponse(), status.Error(codes.Internal, err.Error())
			}
			return ptraceotlp.NewExportResponse(), st.Err()
		}
		return ptraceotlp.NewExportResponse(), nil
	}}
	e := newExporter(t, srv.start(t), WithBackoff(time.Hour, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Export(ctx, testTraces(1)); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.requests()); got != 2 {
		t.Errorf("server got %d requests, want 2", got)
	}
}

func TestExportPermanentErrorsNotRetried(t *testing.T) {
	for _, code := range []codes.Code{codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.Internal, codes.Unimplemented} {
		t.Run(code.String(), func(t *testing.T) {
			srv := &traceServer{respond: func(context.Context, int) (ptraceotlp.ExportResponse, error) {
				return ptraceotlp.NewExportResponse(), status.Error(code, "bad span")
			}}
			e := newExporter(t, srv.start(t))
			err := e.Export(context.Background(), testTraces(4))
			if !errors.Is(err, sendqueue.ErrPermanent) || status.Code(err) != code {
				t.Fatalf("err = %v (code %v), want ErrPermanent with %v", err, status.Code(err), code)
			}
			if !strings.Contains(err.Error(), "bad span") || !strings.Contains(err.Error(), "4 spans") {
				t.Errorf("error %q does not carry the server's message and the span count", err)
			}
			if got := len(srv.requests()); got != 1 {
				t.Errorf("server got %d requests, want 1", got)
			}
			if n := failed(e, reasonRejected); n != 4 {
				t.Errorf("failed_spans_total{reason=rejected} = %v, want 4", n)
			}
			if n := testutil.ToFloat64(e.m.retries); n != 0 {
				t.Errorf("retries_total = %v, want 0", n)
			}
		})
	}
}

func TestExportRetriesUnreachableUntilContextDone(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there any more

	e := newExporter(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = e.Export(ctx, testTraces(3))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sendqueue.ErrPermanent) {
		t.Fatalf("err = %v, want DeadlineExceeded and not ErrPermanent", err)
	}
	if !strings.Contains(err.Error(), "last error") || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the endpoint and the last attempt's error", err)
	}
	if n := testutil.ToFloat64(e.m.retries); n < 1 {
		t.Errorf("retries_total = %v, want at least 1", n)
	}
	if n := failed(e, reasonGaveUp); n != 3 {
		t.Errorf("failed_spans_total{reason=gave_up} = %v, want 3", n)
	}
}

func TestExportPartialSuccess(t *testing.T) {
	srv := &traceServer{respond: func(context.Context, int) (ptraceotlp.ExportResponse, error) {
		resp := ptraceotlp.NewExportResponse()
		resp.PartialSuccess().SetRejectedSpans(3)
		resp.PartialSuccess().SetErrorMessage("spans too old")
		return resp, nil
	}}
	e := newExporter(t, srv.start(t))
	if err := e.Export(context.Background(), testTraces(10)); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.requests()); got != 1 {
		t.Errorf("server got %d requests, want 1 (partial success is not retried)", got)
	}
	if n := testutil.ToFloat64(e.m.spans); n != 7 {
		t.Errorf("spans_total = %v, want 7", n)
	}
	if n := failed(e, reasonPartialSuccess); n != 3 {
		t.Errorf("failed_spans_total{reason=partial_success} = %v, want 3", n)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		endpoint string
		opts     []Opt
		want     string
	}{
		{endpoint: "", want: `endpoint "": empty`},
		{endpoint: "localhost", want: `endpoint "localhost": want host:port`},
		{endpoint: "localhost:", want: "want host:port"},
		{endpoint: "http://localhost:4317", want: `unknown scheme "http"`},
		{endpoint: "h:4317", opts: []Opt{WithInsecure(), WithTLS("", "", "")}, want: "conflicting transport security options WithInsecure, WithTLS"},
		{endpoint: "h:4317", opts: []Opt{WithTLSConfig(nil)}, want: "nil *tls.Config"},
		{endpoint: "h:4317", opts: []Opt{WithTLS(missing, "", "")}, want: missing},
		{endpoint: "h:4317", opts: []Opt{WithTLS(notPEM, "", "")}, want: "unable to use specified CA cert"},
		{endpoint: "h:4317", opts: []Opt{WithTLS("", missing, "")}, want: "exactly one of key or key_file"},
		{endpoint: "h:4317", opts: []Opt{WithTLS("", missing, missing)}, want: "client cert"},
		{endpoint: "h:4317", opts: []Opt{WithInsecure(), WithServerName("jaeger.internal")}, want: `server name "jaeger.internal": no TLS`},
		{endpoint: "h:4317", opts: []Opt{WithTimeout(-time.Second)}, want: "timeout -1s"},
		{endpoint: "h:4317", opts: []Opt{WithBackoff(time.Second, 0)}, want: "backoff min 1s max 0s"},
		{endpoint: "h:4317", opts: []Opt{WithQueueSize(0)}, want: "queue size 0"},
		{endpoint: "h:4317", opts: []Opt{WithLogger(nil)}, want: "logger is nil"},
		{endpoint: "h:4317", opts: []Opt{WithHeaders(map[string]string{"grpc-timeout": "1"})}, want: `header "grpc-timeout": keys starting with grpc- are reserved`},
		{endpoint: "h:4317", opts: []Opt{WithHeaders(map[string]string{"x tenant": "1"})}, want: `header "x tenant": key may only hold`},
		{endpoint: "h:4317", opts: []Opt{WithHeaders(map[string]string{"x-tenant": "a\nb"})}, want: `header "x-tenant": byte 1 of the value`},
		{endpoint: "h:4317", opts: []Opt{WithHeaders(map[string]string{"": "a"})}, want: "empty key"},
		{endpoint: "h:4317", opts: []Opt{WithHeaderFiles(map[string]string{"grpc-x": missing})}, want: `header file for "grpc-x": keys starting with grpc-`},
		{endpoint: "h:4317", opts: []Opt{WithHeaders(map[string]string{"Authorization": "a"}), WithHeaderFiles(map[string]string{"authorization": missing})}, want: "given both as a value and as a file"},
	} {
		e, err := New(tc.endpoint, tc.opts...)
		if err == nil {
			e.Close(context.Background())
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) error = %v, want one containing %q", tc.endpoint, err, tc.want)
		}
	}
	// Binary metadata is allowed any bytes.
	e, err := New("h:4317", WithInsecure(), WithHeaders(map[string]string{"x-blob-bin": "\x00\xff"}))
	if err != nil {
		t.Fatalf("binary header refused: %v", err)
	}
	e.Close(context.Background())
	// A registered resolver scheme is a valid target.
	e, err = New("dns:///localhost:4317", WithInsecure())
	if err != nil {
		t.Fatalf("dns target refused: %v", err)
	}
	e.Close(context.Background())
}

func TestMetricsRegistration(t *testing.T) {
	srv := &traceServer{}
	addr := srv.start(t)
	reg := prometheus.NewPedanticRegistry()
	e := newExporter(t, addr, WithRegisterer(reg), WithName("jaeger"))
	if err := e.Export(context.Background(), testTraces(2)); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		for _, m := range mf.GetMetric() {
			var endpoint, name string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "endpoint":
					endpoint = lp.GetValue()
				case "name":
					name = lp.GetValue()
				}
			}
			if endpoint != addr || name != "jaeger" {
				t.Errorf("%s has endpoint=%q name=%q", mf.GetName(), endpoint, name)
			}
		}
	}
	want := []string{
		"weir_otlp_export_failed_spans_total",
		"weir_otlp_export_queue_length",
		"weir_otlp_export_retries_total",
		"weir_otlp_export_spans_total",
	}
	if !slices.Equal(names, want) {
		t.Errorf("registered metrics = %v, want %v", names, want)
	}
	if _, err := New(addr, WithInsecure(), WithRegisterer(reg), WithName("jaeger")); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second exporter with the same endpoint and name: err = %v, want already registered", err)
	}
}
