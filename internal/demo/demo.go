// Package demo assembles `weir demo`: everything in one process on embedded
// defaults. An in-process Kafka (kfake) carries what a load generator
// publishes the way the Collector's kafkaexporter does; weir's production
// runtime (internal/node, the same as `weir run`) consumes it; output lands
// in an embedded Prometheus TSDB and an in-memory trace store, both served
// on one HTTP port.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/prometheus/prompb"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/cardinality"
	"github.com/weirdev/weir/configs"
	"github.com/weirdev/weir/internal/cluster"
	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/internal/node"
	"github.com/weirdev/weir/internal/promstore"
	"github.com/weirdev/weir/internal/server"
	"github.com/weirdev/weir/internal/tracestore"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/receiver"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/ui"
)

// The embedded Kafka's topics and retention. Its log is bounded by time and
// by bytes, so that the demo's memory levels off; the spans topic keeps what
// the second pass over it needs (cluster.checkRetention).
const (
	spansPartitions   = 8
	metricsPartitions = 4
	retention         = 7 * time.Minute
	retentionBytes    = 8 << 20 // per partition
	// traceBytes bounds the trace store: about an hour of the demo's kept
	// traces at its default rate.
	traceBytes = 128 << 20
)

// DecisionWait is how far behind the spans the demo exports kept traces:
// its windows are 10 s, and a window's keep decisions come out within its
// allowed lateness and a few polls after its end.
const DecisionWait = 20 * time.Second

// Config tunes the demo.
type Config struct {
	Listen    string     // HTTP address (default 127.0.0.1:9464)
	Rules     *rules.Set // nil = configs/demo-rules.yaml
	TraceRate float64    // generated traces per second (default 200)
	// MaxTraces bounds the trace store (default tracestore.DefaultMaxTraces);
	// beyond it the oldest traces are evicted.
	MaxTraces int
	Seed      uint64
	// OTLPGRPC, OTLPHTTP and RemoteWrite are the receivers' listen
	// addresses (package receiver): what an app sends there goes through
	// the demo's Kafka like the generated load. "" leaves one off; `weir
	// demo` listens on 127.0.0.1:4317 and 127.0.0.1:4318 by default.
	OTLPGRPC, OTLPHTTP, RemoteWrite string
	Logger                          *slog.Logger
	// Profiles serves Go's profiles under /debug/pprof/.
	Profiles bool
	// WebConfig is a Prometheus web configuration file for the HTTP port
	// (TLS, basic auth); "" for none.
	WebConfig string
	// MemoryLimit is the process' soft memory limit
	// (runtime/debug.SetMemoryLimit) while the demo runs: 0 takes
	// DefaultMemoryLimit, unless GOMEMLIMIT is set; negative leaves the
	// runtime's.
	MemoryLimit int64
}

// DefaultMemoryLimit is the demo's soft memory limit: the garbage of its
// queries (a 3.6M-point query makes ~900 MB of it) is collected before the
// heap doubles.
const DefaultMemoryLimit = 768 << 20

// Demo is a running demo.
type Demo struct {
	addr string
	recv *receiver.Receiver
	done chan error
}

// Addr returns the HTTP address the demo serves on.
func (d *Demo) Addr() string { return d.addr }

// OTLPGRPCAddr, OTLPHTTPAddr and RemoteWriteAddr are the receivers'
// addresses ("" for one that is off).
func (d *Demo) OTLPGRPCAddr() string { return d.recvAddr((*receiver.Receiver).GRPCAddr) }
func (d *Demo) OTLPHTTPAddr() string { return d.recvAddr((*receiver.Receiver).HTTPAddr) }
func (d *Demo) RemoteWriteAddr() string {
	return d.recvAddr((*receiver.Receiver).RemoteWriteAddr)
}

func (d *Demo) recvAddr(f func(*receiver.Receiver) string) string {
	if d.recv == nil {
		return ""
	}
	return f(d.recv)
}

// Wait blocks until the demo has shut down (its context ended) and returns
// the first error of the shutdown.
func (d *Demo) Wait() error { return <-d.done }

