package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"

	"github.com/weirdev/weir/internal/demo"
	"github.com/weirdev/weir/internal/server"
	"github.com/weirdev/weir/receiver"
	"github.com/weirdev/weir/rules"
)

// maxDemoTraceRate bounds -trace-rate: one process generates, consumes and
// stores them all.
const maxDemoTraceRate = 100_000

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9464", "HTTP address: Prometheus and Jaeger API subsets, /metrics, UI")
	rulesPath := fs.String("rules", "", "rules file or directory (default: the embedded configs/demo-rules.yaml)")
	rate := fs.Float64("trace-rate", 200, "generated traces per second")
	seed := fs.Uint64("seed", 1, "load generator seed")
	otlpGRPC := fs.String("otlp-grpc", receiver.DefaultGRPCEndpoint, "OTLP/gRPC receiver address (\"\" turns it off)")
	otlpHTTP := fs.String("otlp-http", receiver.DefaultHTTPEndpoint, "OTLP/HTTP receiver address: point OTEL_EXPORTER_OTLP_ENDPOINT at it (\"\" turns it off)")
	remoteWrite := fs.String("remote-write", "", "Prometheus remote-write receiver address, POST /api/v1/write (\"\" is off)")
	verbose := fs.Bool("v", false, "debug logging")
	profiles := fs.Bool("pprof", false, "serve Go's profiles under /debug/pprof/")
	webConfig := fs.String("web.config.file", "", "Prometheus web configuration file: TLS and basic auth on the HTTP port")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (flags come first: %s -h lists them)\n", "weir demo", fs.Arg(0), "weir demo")
		return 2
	}
	if !(*rate > 0) || math.IsInf(*rate, 0) {
		fmt.Fprintf(stderr, "weir demo: -trace-rate %v: want a positive number of traces per second\n", *rate)
		return 2
	}
	if *rate > maxDemoTraceRate {
		fmt.Fprintf(stderr, "weir demo: -trace-rate %v: at most %d traces per second (one process generates, consumes and stores them all)\n", *rate, maxDemoTraceRate)
		return 2
	}
	if *listen == "" {
		fmt.Fprintln(stderr, "weir demo: -listen: empty")
		return 2
	}
	if *webConfig != "" {
		if err := server.ValidateWebConfig(*webConfig); err != nil {
			fmt.Fprintln(stderr, "weir demo:", err)
			return 2
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := demo.Config{Listen: *listen, TraceRate: *rate, Seed: *seed, Logger: log,
		OTLPGRPC: *otlpGRPC, OTLPHTTP: *otlpHTTP, RemoteWrite: *remoteWrite, Profiles: *profiles, WebConfig: *webConfig}
	if *rulesPath != "" {
		s, err := rules.Load(*rulesPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		cfg.Rules = s
	}
	d, err := demo.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "weir demo:", err)
		return 1
	}
	base := "http://" + d.Addr()
	fmt.Fprintf(stdout, `weir demo is running on %[1]s (Ctrl-C stops it; open windows are flushed first)
  the UI:             %[1]s/
  p99 per operation:  %[1]s/api/v1/query?query=span_duration_seconds{quantile="0.99"}
  their exemplars:    %[1]s/api/v1/query_exemplars?query=span_duration_seconds{quantile="0.99"}
  a linked trace:     %[1]s/api/traces/<trace_id>
  weir's own metrics: %[1]s/metrics
`, base)
	if a := d.OTLPHTTPAddr(); a != "" {
		fmt.Fprintf(stdout, "  your app's traces:  OTEL_EXPORTER_OTLP_ENDPOINT=http://%s (OTLP/HTTP)\n", a)
	}
	if a := d.OTLPGRPCAddr(); a != "" {
		fmt.Fprintf(stdout, "                      OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://%s\n", a)
	}
	if a := d.RemoteWriteAddr(); a != "" {
		fmt.Fprintf(stdout, "  remote write:       http://%s%s\n", a, receiver.RemoteWritePath)
	}
	if err := d.Wait(); err != nil {
		fmt.Fprintln(stderr, "weir demo:", err)
		return 1
	}
	return 0
}
