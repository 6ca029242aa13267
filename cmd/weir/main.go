// Command weir is the streaming aggregation tier for metrics and traces.
//
//	weir demo [-listen ADDR]          everything in one process, nothing to install
//	weir run -config FILE             against real Kafka, remote-write storage and an OTLP trace backend
//	weir config check FILE            validate a configuration as weir run starts with it
//	weir rules check FILE|DIR...      validate rules files (and a config's routing of their policies)
//	weir rules test FILE... -input P  show which rules each input series matches and what it produces
//	weir version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: weir <command> [flags]

commands:
  demo          run everything in one process on embedded defaults
  run           run the pipeline: weir run -config configs/weir.yaml
  config check  validate a configuration: weir config check configs/weir.yaml
  rules check   validate rules files: weir rules check FILE|DIR...
  rules test    show what rules make of input points: weir rules test FILE... -input POINTS
  version       print the version

Run 'weir <command> -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line; it returns the process exit code: 0 ok,
// 1 failure, 2 bad usage or invalid input.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "config":
		return cmdConfig(ctx, args[1:], stdout, stderr)
	case "rules":
		return cmdRules(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "weir", version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "weir: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

const version = "0.1.0-dev"
