package receiver

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// TestOTLPGRPC: gzip-compressed exports of both signals are written as the
// exporter writes them, with the tenant from the metadata; a zero trace ID
// is a partial success.
func TestOTLPGRPC(t *testing.T) {
	f := &fakeKafka{}
	r, _ := start(t, f, Config{TenantHeader: "X-Scope-OrgID"})
	cc := dial(t, r.GRPCAddr())
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-scope-orgid", "team-b")
	td := twoServices()
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(2).SetTraceID(pcommon.TraceID{})
	resp, err := ptraceotlp.NewGRPCClient(cc).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td), grpc.UseCompressor(gzip.Name))
	if err != nil {
		t.Fatal(err)
	}
	if ps := resp.PartialSuccess(); ps.RejectedSpans() != 1 || ps.ErrorMessage() == "" {
		t.Errorf("partial success %d %q, want 1 rejected span with a reason", ps.RejectedSpans(), ps.ErrorMessage())
	}
	if _, err := pmetricotlp.NewGRPCClient(cc).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(gauges(5)), grpc.UseCompressor(gzip.Name)); err != nil {
		t.Fatal(err)
	}
	recs := f.records()
	keys := []string{hexID(traceID(1)), hexID(traceID(2)), hexID(traceID(1)), ""}
	if len(recs) != len(keys) {
		t.Fatalf("%d records, want %d", len(recs), len(keys))
	}
	for i, rec := range recs {
		if string(rec.Key) != keys[i] || len(rec.Headers) != 1 || string(rec.Headers[0].Value) != "team-b" {
			t.Errorf("record %d: key %q headers %v, want key %q and the tenant team-b", i, rec.Key, rec.Headers, keys[i])
		}
	}
	if recs[3].Topic != "metrics" {
		t.Errorf("metrics record on topic %q", recs[3].Topic)
	}
}

// TestOTLPGRPCRefusals: Kafka failing is UNAVAILABLE and the in-flight limit
// RESOURCE_EXHAUSTED, both with RetryInfo (retryable per the OTLP
// specification); a message over the size cap is RESOURCE_EXHAUSTED without
// it (not retryable).
func TestOTLPGRPCRefusals(t *testing.T) {
	retryDelay := func(err error) (codes.Code, time.Duration) {
		st := status.Convert(err)
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				return st.Code(), ri.RetryDelay.AsDuration()
			}
		}
		return st.Code(), 0
	}
	req := ptraceotlp.NewExportRequestFromTraces(twoServices())

	r, _ := start(t, &fakeKafka{fail: func(*kgo.Record) error { return kerr.LeaderNotAvailable }}, Config{RetryDelay: 3 * time.Second})
	_, err := ptraceotlp.NewGRPCClient(dial(t, r.GRPCAddr())).Export(context.Background(), req)
	if code, d := retryDelay(err); code != codes.Unavailable || d != 3*time.Second {
		t.Errorf("Kafka failing: %v, retry delay %v; want UNAVAILABLE after 3s", err, d)
	}

	f := &fakeKafka{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	r, _ = start(t, f, Config{MaxInflightBytes: 10, MaxGRPCMessageBytes: 4 << 10})
	cl := ptraceotlp.NewGRPCClient(dial(t, r.GRPCAddr()))
	done := make(chan error, 1)
	go func() { _, err := cl.Export(context.Background(), req); done <- err }()
	<-f.entered
	_, err = cl.Export(context.Background(), req)
	if code, d := retryDelay(err); code != codes.ResourceExhausted || d != DefaultRetryDelay {
		t.Errorf("in-flight limit: %v, retry delay %v; want RESOURCE_EXHAUSTED with RetryInfo", err, d)
	}
	close(f.release)
	if err := <-done; err != nil {
		t.Fatalf("the waiting request: %v", err)
	}
	huge := ptraceotlp.NewExportRequestFromTraces(twoServices())
	huge.Traces().ResourceSpans().At(0).Resource().Attributes().PutStr("padding", string(make([]byte, 8<<10)))
	_, err = cl.Export(context.Background(), huge)
	if code, d := retryDelay(err); code != codes.ResourceExhausted || d != 0 {
		t.Errorf("message over the cap: %v, retry delay %v; want RESOURCE_EXHAUSTED without RetryInfo", err, d)
	}
}
