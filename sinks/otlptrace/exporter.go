// Package otlptrace exports traces over OTLP gRPC to Jaeger or any other OTLP
// trace backend. Export sends one batch synchronously with retries; Enqueue
// puts batches on a bounded queue (sinks/sendqueue) drained by one worker in
// order.
//
// Header values, from WithHeaders or read from WithHeaderFiles, are never
// logged or put in an error.
package otlptrace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"

	"github.com/weirdev/weir/sinks/sendqueue"
)

// Exporter sends traces to one OTLP gRPC endpoint. It is safe for concurrent
// use.
type Exporter struct {
	endpoint string
	cfg      config
	conn     *grpc.ClientConn
	client   ptraceotlp.GRPCClient
	md       []string // metadata key/value pairs of WithHeaders
	m        *metrics
	q        *sendqueue.Queue[ptrace.Traces]
	unsent   atomic.Int64 // spans Close gave up on
}

// New returns an Exporter for endpoint, which is host:port or a gRPC target
// with a registered scheme (dns:///host:port, unix:///path). It does not
// connect: the connection is made, and remade, as exports need it. It fails
// when the endpoint or an option is invalid, when a TLS file cannot be read,
// or when the metrics cannot be registered.
func New(endpoint string, opts ...Opt) (*Exporter, error) {
	if err := validEndpoint(endpoint); err != nil {
		return nil, fmt.Errorf("otlptrace: endpoint %q: %w", endpoint, err)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("otlptrace: exporter for %q: %w", endpoint, err)
	}
	creds, err := cfg.transportCredentials()
	if err != nil {
		return nil, fmt.Errorf("otlptrace: exporter for %q: %w", endpoint, err)
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("otlptrace: endpoint %q: %w", endpoint, err)
	}
	m := newMetrics(endpoint, cfg.name)
	if err := sendqueue.Register(cfg.registerer, m.collectors()...); err != nil {
		conn.Close()
		return nil, fmt.Errorf("otlptrace: metrics for endpoint %q name %q: %w", endpoint, cfg.name, err)
	}
	e := &Exporter{endpoint: endpoint, cfg: cfg, conn: conn, client: ptraceotlp.NewGRPCClient(conn), m: m}
	for k, v := range cfg.headers {
		e.md = append(e.md, strings.ToLower(k), v)
	}
	e.q, err = sendqueue.New(sendqueue.Config[ptrace.Traces]{
		Shards:   1,
		Capacity: cfg.queueSize,
		Send:     e.export,
		Discard: func(td ptrace.Traces) {
			e.unsent.Add(int64(td.SpanCount()))
			e.m.failed.WithLabelValues(reasonDropped).Add(float64(td.SpanCount()))
		},
		Length: m.queueLength,
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("otlptrace: exporter for %q: %w", endpoint, err)
	}
	return e, nil
}

func validEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("empty")
	}
	if scheme, _, ok := strings.Cut(endpoint, "://"); ok {
		if resolver.Get(scheme) == nil {
			return fmt.Errorf("unknown scheme %q: want host:port or a gRPC target such as dns:///host:port", scheme)
		}
		return nil
	}
	if _, port, err := net.SplitHostPort(endpoint); err != nil || port == "" {
		return errors.New("want host:port")
	}
	return nil
}

func retryable(c codes.Code) bool {
	switch c {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted:
		return true
	}
	return false
}

// Export sends td and waits for the answer. It retries, with exponential
// backoff and jitter, on Unavailable, ResourceExhausted, DeadlineExceeded and
// Aborted (waiting as long as the server's RetryInfo asks, when it sends one),
// and when a WithHeaderFiles file cannot be read, until the server accepts
// td, answers with another status, or ctx is done.
//
// The error, when not nil, wraps sendqueue.ErrPermanent and the gRPC status
// for a non-retryable answer, or, when ctx ended first, ctx's error together
// with the last error an attempt met; the spans are then counted as failed.
// When the server accepts the request but refuses some spans (an OTLP
// partial success), Export logs and counts them and returns nil: OTLP
// forbids retrying that. Export does not modify td. After Close it returns
// an error wrapping sendqueue.ErrClosed.
func (e *Exporter) Export(ctx context.Context, td ptrace.Traces) error {
	if e.q.Closed() {
		return fmt.Errorf("otlptrace: export to %s: %w", e.endpoint, sendqueue.ErrClosed)
	}
	return e.export(ctx, td)
}

func (e *Exporter) export(ctx context.Context, td ptrace.Traces) error {
	spans := td.SpanCount()
	req := ptraceotlp.NewExportRequestFromTraces(td)
	attempt := 0
	err := e.cfg.backoff.Retry(ctx, func() error {
		attempt++
		return e.attempt(ctx, req, spans)
	}, func(err error, wait time.Duration) {
		e.m.retries.Inc()
		e.cfg.logger.Debug("OTLP export failed, retrying", "endpoint", e.endpoint, "attempt", attempt, "wait", wait, "err", err)
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sendqueue.ErrPermanent):
		e.m.failed.WithLabelValues(reasonRejected).Add(float64(spans))
		e.cfg.logger.Warn("OTLP export rejected", "endpoint", e.endpoint, "spans", spans, "err", err)
		return fmt.Errorf("otlptrace: export of %d spans to %s: %w", spans, e.endpoint, err)
	default:
		e.m.failed.WithLabelValues(reasonGaveUp).Add(float64(spans))
		return fmt.Errorf("otlptrace: export of %d spans to %s: %w", spans, e.endpoint, err)
	}
}

