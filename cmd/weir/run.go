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
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/exemplars"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/internal/pipeline"
	"github.com/weirdev/weir/internal/server"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sinks/otlptrace"
	"github.com/weirdev/weir/ui"
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
		if errs := (rules.Errors{}); errors.As(err, &errs) {
			// Bad rules, or rules the destinations cannot take: one
			// FILE:LINE:COL: message per line, as weir rules check prints them.
			fmt.Fprintln(stderr, errs)
			return 2
		}
		log.Error("weir run failed", "err", err)
		return 1
	}
	return 0
}

// traceExporterOpts are the exporter options of cfg.Traces.
func traceExporterOpts(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) []otlptrace.Opt {
	t := cfg.Traces
	opts := []otlptrace.Opt{otlptrace.WithHeaders(t.Headers), otlptrace.WithLogger(log), otlptrace.WithRegisterer(reg)}
	switch {
	case t.Insecure:
		opts = append(opts, otlptrace.WithInsecure())
	case t.CAFile != "" || t.CertFile != "":
		opts = append(opts, otlptrace.WithTLS(cfg.Path(t.CAFile), cfg.Path(t.CertFile), cfg.Path(t.KeyFile)))
	}
	if t.ServerName != "" {
		opts = append(opts, otlptrace.WithServerName(t.ServerName))
	}
	if len(t.HeaderFiles) > 0 {
		files := make(map[string]string, len(t.HeaderFiles))
		for k, f := range t.HeaderFiles {
			files[k] = cfg.Path(f)
		}
		opts = append(opts, otlptrace.WithHeaderFiles(files))
	}
	return opts
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
	// Every storage policy must reach storage that keeps its resolution apart
	// (see config.CheckRouting); reloads are held to the same check.
	if err := cfg.CheckRouting(ruleSet); err != nil {
		return err
	}

	series, queues, err := seriesSinks(cfg, log, reg)
	if err != nil {
		return err
	}

	var traceSink pipeline.TraceSink
	var exporter *otlptrace.Exporter
	if t := cfg.Traces; t.Endpoint != "" {
		e, err := otlptrace.New(t.Endpoint, traceExporterOpts(cfg, log, reg)...)
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
	lateness, wait := aggregator.DefaultAllowedLateness, exemplars.DefaultDecisionWait
	if a.AllowedLateness > 0 {
		lateness = time.Duration(a.AllowedLateness)
	}
	if ts.DecisionWait > 0 {
		wait = time.Duration(ts.DecisionWait)
	}
	warnExemplarWait := func(s *rules.Set) {
		for _, w := range config.ExemplarWaitWarnings(s, wait, lateness) {
			log.Warn(w)
		}
	}
	warnExemplarWait(ruleSet)
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
	pipes, err := newPipelines(k.Workers, pipeline.Config{
		Rules:          ruleSet,
		Aggregator:     aggOpts,
		Buffer:         bufOpts,
		MetricConvert:  convOpts,
		SpanConvert:    append(convOpts, ingest.SpanDimensions(ruleSet.AllSpanDimensions()...)),
		TracesEncoding: tracesEnc,
		MetricsTopic:   k.MetricsTopic,
		Series:         series,
		Unmatched:      unmatched(cfg),
		Traces:         traceSink,
		Logger:         log,
		Reg:            reg,
	}, ts.MaxBytes)
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
	srvOpts = append(srvOpts, server.UI(ui.Handler(ui.Config{JaegerUIURL: cfg.Query.JaegerUIURL})))
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
		w := rules.NewWatcher(rulePaths, rules.WatcherLogger(log), rules.WatcherRegisterer(reg), rules.WatcherCheck(cfg.CheckRouting))
		go w.Run(ctx, func(s *rules.Set) {
			warnExemplarWait(s) // a reloaded rule can have longer windows
			for _, p := range pipes {
				p.SetRules(s)
			}
		})
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
	log.Info("weir running", "listen", l.Addr().String(), "brokers", k.Brokers, "group", k.Group, "workers", len(pipes))
	cc := pipeline.ClusterConfig{
		Brokers: k.Brokers, Group: k.Group,
		MetricsTopic: k.MetricsTopic, SpansTopic: k.SpansTopic,
		PartialsTopic: k.PartialsTopic, DecisionsTopic: k.DecisionsTopic, DeadLetterTopic: k.DeadLetterTopic,
		MetricsEncoding: metricsEnc, PartialsPartitions: k.PartialsPartitions, TransactionalID: k.TransactionalID,
		TenantHeader: k.TenantHeader,
	}
	if k.SessionTimeout > 0 {
		cc.ClientOpts = append(cc.ClientOpts, kgo.SessionTimeout(time.Duration(k.SessionTimeout)))
	}
	errs := []error{runWorkers(ctx, pipes, cc)}
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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
