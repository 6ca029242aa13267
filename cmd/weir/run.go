package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/exemplars"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/internal/pipeline"
	"github.com/weirdev/weir/internal/server"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sinks/otlptrace"
	"github.com/weirdev/weir/sinks/remotewrite"
)

func cmdRun(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "configs/weir.yaml", "configuration file")
	verbose := fs.Bool("v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := runPipeline(ctx, cfg, log); err != nil {
		log.Error("weir run failed", "err", err)
		return 1
	}
	return 0
}

func runPipeline(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	ruleSet := rules.Default()
	var rulePaths []string
	for _, p := range cfg.Rules {
		rulePaths = append(rulePaths, cfg.Path(p))
	}
	if len(rulePaths) > 0 {
		s, err := rules.Load(rulePaths...)
		if err != nil {
			return err
		}
		ruleSet = s
	}

	series := map[string]pipeline.SeriesSink{}
	var queues []*remotewrite.Queue
	for _, rw := range cfg.RemoteWrite {
		opts := []remotewrite.Opt{remotewrite.WithHeaders(rw.Headers), remotewrite.WithLogger(log), remotewrite.WithRegisterer(prometheus.WrapRegistererWith(prometheus.Labels{"url": rw.URL}, reg))}
		if rw.Timeout > 0 {
			opts = append(opts, remotewrite.WithTimeout(time.Duration(rw.Timeout)))
		}
		c, err := remotewrite.New(rw.URL, opts...)
		if err != nil {
			return err
		}
		q := remotewrite.NewQueue(c)
		queues = append(queues, q)
		if len(rw.Policies) == 0 {
			series[""] = q
		}
		for _, p := range rw.Policies {
			series[p] = q
		}
	}

	var traceSink pipeline.TraceSink
	var exporter *otlptrace.Exporter
	if t := cfg.Traces; t.Endpoint != "" {
		opts := []otlptrace.Opt{otlptrace.WithHeaders(t.Headers), otlptrace.WithLogger(log), otlptrace.WithRegisterer(reg)}
		if t.Insecure {
			opts = append(opts, otlptrace.WithInsecure())
		} else if t.CAFile != "" || t.CertFile != "" {
			opts = append(opts, otlptrace.WithTLS(cfg.Path(t.CAFile), cfg.Path(t.CertFile), cfg.Path(t.KeyFile)))
		}
		e, err := otlptrace.New(t.Endpoint, opts...)
		if err != nil {
			return err
		}
		exporter = e
		traceSink = e
	} else {
		log.Warn("traces.endpoint is not set: kept traces are not exported")
	}

	a := cfg.Aggregation
	var aggOpts []aggregator.Opt
	if a.AllowedLateness > 0 {
		aggOpts = append(aggOpts, aggregator.AllowedLateness(time.Duration(a.AllowedLateness)))
	}
	if a.IdleTimeout > 0 {
		aggOpts = append(aggOpts, aggregator.IdleTimeout(time.Duration(a.IdleTimeout)))
	}
	if a.CloseTimeout > 0 {
		aggOpts = append(aggOpts, aggregator.CloseTimeout(time.Duration(a.CloseTimeout)))
	}
	if a.MaxFuture > 0 {
		aggOpts = append(aggOpts, aggregator.MaxFuture(time.Duration(a.MaxFuture)))
	}
	if a.RelativeAccuracy > 0 {
		aggOpts = append(aggOpts, aggregator.RelativeAccuracy(a.RelativeAccuracy))
	}
	ts := cfg.TailSampling
	var bufOpts []exemplars.BufferOpt
	if ts.DecisionWait > 0 {
		bufOpts = append(bufOpts, exemplars.DecisionWait(time.Duration(ts.DecisionWait)))
	}
	if ts.MaxBytes > 0 {
		bufOpts = append(bufOpts, exemplars.MaxBytes(ts.MaxBytes))
	}
	if ts.BaselineRate != nil {
		bufOpts = append(bufOpts, exemplars.BaselineRate(*ts.BaselineRate))
	}
	if ts.LatencyThreshold > 0 {
		bufOpts = append(bufOpts, exemplars.LatencyThreshold(time.Duration(ts.LatencyThreshold)))
	}
	k := cfg.Kafka
	convOpts := []ingest.ConvertOpt{ingest.PromoteResourceAttributes(k.PromoteResourceAttributes...)}
	if k.TenantAttribute != "" {
		convOpts = append(convOpts, ingest.TenantAttribute(k.TenantAttribute))
	}
	tracesEnc, err := ingest.ParseEncoding(k.TracesEncoding)
	if err != nil {
		return err
	}
	metricsEnc, err := ingest.ParseEncoding(k.MetricsEncoding)
	if err != nil {
		return err
	}
	pipe, err := pipeline.New(pipeline.Config{
		Rules:          ruleSet,
		Aggregator:     aggOpts,
		Buffer:         bufOpts,
		MetricConvert:  convOpts,
		SpanConvert:    append(convOpts, ingest.SpanDimensions(ruleSet.SpanDimensions("")...)),
		TracesEncoding: tracesEnc,
		MetricsTopic:   k.MetricsTopic,
		Series:         series,
		Traces:         traceSink,
		Logger:         log,
		Reg:            reg,
	})
	if err != nil {
		return err
	}
	consumer, err := ingest.NewConsumer(
		ingest.Brokers(k.Brokers...), ingest.Group(k.Group),
		ingest.MetricsTopic(k.MetricsTopic), ingest.SpansTopic(k.SpansTopic),
		ingest.MetricsEncoding(metricsEnc), ingest.TracesEncoding(tracesEnc),
		ingest.DeadLetterTopic(k.DeadLetterTopic), ingest.TenantHeader(k.TenantHeader),
		ingest.WithLogger(log), ingest.WithRegisterer(reg))
	if err != nil {
		return err
	}

	srvOpts := []server.Opt{server.WithLogger(log)}
	if u := cfg.Query.PrometheusURL; u != "" {
		h, err := server.Proxy(u)
		if err != nil {
			return err
		}
		srvOpts = append(srvOpts, server.Query(h))
	}
	if u := cfg.Query.JaegerURL; u != "" {
		h, err := server.Proxy(u)
		if err != nil {
			return err
		}
		srvOpts = append(srvOpts, server.Traces(h))
	}
	srv := server.New(reg, srvOpts...)
	l, err := server.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	srvCtx, stopSrv := context.WithCancel(context.Background())
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(srvCtx, l) }()

	// Rules: reloaded on SIGHUP and on file change; a bad file is refused and
	// the running rules stay.
	if len(rulePaths) > 0 {
		w := rules.NewWatcher(rulePaths, rules.WatcherLogger(log), rules.WatcherRegisterer(reg))
		go w.Run(ctx, pipe.SetRules)
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					w.Reload()
				}
			}
		}()
	}

	srv.SetReady(true)
	log.Info("weir running", "listen", l.Addr().String(), "brokers", k.Brokers, "group", k.Group)
	errs := []error{consumer.Run(ctx, pipe)}
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs = append(errs, pipe.Flush(fctx))
	for _, q := range queues {
		errs = append(errs, q.Close(fctx))
	}
	if exporter != nil {
		errs = append(errs, exporter.Close(fctx))
	}
	srv.SetReady(false)
	stopSrv()
	errs = append(errs, <-srvDone)
	return errors.Join(errs...)
}
