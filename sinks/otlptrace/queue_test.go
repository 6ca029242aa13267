package otlptrace

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weirdev/weir/sinks/sendqueue"
)

// gatedServer holds every request until release is called (or the client
// gives up), and reports each request's arrival on arrived.
func gatedServer(t *testing.T) (srv *traceServer, addr string, arrived chan int, release func()) {
	t.Helper()
	arrived = make(chan int, 100)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	srv = &traceServer{respond: func(ctx context.Context, n int) (ptraceotlp.ExportResponse, error) {
		arrived <- n
		select {
		case <-gate:
			return ptraceotlp.NewExportResponse(), nil
		case <-ctx.Done():
			return ptraceotlp.NewExportResponse(), status.FromContextError(ctx.Err()).Err()
		}
	}}
	addr = srv.start(t)
	t.Cleanup(release) // runs before the server stops, which waits for handlers
	return srv, addr, arrived, release
}

func spanCounts(srv *traceServer) []int {
	var out []int
	for _, td := range srv.requests() {
		out = append(out, td.SpanCount())
	}
	return out
}

func TestEnqueueBlocksWhenFull(t *testing.T) {
	srv, addr, arrived, release := gatedServer(t)
	e := newExporter(t, addr, WithQueueSize(1))
	bg := context.Background()
	if err := e.Enqueue(bg, testTraces(1)); err != nil {
		t.Fatal(err)
	}
	<-arrived // the first batch is in flight and held: the queue's one place is free
	if err := e.Enqueue(bg, testTraces(2)); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(e.m.queueLength); n != 1 {
		t.Errorf("queue_length = %v, want 1", n)
	}
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if err := e.Enqueue(ctx, testTraces(3)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Enqueue into a full queue: err = %v, want DeadlineExceeded", err)
	}
	release()
	if err := e.Flush(bg); err != nil {
		t.Fatal(err)
	}
	if got := spanCounts(srv); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("server got batches of %v spans, want [1 2]", got)
	}
	if n := testutil.ToFloat64(e.m.queueLength); n != 0 {
		t.Errorf("queue_length after flush = %v, want 0", n)
	}
}

func TestFlushWaitsForEarlierBatches(t *testing.T) {
	srv, addr, arrived, release := gatedServer(t)
	e := newExporter(t, addr)
	bg := context.Background()
	for n := 1; n <= 3; n++ {
		if err := e.Enqueue(bg, testTraces(n)); err != nil {
			t.Fatal(err)
		}
	}
	<-arrived
	flushed := make(chan error, 1)
	go func() { flushed <- e.Flush(bg) }()
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned (%v) while a batch was held by the server", err)
	default:
	}
	release()
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if got := spanCounts(srv); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("after Flush the server has batches of %v spans, want [1 2 3]", got)
	}
}

func TestFlushHonoursContext(t *testing.T) {
	_, addr, arrived, release := gatedServer(t)
	e := newExporter(t, addr)
	defer release() // before the exporter's cleanup Close, which would wait for the held batch
	if err := e.Enqueue(context.Background(), testTraces(1)); err != nil {
		t.Fatal(err)
	}
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with a held batch: err = %v, want DeadlineExceeded", err)
	}
}

func TestFlushReportsFailures(t *testing.T) {
	srv := &traceServer{respond: func(_ context.Context, n int) (ptraceotlp.ExportResponse, error) {
		if n == 0 {
			return ptraceotlp.NewExportResponse(), status.Error(codes.InvalidArgument, "bad span")
		}
		return ptraceotlp.NewExportResponse(), nil
	}}
	e := newExporter(t, srv.start(t))
	bg := context.Background()
	for n := 1; n <= 2; n++ {
		if err := e.Enqueue(bg, testTraces(n)); err != nil {
			t.Fatal(err)
		}
	}
	err := e.Flush(bg)
	if !errors.Is(err, sendqueue.ErrPermanent) || status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "export of 1 spans") {
		t.Fatalf("Flush after a rejection: err = %v, want ErrPermanent, InvalidArgument, the batch of 1 span", err)
	}
	if err := e.Flush(bg); err != nil {
		t.Errorf("second Flush reports %v, want nil (the failure was already reported)", err)
	}
	if n := testutil.ToFloat64(e.m.spans); n != 2 {
		t.Errorf("spans_total = %v, want 2", n)
	}
}

func TestClose(t *testing.T) {
	srv := &traceServer{}
	e := newExporter(t, srv.start(t))
	bg := context.Background()
	for n := 1; n <= 3; n++ {
		if err := e.Enqueue(bg, testTraces(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(bg); err != nil {
		t.Fatal(err)
	}
	if got := spanCounts(srv); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("server got batches of %v spans before Close returned, want [1 2 3]", got)
	}
	if err := e.Enqueue(bg, testTraces(1)); !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("Enqueue after Close: err = %v, want ErrClosed", err)
	}
	if err := e.Export(bg, testTraces(1)); !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("Export after Close: err = %v, want ErrClosed", err)
	}
	if err := e.Flush(bg); !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("Flush after Close: err = %v, want ErrClosed", err)
	}
	if err := e.Close(bg); !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("second Close: err = %v, want ErrClosed", err)
	}
}

// TestCloseGivesUpAtDeadline closes an exporter whose server never answers:
// Close must return at its deadline, wake a blocked Enqueue, and count what
// it drops.
func TestCloseGivesUpAtDeadline(t *testing.T) {
	_, addr, arrived, _ := gatedServer(t)
	e := newExporter(t, addr, WithQueueSize(1))
	bg := context.Background()
	if err := e.Enqueue(bg, testTraces(1)); err != nil { // in flight
		t.Fatal(err)
	}
	<-arrived
	if err := e.Enqueue(bg, testTraces(2)); err != nil { // queued
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- e.Enqueue(bg, testTraces(4)) }()

	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	if err := e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: err = %v, want DeadlineExceeded", err)
	}
	if err := <-blocked; !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("Enqueue blocked during Close: err = %v, want ErrClosed", err)
	}
	if n := failed(e, reasonGaveUp); n != 1 {
		t.Errorf("failed_spans_total{reason=gave_up} = %v, want 1 (the batch in flight)", n)
	}
	if n := failed(e, reasonDropped); n != 2 {
		t.Errorf("failed_spans_total{reason=dropped} = %v, want 2 (the queued batch)", n)
	}
	if n := testutil.ToFloat64(e.m.queueLength); n != 0 {
		t.Errorf("queue_length after Close = %v, want 0", n)
	}
}
