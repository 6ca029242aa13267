package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/weirdev/weir/ingest"
)

// Defaults of Config.
const (
	DefaultGRPCEndpoint        = "127.0.0.1:4317"
	DefaultHTTPEndpoint        = "127.0.0.1:4318"
	DefaultMaxRequestBytes     = 20 << 20 // the collector's max_request_body_size
	DefaultMaxGRPCMessageBytes = 4 << 20  // the collector's max_recv_msg_size_mib
	DefaultMaxInflightBytes    = 64 << 20
	DefaultTimeout             = 5 * time.Second
	DefaultRetryDelay          = time.Second
	// DefaultMaxRecordBytes stays below franz-go's and Kafka's default
	// record limit (ProducerBatchMaxBytes, max.message.bytes: ~1 MB).
	DefaultMaxRecordBytes = 900 << 10
)

// Config says where the receivers listen and where they write.
type Config struct {
	// GRPC, HTTP and RemoteWrite are the listen addresses of OTLP/gRPC,
	// OTLP/HTTP and Prometheus remote write; "" leaves that one off.
	GRPC, HTTP, RemoteWrite string
	// SpansTopic and MetricsTopic receive the records (both required).
	SpansTopic, MetricsTopic string
	// TracesEncoding and MetricsEncoding are the records' value encoding
	// (default otlp_proto).
	TracesEncoding, MetricsEncoding ingest.Encoding
	// TenantHeader, if set, is copied from each request (HTTP header, gRPC
	// metadata) onto its records as a header of that name.
	TenantHeader string
	// MaxRequestBytes caps an HTTP request body, after decompression
	// (default DefaultMaxRequestBytes, the collector's).
	MaxRequestBytes int64
	// MaxGRPCMessageBytes caps a gRPC message, after decompression (default
	// DefaultMaxGRPCMessageBytes, gRPC's and the collector's).
	MaxGRPCMessageBytes int64
	// MaxInflightBytes caps the record bytes waiting for Kafka across all
	// requests; a request beyond it is refused as retryable. Default
	// DefaultMaxInflightBytes.
	MaxInflightBytes int64
	// Timeout bounds the wait for Kafka's acknowledgement (default 5s).
	Timeout time.Duration
	// RetryDelay is what retryable refusals ask the client to wait (default
	// 1s).
	RetryDelay time.Duration
	// MaxRecordBytes is the record size beyond which a metrics request is
	// written one resource per record (default DefaultMaxRecordBytes).
	MaxRecordBytes int
	Logger         *slog.Logger
	Reg            prometheus.Registerer
}

