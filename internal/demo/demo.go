// Package demo assembles `weir demo`: everything in one process on embedded
// defaults. An in-process Kafka (kfake) carries what a load generator
// publishes the way the Collector's kafkaexporter does; the real pipeline
// consumes it; output lands in an embedded Prometheus TSDB and an in-memory
// trace store, both served on one HTTP port.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/configs"
	"github.com/weirdev/weir/exemplars"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/internal/pipeline"
	"github.com/weirdev/weir/internal/promstore"
	"github.com/weirdev/weir/internal/server"
	"github.com/weirdev/weir/internal/tracestore"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/ui"
)

// Topics of the demo's embedded Kafka.
const (
	SpansTopic   = "otlp_spans"
	MetricsTopic = "otlp_metrics"
	DLQTopic     = "weir.dlq"
)

// Config tunes the demo.
type Config struct {
	Listen    string     // HTTP address (default 127.0.0.1:9464)
	Rules     *rules.Set // nil = configs/demo-rules.yaml
	TraceRate float64    // generated traces per second (default 200)
	Seed      uint64
	Logger    *slog.Logger
}

// Demo is a running demo.
type Demo struct {
	addr string
	done chan error
}

// Addr returns the HTTP address the demo serves on.
func (d *Demo) Addr() string { return d.addr }

// Wait blocks until the demo has shut down (its context ended) and returns
// the first error of the shutdown.
func (d *Demo) Wait() error { return <-d.done }

// Start starts the demo; it runs until ctx ends, then shuts down in order:
// generator, consumer (a last poll and commit), open windows flushed to the
// store, HTTP server, stores, Kafka.
func Start(ctx context.Context, cfg Config) (*Demo, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:9464"
	}
	if cfg.TraceRate == 0 {
		cfg.TraceRate = 200
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

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(8, SpansTopic), kfake.SeedTopics(4, MetricsTopic), kfake.SeedTopics(1, DLQTopic))
	if err != nil {
		return fail(fmt.Errorf("demo: embedded kafka: %w", err))
	}
	closers = append(closers, func() error { cluster.Close(); return nil })
	brokers := cluster.ListenAddrs()

	store, err := promstore.Open("", promstore.WithRegisterer(reg), promstore.WithLogger(log))
	if err != nil {
		return fail(fmt.Errorf("demo: embedded tsdb: %w", err))
	}
	closers = append(closers, store.Close)
	traces := tracestore.New(tracestore.WithRegisterer(reg))

	pipe, err := pipeline.New(pipeline.Config{
		Rules:  cfg.Rules,
		Series: map[string]pipeline.SeriesSink{"": pipeline.SeriesSinkFunc(store.Write)},
		Traces: pipeline.TraceSinkFunc(traces.WriteTraces),
		Buffer: []exemplars.BufferOpt{exemplars.DecisionWait(45 * time.Second)},
		Logger: log,
		Reg:    reg,
	})
	if err != nil {
		return fail(fmt.Errorf("demo: %w", err))
	}

	srv := server.New(reg, server.Query(store.Handler()), server.Traces(traces.Handler()), server.UI(ui.Handler(ui.Config{})), server.WithLogger(log))
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fail(fmt.Errorf("demo: listen on %s: %w", cfg.Listen, err))
	}
	closers = append(closers, l.Close)

	consumer, err := ingest.NewConsumer(
		ingest.Brokers(brokers...), ingest.Group("weir-demo"),
		ingest.MetricsTopic(MetricsTopic), ingest.SpansTopic(SpansTopic), ingest.DeadLetterTopic(DLQTopic),
		ingest.PollInterval(250*time.Millisecond),
		ingest.WithLogger(log), ingest.WithRegisterer(reg))
	if err != nil {
		return fail(fmt.Errorf("demo: consumer: %w", err))
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), loadgen.PartitionerOpt(), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return fail(fmt.Errorf("demo: producer: %w", err))
	}
	closers = append(closers, func() error { producer.Close(); return nil })
	gen := loadgen.New(loadgen.WithSeed(cfg.Seed), loadgen.WithTraceRate(cfg.TraceRate), loadgen.WithLogger(log))

	d := &Demo{addr: l.Addr().String(), done: make(chan error, 1)}
	genCtx, stopGen := context.WithCancel(context.Background())
	consCtx, stopCons := context.WithCancel(context.Background())
	srvCtx, stopSrv := context.WithCancel(context.Background())
	genDone, consDone, srvDone := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go func() { genDone <- gen.Run(genCtx, producer, SpansTopic, MetricsTopic) }()
	go func() { consDone <- consumer.Run(consCtx, readyOnPoll{pipe, srv}) }()
	go func() { srvDone <- srv.Serve(srvCtx, l) }()
	log.Info("weir demo started", "listen", d.addr, "kafka", brokers)

	go func() {
		var errs []error
		select {
		case <-ctx.Done():
		case err := <-consDone:
			errs = append(errs, fmt.Errorf("consumer stopped: %w", err))
			consDone <- nil
		}
		stopGen()
		errs = append(errs, <-genDone)
		stopCons()
		errs = append(errs, <-consDone)
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, pipe.Flush(fctx))
		cancel()
		srv.SetReady(false)
		stopSrv()
		errs = append(errs, <-srvDone)
		producer.Close()
		errs = append(errs, store.Close())
		cluster.Close()
		log.Info("weir demo stopped")
		d.done <- errors.Join(errs...)
	}()
	return d, nil
}

// readyOnPoll marks the server ready once the consumer completed a poll.
type readyOnPoll struct {
	*pipeline.Pipeline
	srv *server.Server
}

func (r readyOnPoll) PollDone(ctx context.Context, now time.Time) error {
	r.srv.SetReady(true)
	return r.Pipeline.PollDone(ctx, now)
}
