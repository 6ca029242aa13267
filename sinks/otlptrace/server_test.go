package otlptrace

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// traceServer is an OTLP trace endpoint for tests. It records every request
// and answers with what respond says (success when respond is nil).
type traceServer struct {
	ptraceotlp.UnimplementedGRPCServer
	respond func(ctx context.Context, n int) (ptraceotlp.ExportResponse, error)
	discard bool // record nothing (benchmarks)

	mu   sync.Mutex
	reqs []ptrace.Traces
	md   []metadata.MD
}

func (s *traceServer) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	if s.discard {
		return ptraceotlp.NewExportResponse(), nil
	}
	td := ptrace.NewTraces()
	req.Traces().CopyTo(td)
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	n := len(s.reqs)
	s.reqs = append(s.reqs, td)
	s.md = append(s.md, md)
	s.mu.Unlock()
	if s.respond != nil {
		return s.respond(ctx, n)
	}
	return ptraceotlp.NewExportResponse(), nil
}

func (s *traceServer) requests() []ptrace.Traces {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ptrace.Traces(nil), s.reqs...)
}

// start serves s on 127.0.0.1 and returns its address.
func (s *traceServer) start(t testing.TB, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(opts...)
	ptraceotlp.RegisterGRPCServer(gs, s)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// testTraces builds a batch with nSpans spans spread over two resources,
// using most of the span model so that a lossy export would show.
func testTraces(nSpans int) ptrace.Traces {
	td := ptrace.NewTraces()
	for r := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
		attrs := rs.Resource().Attributes()
		attrs.PutStr("service.name", []string{"checkout", "payments"}[r])
		attrs.PutInt("process.pid", int64(1000+r))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("weir.test")
		ss.Scope().SetVersion("1.0")
		for i := r; i < nSpans; i += 2 {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, byte(i)})
			sp.SetSpanID(pcommon.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, byte(i)})
			sp.SetParentSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
			sp.SetName("GET /api/items")
			sp.SetKind(ptrace.SpanKindServer)
			start := time.Unix(1_760_000_000, int64(i)*1000)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i+1) * time.Millisecond)))
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("boom")
			sa := sp.Attributes()
			sa.PutStr("http.route", "/api/items")
			sa.PutInt("http.status_code", 500)
			sa.PutDouble("weir.ratio", 0.25)
			sa.PutBool("weir.sampled", true)
			sa.PutEmptyBytes("weir.raw").FromRaw([]byte{0, 1, 2})
			sa.PutEmptySlice("weir.list").AppendEmpty().SetStr("a")
			ev := sp.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(pcommon.NewTimestampFromTime(start))
			ev.Attributes().PutStr("exception.message", "boom")
			ln := sp.Links().AppendEmpty()
			ln.SetTraceID(pcommon.TraceID{9})
			ln.SetSpanID(pcommon.SpanID{9})
			sp.TraceState().FromRaw("vendor=1")
		}
	}
	return td
}
