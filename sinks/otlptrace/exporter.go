// Package otlptrace exports traces over OTLP gRPC to Jaeger or any other OTLP
// trace backend. Export sends one batch synchronously with retries; Enqueue
// puts batches on a bounded queue drained by one worker in order.
package otlptrace

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"
)

var (
	// ErrRejected is wrapped by Export's error when the server answered with
	// a status that retrying cannot fix (anything but Unavailable,
	// ResourceExhausted, DeadlineExceeded and Aborted). The error also wraps
	// the gRPC status: status.Code(err) gives its code.
	ErrRejected = errors.New("OTLP export rejected")
	// ErrClosed is returned once Close has been called.
	ErrClosed = errors.New("OTLP exporter closed")
)

// Exporter sends traces to one OTLP gRPC endpoint. It is safe for concurrent
// use.
type Exporter struct {
	endpoint string
	cfg      config
	conn     *grpc.ClientConn
	client   ptraceotlp.GRPCClient
	md       []string // metadata key/value pairs
	m        *metrics

	queue   chan item
	mu      sync.Mutex
	closed  bool
	closing chan struct{} // closed by Close: wakes blocked Enqueue calls
	enqWG   sync.WaitGroup

	workCtx    context.Context
	cancelWork context.CancelFunc
	stopped    chan struct{} // closed once the worker has returned
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
	m, err := newMetrics(endpoint, cfg.name, cfg.registerer)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("otlptrace: %w", err)
	}
	e := &Exporter{
		endpoint: endpoint,
		cfg:      cfg,
		conn:     conn,
		client:   ptraceotlp.NewGRPCClient(conn),
		m:        m,
		queue:    make(chan item, cfg.queueSize),
		closing:  make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	for k, v := range cfg.headers {
		e.md = append(e.md, strings.ToLower(k), v)
	}
	e.workCtx, e.cancelWork = context.WithCancel(context.Background())
	go e.work()
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
// until the server accepts td, answers with another status, or ctx is done.
//
// The error, when not nil, wraps ErrRejected and the gRPC status for a
// non-retryable answer, or, when ctx ended first, ctx's error together with
// the last error an attempt met; the spans are then counted as failed. When
// the server accepts the request but refuses some spans (an OTLP partial
// success), Export logs and counts them and returns nil: OTLP forbids
// retrying that. Export does not modify td.
func (e *Exporter) Export(ctx context.Context, td ptrace.Traces) error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return fmt.Errorf("otlptrace: export to %s: %w", e.endpoint, ErrClosed)
	}
	return e.export(ctx, td)
}

func (e *Exporter) export(ctx context.Context, td ptrace.Traces) error {
	spans := td.SpanCount()
	req := ptraceotlp.NewExportRequestFromTraces(td)
	if len(e.md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, e.md...)
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			e.m.retries.Inc()
		}
		actx, cancel := context.WithTimeout(ctx, e.cfg.timeout)
		resp, err := e.client.Export(actx, req)
		cancel()
		if err == nil {
			e.accepted(resp, spans)
			return nil
		}
		if ctx.Err() != nil {
			// An attempt cut short by ctx says less than the one before it.
			if lastErr == nil {
				lastErr = err
			}
			break
		}
		lastErr = err
		st := status.Convert(err)
		if !retryable(st.Code()) {
			e.m.failed.WithLabelValues(reasonRejected).Add(float64(spans))
			e.cfg.logger.Warn("OTLP export rejected", "endpoint", e.endpoint, "spans", spans, "err", err)
			return fmt.Errorf("otlptrace: export of %d spans to %s: %w: %w", spans, e.endpoint, ErrRejected, err)
		}
		wait := backoff(attempt, e.cfg.minBackoff, e.cfg.maxBackoff)
		if d, ok := retryDelay(st); ok {
			wait = d
		}
		e.cfg.logger.Debug("OTLP export failed, retrying", "endpoint", e.endpoint, "attempt", attempt+1,
			"wait", wait, "err", err)
		if !sleep(ctx, wait) {
			break
		}
	}
	e.m.failed.WithLabelValues(reasonGaveUp).Add(float64(spans))
	return fmt.Errorf("otlptrace: export of %d spans to %s: gave up: %w; last error: %w", spans, e.endpoint, ctx.Err(), lastErr)
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

// backoff returns the wait before retry number attempt (0 for the first
// retry): min doubled per attempt, capped at max, then jittered down by up to
// half so that exporters failing together do not retry in lockstep.
func backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max || d <= 0 {
		d = max
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleep waits d or until ctx is done, reporting whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