// Start starts the demo; it runs until ctx ends, then shuts down in order:
// generator, weir (a last transaction and commit, the sinks flushed), HTTP
// server, stores, Kafka.
func Start(ctx context.Context, cfg Config) (*Demo, error) {
	if cfg.MemoryLimit == 0 && os.Getenv("GOMEMLIMIT") == "" {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen == "" {
		cfg.Listen = config.DefaultListen
	}
	if cfg.TraceRate == 0 {
		cfg.TraceRate = 200
	}
	if !(cfg.TraceRate > 0) {
		return nil, fmt.Errorf("demo: trace rate %v is not positive", cfg.TraceRate)
	}
	if cfg.Rules == nil {
		s, err := rules.Parse("configs/demo-rules.yaml", []byte(configs.DemoRules))
		if err != nil {
			return nil, fmt.Errorf("demo: embedded rules: %w", err)
		}
		cfg.Rules = s
	}
	log := cfg.Logger
	var closers []func() error
	fail := func(err error) (*Demo, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	kc, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(spansPartitions, cluster.DefaultSpansTopic), kfake.SeedTopics(metricsPartitions, cluster.DefaultMetricsTopic),
		kfake.BrokerConfigs(map[string]string{
			"log.retention.ms":       strconv.FormatInt(retention.Milliseconds(), 10),
			"log.retention.bytes":    strconv.Itoa(retentionBytes),
			"log.cleaner.backoff.ms": "10000",
		}))
	if err != nil {
		return fail(fmt.Errorf("demo: embedded kafka: %w", err))
	}
	closers = append(closers, func() error { kc.Close(); return nil })
	brokers := kc.ListenAddrs()

	store, err := promstore.Open("", promstore.WithRegisterer(reg), promstore.WithLogger(log))
	if err != nil {
		return fail(fmt.Errorf("demo: embedded tsdb: %w", err))
	}
	closers = append(closers, store.Close)
	traces := tracestore.New(tracestore.WithRegisterer(reg), tracestore.WithMaxBytes(traceBytes), tracestore.WithMaxTraces(cfg.MaxTraces))

	c := &config.Config{}
	c.Kafka.Brokers = brokers
	c.Kafka.Group = "weir-demo"
	c.TailSampling.DecisionWait = config.Duration(DecisionWait)
	if cfg.OTLPGRPC != "" {
		c.Receivers.OTLP.Protocols.GRPC = &config.GRPCProtocol{Endpoint: cfg.OTLPGRPC}
	}
	if cfg.OTLPHTTP != "" {
		c.Receivers.OTLP.Protocols.HTTP = &config.HTTPProtocol{Endpoint: cfg.OTLPHTTP}
	}
	if cfg.RemoteWrite != "" {
		c.Receivers.PrometheusRemoteWrite = &config.RemoteWriteReceiver{Endpoint: cfg.RemoteWrite}
	}
	c.FillDefaults()
	n, err := node.New(c, cfg.Rules, node.Sinks{
		Series: map[string]pipeline.SeriesSink{"": seriesFunc(store.Write)},
		Traces: traceFunc(traces.WriteTraces),
	}, nil, log, reg)
	if err != nil {
		return fail(fmt.Errorf("demo: %w", err))
	}
	if r := n.Receiver(); r != nil {
		closers = append(closers, func() error { r.Close(); return nil })
	}

	profCtx, stopProf := context.WithCancel(context.Background())
	closers = append(closers, func() error { stopProf(); return nil })
	prof, err := n.ProfileHandler(profCtx)
	if err != nil {
		return fail(fmt.Errorf("demo: %w", err))
	}
	srvOpts := []server.Opt{server.Query(store.Handler()), server.Traces(traces.Handler()), server.UI(ui.Handler(ui.Config{DecisionWait: DecisionWait})),
		server.Handle(cardinality.TSDBPath, prof), server.Handle(cardinality.CardinalityPath, prof), server.WithLogger(log)}
	if cfg.Profiles {
		srvOpts = append(srvOpts, server.Profiles())
	}
	if cfg.WebConfig != "" {
		srvOpts = append(srvOpts, server.WebConfig(cfg.WebConfig))
	}
	srv := server.New(reg, srvOpts...)
	srv.SetHealth(n.Healthy)
	srv.SetReadiness(n.Ready)
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fail(fmt.Errorf("demo: listen on %s: %w", cfg.Listen, err))
	}
	closers = append(closers, l.Close)

	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), receiver.PartitionerOpt(), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return fail(fmt.Errorf("demo: producer: %w", err))
	}
	closers = append(closers, func() error { producer.Close(); return nil })
	gen := loadgen.New(loadgen.WithSeed(cfg.Seed), loadgen.WithTraceRate(cfg.TraceRate), loadgen.WithLogger(log))

	d := &Demo{addr: l.Addr().String(), recv: n.Receiver(), done: make(chan error, 1)}
	genCtx, stopGen := context.WithCancel(context.Background())
	weirCtx, stopWeir := context.WithCancel(context.Background())
	srvCtx, stopSrv := context.WithCancel(context.Background())
	genDone, weirDone, srvDone := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go func() { genDone <- gen.Run(genCtx, producer, cluster.DefaultSpansTopic, cluster.DefaultMetricsTopic) }()
	go func() { weirDone <- n.Run(weirCtx, reg) }()
	go func() { srvDone <- srv.Serve(srvCtx, l) }()
	log.Info("weir demo started", "listen", d.addr, "kafka", brokers, "otlp_grpc", d.OTLPGRPCAddr(), "otlp_http", d.OTLPHTTPAddr(), "prometheus_remote_write", d.RemoteWriteAddr())

	go func() {
		var errs []error
		select {
		case <-ctx.Done():
		case err := <-weirDone:
			errs = append(errs, fmt.Errorf("weir stopped: %w", err))
			weirDone <- nil
		}
		stopGen()
		errs = append(errs, <-genDone)
		stopWeir()
		errs = append(errs, <-weirDone)
		stopProf()
		stopSrv()
		errs = append(errs, <-srvDone)
		producer.Close()
		errs = append(errs, store.Close())
		kc.Close()
		log.Info("weir demo stopped")
		d.done <- errors.Join(errs...)
	}()
	return d, nil
}

type seriesFunc func(context.Context, []prompb.TimeSeries) error

func (f seriesFunc) Enqueue(ctx context.Context, s []prompb.TimeSeries) error { return f(ctx, s) }

type traceFunc func(context.Context, ptrace.Traces) error

func (f traceFunc) Enqueue(ctx context.Context, td ptrace.Traces) error { return f(ctx, td) }