// ProducerOpts are the options of the Kafka client a Receiver writes with,
// to be added to the shared connection settings: the kafkaexporter's
// partitioner, acks from all in-sync replicas, and no record-count bound on
// the buffer (MaxInflightBytes bounds it).
func ProducerOpts() []kgo.Opt {
	return []kgo.Opt{
		PartitionerOpt(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(1 << 20),
		kgo.ProducerLinger(5 * time.Millisecond),
	}
}

// syncProducer is what a Receiver needs of a Kafka client.
type syncProducer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// Receiver serves the configured protocols.
type Receiver struct {
	cfg       Config
	log       *slog.Logger
	m         *metrics
	p         *producer
	traceEnc  ptrace.Marshaler
	metricEnc pmetric.Marshaler

	grpcL, httpL, rwL net.Listener
	grpcSrv           *grpc.Server
	httpSrv, rwSrv    *http.Server
}

// New listens on the configured addresses and returns a Receiver that
// writes through cl (built with ProducerOpts). It fails when a setting is
// invalid or an address cannot be listened on; the error names it.
func New(cl *kgo.Client, cfg Config) (*Receiver, error) {
	if cl == nil {
		return nil, errors.New("receiver: no Kafka client")
	}
	return newReceiver(cl, cfg)
}

func newReceiver(p syncProducer, cfg Config) (*Receiver, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	r := &Receiver{cfg: cfg, log: cfg.Logger}
	var err error
	switch cfg.TracesEncoding {
	case ingest.EncodingProto:
		r.traceEnc = &ptrace.ProtoMarshaler{}
	case ingest.EncodingJSON:
		r.traceEnc = &ptrace.JSONMarshaler{}
	}
	switch cfg.MetricsEncoding {
	case ingest.EncodingProto:
		r.metricEnc = &pmetric.ProtoMarshaler{}
	case ingest.EncodingJSON:
		r.metricEnc = &pmetric.JSONMarshaler{}
	}
	if r.m, err = newMetrics(cfg.Reg); err != nil {
		return nil, err
	}
	r.p = newProducer(p, cfg, r.m)
	listen := func(what, addr string) (net.Listener, error) {
		if addr == "" {
			return nil, nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			r.closeListeners()
			return nil, fmt.Errorf("receiver: %s: listen on %s: %w", what, addr, err)
		}
		return l, nil
	}
	if r.grpcL, err = listen("OTLP/gRPC", cfg.GRPC); err != nil {
		return nil, err
	}
	if r.httpL, err = listen("OTLP/HTTP", cfg.HTTP); err != nil {
		return nil, err
	}
	if r.rwL, err = listen("Prometheus remote write", cfg.RemoteWrite); err != nil {
		return nil, err
	}
	if r.grpcL != nil {
		r.grpcSrv = r.newGRPCServer()
	}
	if r.httpL != nil {
		r.httpSrv = newHTTPServer(r.otlpHandler())
	}
	if r.rwL != nil {
		r.rwSrv = newHTTPServer(r.remoteWriteHandler())
	}
	return r, nil
}

func (c *Config) fill() error {
	if c.SpansTopic == "" || c.MetricsTopic == "" {
		return errors.New("receiver: the spans and metrics topics are required")
	}
	def := func(e *ingest.Encoding) error {
		if *e == "" {
			*e = ingest.EncodingProto
		}
		_, err := ingest.ParseEncoding(string(*e))
		return err
	}
	if err := errors.Join(def(&c.TracesEncoding), def(&c.MetricsEncoding)); err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxGRPCMessageBytes <= 0 {
		c.MaxGRPCMessageBytes = DefaultMaxGRPCMessageBytes
	}
	if c.MaxInflightBytes <= 0 {
		c.MaxInflightBytes = DefaultMaxInflightBytes
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
}

// GRPCAddr, HTTPAddr and RemoteWriteAddr are the addresses listened on
// ("" for a protocol that is off).
func (r *Receiver) GRPCAddr() string        { return addr(r.grpcL) }
func (r *Receiver) HTTPAddr() string        { return addr(r.httpL) }
func (r *Receiver) RemoteWriteAddr() string { return addr(r.rwL) }

func addr(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// Run serves until ctx ends, then stops taking requests and waits for the
// ones under way to be answered (each waits at most Config.Timeout for
// Kafka). It returns the first error of a server that failed.
func (r *Receiver) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	if r.grpcSrv != nil {
		g.Go(func() error {
			if err := r.grpcSrv.Serve(r.grpcL); err != nil {
				return fmt.Errorf("receiver: OTLP/gRPC on %s: %w", r.GRPCAddr(), err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			r.grpcSrv.GracefulStop()
			return nil
		})
	}
	serve := func(what string, srv *http.Server, l net.Listener) {
		g.Go(func() error {
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("receiver: %s on %s: %w", what, l.Addr(), err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 2*r.cfg.Timeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return fmt.Errorf("receiver: %s: shutdown: %w", what, err)
			}
			return nil
		})
	}
	if r.httpSrv != nil {
		serve("OTLP/HTTP", r.httpSrv, r.httpL)
	}
	if r.rwSrv != nil {
		serve("Prometheus remote write", r.rwSrv, r.rwL)
	}
	r.log.Info("receivers listening", "otlp_grpc", r.GRPCAddr(), "otlp_http", r.HTTPAddr(), "prometheus_remote_write", r.RemoteWriteAddr())
	return g.Wait()
}

func (r *Receiver) closeListeners() {
	for _, l := range []net.Listener{r.grpcL, r.httpL, r.rwL} {
		if l != nil {
			_ = l.Close()
		}
	}
}

// Close releases the listeners of a Receiver whose Run was never called.
func (r *Receiver) Close() { r.closeListeners() }
