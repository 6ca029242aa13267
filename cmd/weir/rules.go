package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
)

const rulesUsage = `usage:
  weir rules check PATH...                  validate rules files, directories of them, or weir configs
  weir rules test PATH... -input POINTS     show what the rules make of each input series

A weir configuration file (one with kafka:, remote_write:, ...) among the
PATHs is checked with the rules files it names, including the routing of
their storage policies to its remote_write destinations. All other files are
rules files, checked together as one set, as weir run loads them.
`

func cmdRules(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, rulesUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return cmdRulesCheck(args[1:], stdout, stderr)
	case "test":
		return cmdRulesTest(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, rulesUsage)
		return 0
	}
	fmt.Fprintf(stderr, "weir rules: unknown command %q\n\n%s", args[0], rulesUsage)
	return 2
}

// cmdRulesCheck validates rules files and configurations. It prints every
// problem as FILE:LINE:COL: message and exits 2, or prints one OK line per
// set checked and exits 0.
func cmdRulesCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, rulesUsage)
		return 2
	}
	ruleFiles, configs, err := classify(args)
	if err != nil {
		fmt.Fprintln(stderr, "weir rules check:", err)
		return 2
	}
	failed := false
	if len(ruleFiles) > 0 {
		if s, err := rules.Load(ruleFiles...); err != nil {
			fmt.Fprintln(stderr, err)
			failed = true
		} else {
			fmt.Fprintf(stdout, "%s: %d rules OK\n", strings.Join(ruleFiles, ", "), s.Len())
		}
	}
	for _, path := range configs {
		cfg, s, err := loadConfig(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			failed = true
			continue
		}
		fmt.Fprintln(stdout, configOK(path, cfg.Rules, s.Len()))
	}
	if failed {
		return 2
	}
	return 0
}

// configOK is the line weir rules check and weir config check print for a
// configuration that passes.
func configOK(path string, ruleFiles []string, n int) string {
	from := strings.Join(ruleFiles, ", ")
	if from == "" {
		from = "built in"
	}
	return fmt.Sprintf("%s: configuration OK, %d rules OK (%s), every storage policy routed", path, n, from)
}

// loadConfig loads a weir configuration with its rules (the built-in ones
// when it names none) and checks their routing, as weir run starts.
func loadConfig(path string) (*config.Config, *rules.Set, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	s := rules.Default()
	if ps := cfg.RulePaths(); len(ps) > 0 {
		if s, err = rules.Load(ps...); err != nil {
			return nil, nil, err
		}
	}
	if err := cfg.CheckRouting(s); err != nil {
		return nil, nil, err
	}
	return cfg, s, nil
}

// classify expands directories into their *.yaml and *.yml files (not
// recursively, not hidden ones, sorted by name, as rules.Load does) and tells
// weir configurations from rules files. A path that cannot be read is left to
// rules.Load, which reports it.
func classify(paths []string) (ruleFiles, configs []string, err error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			files = append(files, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range ents {
			n := e.Name()
			if strings.HasPrefix(n, ".") || (!strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, ".yml")) {
				continue
			}
			if st, err := os.Stat(filepath.Join(p, n)); err == nil && st.Mode().IsRegular() {
				files = append(files, filepath.Join(p, n))
			}
		}
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("no rules or configuration files in %s", strings.Join(paths, ", "))
	}
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil && config.Sniff(data) {
			configs = append(configs, f)
		} else {
			ruleFiles = append(ruleFiles, f)
		}
	}
	return ruleFiles, configs, nil
}

// cmdRulesTest prints, for each distinct input series of the -input file,
// the rules it matches and the series it would produce at each policy.
func cmdRulesTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir rules test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	input := fs.String("input", "", "points: Prometheus text exposition format, or an OTLP JSON metrics file (ExportMetricsServiceRequest)")
	format := fs.String("format", "auto", "format of -input: text, otlp_json, or auto (otlp_json when the file starts with '{')")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: weir rules test PATH... -input POINTS [-format text|otlp_json]\n\n")
		fs.PrintDefaults()
	}
	// Flags may come before or after the paths.
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(paths) == 0 || *input == "" {
		fs.Usage()
		return 2
	}

	ruleFiles, configs, err := classify(paths)
	if err != nil {
		fmt.Fprintln(stderr, "weir rules test:", err)
		return 2
	}
	var s *rules.Set
	var cfg *config.Config
	switch {
	case len(configs) > 1 || (len(configs) == 1 && len(ruleFiles) > 0):
		fmt.Fprintln(stderr, "weir rules test: give rules files, or one configuration file, not both")
		return 2
	case len(configs) == 1:
		cfg, s, err = loadConfig(configs[0])
	default:
		s, err = rules.Load(ruleFiles...)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	u := plan.Unmatched{}
	if cfg != nil {
		u = plan.Unmatched{Drop: cfg.Unmatched.Drop, Policies: cfg.UnmatchedPolicies()}
	}

	data, err := os.ReadFile(*input)
	if err != nil {
		fmt.Fprintln(stderr, "weir rules test:", err)
		return 2
	}
	pts, err := readPoints(*input, data, *format, cfg)
	if err != nil {
		var perr *pointsError
		if errors.As(err, &perr) {
			fmt.Fprintln(stderr, err)
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", *input, err)
		}
		return 2
	}
	if len(pts) == 0 {
		fmt.Fprintf(stderr, "%s: no points\n", *input)
		return 2
	}
	for i := range pts {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		describe(stdout, s, u, &pts[i])
	}
	return 0
}
