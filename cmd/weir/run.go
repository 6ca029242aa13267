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

	"github.com/weirdev/weir/cardinality"
	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/internal/node"
	"github.com/weirdev/weir/internal/server"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sinks/otlptrace"
	"github.com/weirdev/weir/ui"
)

func cmdRun(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "configs/weir.yaml", "configuration file")
	verbose := fs.Bool("v", false, "debug logging")
	profiles := fs.Bool("pprof", false, "serve Go's profiles under /debug/pprof/ on the listen address (or set debug_listen in the config)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (flags come first: %s -h lists them)\n", "weir run", fs.Arg(0), "weir run")
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
	if err := runPipeline(ctx, cfg, *profiles, log); err != nil {
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

func runPipeline(ctx context.Context, cfg *config.Config, profiles bool, log *slog.Logger) error {
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

	series, queues, err := seriesSinks(ctx, cfg, log, reg)
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

	warnExemplarWait := func(s *rules.Set) {
		for _, w := range config.ExemplarWaitWarnings(s, time.Duration(cfg.TailSampling.DecisionWait), time.Duration(cfg.Aggregation.AllowedLateness)) {
			log.Warn(w)
		}
	}
	warnExemplarWait(ruleSet)
	n, err := node.New(cfg, ruleSet, node.Sinks{Series: series, Traces: traceSink}, nil, log, reg)
	if err != nil {
		return err
	}
	srvOpts := []server.Opt{server.WithLogger(log)}
	webConfig := cfg.Path(cfg.WebConfigFile)
	if webConfig != "" {
		if err := server.ValidateWebConfig(webConfig); err != nil {
			return err
		}
		srvOpts = append(srvOpts, server.WebConfig(webConfig))
	}
	if profiles {
		srvOpts = append(srvOpts, server.Profiles())
	}
	if u := cfg.Query.PrometheusURL; u != "" {
		h, err := server.PrometheusProxy(u)
		if err != nil {
			return fmt.Errorf("query.prometheus_url: %w", err)
		}
		srvOpts = append(srvOpts, server.Query(h))
	}
	if u := cfg.Query.JaegerURL; u != "" {
		h, err := server.JaegerProxy(u)
		if err != nil {
			return fmt.Errorf("query.jaeger_url: %w", err)
		}
		srvOpts = append(srvOpts, server.Traces(h))
	}
	prof, err := n.ProfileHandler(ctx)
	if err != nil {
		return err
	}
	// Ahead of the query proxy: the profiles are weir's own.
	srvOpts = append(srvOpts, server.Handle(cardinality.TSDBPath, prof), server.Handle(cardinality.CardinalityPath, prof))
	srvOpts = append(srvOpts, server.UI(ui.Handler(ui.Config{JaegerUIURL: cfg.Query.JaegerUIURL, DecisionWait: time.Duration(cfg.TailSampling.DecisionWait)})))
	srv := server.New(reg, srvOpts...)
	srv.SetHealth(n.Healthy)
	l, err := server.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	srvCtx, stopSrv := context.WithCancel(context.Background())
	srvDone := make(chan error, 2)
	go func() { srvDone <- srv.Serve(srvCtx, l) }()
	servers := 1
	if cfg.DebugListen != "" {
		dl, err := server.Listen(cfg.DebugListen)
		if err != nil {
			stopSrv()
			return errors.Join(err, <-srvDone)
		}
		log.Info("serving Go's profiles", "debug_listen", dl.Addr().String())
		go func() { srvDone <- server.ServeHandler(srvCtx, dl, server.ProfilesHandler(), webConfig, log) }()
		servers++
	}

	// Rules: reloaded on SIGHUP and on file change; a bad file is refused and
	// the running rules stay.
	if len(rulePaths) > 0 {
		w := rules.NewWatcher(rulePaths, rules.WatcherLogger(log), rules.WatcherRegisterer(reg), rules.WatcherCheck(cfg.CheckRouting))
		go w.Run(ctx, func(s *rules.Set) {
			warnExemplarWait(s) // a reloaded rule can have longer windows
			n.SetRules(s)
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

	srv.SetReadiness(func() (bool, string) {
		// A sink refusing weir's configuration (credentials, URL) holds
		// every commit: say so first.
		for _, q := range queues {
			if f, ok := q.(interface{ Fault() error }); ok {
				if err := f.Fault(); err != nil {
					return false, err.Error()
				}
			}
		}
		return n.Ready()
	})
	k := cfg.Kafka
	log.Info("weir running", "listen", l.Addr().String(), "brokers", k.Brokers, "group", k.Group, "workers", k.Workers)
	errs := []error{n.Run(ctx, reg)}
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range queues {
		errs = append(errs, q.Close(fctx))
	}
	if exporter != nil {
		errs = append(errs, exporter.Close(fctx))
	}
	stopSrv()
	for range servers {
		errs = append(errs, <-srvDone)
	}
	return errors.Join(errs...)
}