// attempt makes one export call.
func (e *Exporter) attempt(ctx context.Context, req ptraceotlp.ExportRequest, spans int) error {
	md, err := e.metadata()
	if err != nil {
		return err
	}
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	actx, cancel := context.WithTimeout(ctx, e.cfg.timeout)
	defer cancel()
	resp, err := e.client.Export(actx, req)
	if err == nil {
		e.accepted(resp, spans)
		return nil
	}
	if ctx.Err() != nil {
		return err // cut short by ctx, not refused: Retry reports the give-up
	}
	st := status.Convert(err)
	err = status.Error(st.Code(), scrub(st.Message(), md))
	if !retryable(st.Code()) {
		return sendqueue.Permanent(err)
	}
	if d, ok := retryDelay(st); ok {
		return sendqueue.RetryAfter(err, d)
	}
	return err
}

// metadata returns the headers of WithHeaders and those read now from
// WithHeaderFiles, so that a rotated file takes effect at the next export.
func (e *Exporter) metadata() ([]string, error) {
	if len(e.cfg.headerFiles) == 0 {
		return e.md, nil
	}
	md := append([]string(nil), e.md...)
	for k, f := range e.cfg.headerFiles {
		v, err := f.Fetch(context.Background())
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", k, err)
		}
		if err := validMetadata(k, v); err != nil {
			return nil, fmt.Errorf("header %q from %s: %w", k, f.Description(), err)
		}
		md = append(md, strings.ToLower(k), v)
	}
	return md, nil
}

// minSecret is the length from which scrub takes a header value for a
// secret: shorter values are flags, and hiding them would garble the message.
const minSecret = 4

// scrub hides in a server's message the header values the request carried
// (md holds key/value pairs), in case the server echoes them.
func scrub(msg string, md []string) string {
	for i := 1; i < len(md); i += 2 {
		if len(md[i]) >= minSecret {
			msg = strings.ReplaceAll(msg, md[i], "<hidden>")
		}
	}
	return msg
}

func (e *Exporter) accepted(resp ptraceotlp.ExportResponse, spans int) {
	ps := resp.PartialSuccess()
	rejected := int(ps.RejectedSpans())
	if rejected <= 0 {
		e.m.spans.Add(float64(spans))
		return
	}
	rejected = min(rejected, spans)
	e.m.spans.Add(float64(spans - rejected))
	e.m.failed.WithLabelValues(reasonPartialSuccess).Add(float64(rejected))
	e.cfg.logger.Warn("OTLP export partially rejected", "endpoint", e.endpoint, "spans", spans,
		"rejected", rejected, "message", ps.ErrorMessage())
}

// retryDelay reads the RetryInfo a server may attach to a retryable status.
func retryDelay(st *status.Status) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			if d := ri.GetRetryDelay().AsDuration(); d >= 0 {
				return d, true
			}
		}
	}
	return 0, false
}

// Enqueue queues td for the worker, blocking while the queue is full (see
// WithQueueSize) until ctx ends (the error wraps ctx's error) or Close is
// called (sendqueue.ErrClosed). The exporter takes td over: the caller must
// not modify it afterwards. The worker exports batches in order, with
// Export's retries.
func (e *Exporter) Enqueue(ctx context.Context, td ptrace.Traces) error {
	if err := e.q.Put(ctx, 0, td); err != nil {
		return fmt.Errorf("otlptrace: enqueue %d spans to %s: %w", td.SpanCount(), e.endpoint, err)
	}
	return nil
}

// Flush returns once every batch enqueued before the call has been accepted
// or has failed permanently. It returns an error when ctx ends first (wrapping
// ctx's error), and otherwise an error describing the batches that failed
// since the previous Flush (see sendqueue.Tally), or nil. Flush waits for a
// free place in the queue, so it too is subject to backpressure.
func (e *Exporter) Flush(ctx context.Context) error {
	if err := e.q.Flush(ctx); err != nil {
		return fmt.Errorf("otlptrace: flush %s: %w", e.endpoint, err)
	}
	return nil
}

// Close refuses further Export and Enqueue calls, flushes the queue, stops the
// worker and closes the connection. When ctx ends before the flush completes,
// the batches still queued or in flight are dropped (counted with reason
// "dropped" or "gave_up", and logged) and the error wraps ctx's error. An
// Export call running when Close closes the connection fails. Close returns
// an error wrapping sendqueue.ErrClosed when called again.
func (e *Exporter) Close(ctx context.Context) error {
	err := e.q.Close(ctx)
	if errors.Is(err, sendqueue.ErrClosed) {
		return fmt.Errorf("otlptrace: close %s: %w", e.endpoint, err)
	}
	if n := e.unsent.Load(); n > 0 {
		e.cfg.logger.Warn("OTLP exporter closed with spans unsent", "endpoint", e.endpoint, "spans", n)
	}
	if cerr := e.conn.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("otlptrace: close %s: %w", e.endpoint, err)
	}
	return nil
}
