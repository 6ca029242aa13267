package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped configuration, relative to this package.
const (
	exampleFile = "../configs/rules/example.yaml"
	testdataDir = "../configs/testdata"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// errorStrings returns the messages of an Errors, failing the test for any
// other error.
func errorStrings(t *testing.T, err error) []string {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

func checkErrors(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want:\n%s", strings.Join(want, "\n"))
	}
	if got := errorStrings(t, err); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "20-rollup.yml"), "rollup:\n  - {name: r, match: m, output: o, aggregations: [sum], policies: [1m:1d]}\n")
	writeFile(t, filepath.Join(dir, "10-drop.yaml"), "drop:\n  - {name: d, match: debug}\n")
	writeFile(t, filepath.Join(dir, "30-empty.yaml"), "# nothing yet\n")
	writeFile(t, filepath.Join(dir, "README.md"), "not rules: {")
	writeFile(t, filepath.Join(dir, ".editor-backup.yaml"), "not rules: {")
	writeFile(t, filepath.Join(dir, "sub", "nested.yaml"), "not rules: {")
	extra := filepath.Join(t.TempDir(), "extra.yaml")
	writeFile(t, extra, "mapping:\n  - {name: m, match: node_load1, policies: [1m:40d]}\n")

	// The directory's first file named again is loaded once.
	s, err := Load(dir, extra, filepath.Join(dir, "10-drop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range s.Rules() {
		got = append(got, r.Name+"@"+filepath.Base(r.File))
	}
	if want := "d@10-drop.yaml r@20-rollup.yml m@extra.yaml"; strings.Join(got, " ") != want {
		t.Errorf("rules %v, want %s", got, want)
	}

	if s, err := Load(t.TempDir()); err != nil || s.Len() != 0 {
		t.Errorf("Load(empty dir) = %v, %v; want an empty set", s, err)
	}
	if s, err := Load(); err != nil || s.Len() != 0 {
		t.Errorf("Load() = %v, %v; want an empty set", s, err)
	}
}

func TestLoadErrorsAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	b := filepath.Join(dir, "b.yaml")
	writeFile(t, a, lines(
		"drop:",
		"  - name: x",
		"    match: '{'",
		"spans:",
		"  forbidden: [user.id]",
	))
	writeFile(t, b, lines(
		"drop:",
		"  - name: x",
		"    match: m",
		"spans:",
		"  dimensions: [user.id]",
		"  services:",
		"    cart: {dimensions: [user.id]}",
	))
	missing := filepath.Join(dir, "missing.yaml")
	_, err := Load(missing, dir)
	checkErrors(t, err, []string{
		missing + ": cannot read rules: no such file or directory",
		a + `:3:12: drop rule "x": bad matcher "{": 1:2: parse error: unexpected end of input inside braces`,
		b + `:2:11: duplicate rule name "x" (first defined at ` + a + `:2:11)`,
		b + `:5:16: spans: dimension "user.id" is forbidden (listed in forbidden at ` + a + `:5:15)`,
		b + `:7:25: spans: service "cart": dimension "user.id" is forbidden (listed in forbidden at ` + a + `:5:15)`,
	})
}

func TestShippedExample(t *testing.T) {
	for _, path := range []string{exampleFile, filepath.Dir(exampleFile)} {
		s, err := Load(path)
		if err != nil {
			t.Fatalf("Load(%s): %v", path, err)
		}
		kinds := make(map[RuleKind]int)
		for _, r := range s.Rules() {
			kinds[r.Kind]++
		}
		if kinds[DropRule] == 0 || kinds[RollupRule] == 0 || kinds[MappingRule] == 0 {
			t.Errorf("Load(%s): rules by kind %v, want every kind", path, kinds)
		}
		if len(s.SpanDimensions("checkout")) <= len(s.SpanDimensions("")) {
			t.Errorf("Load(%s): checkout has no span dimensions of its own", path)
		}
		if len(s.Limits().Tenants) == 0 || s.Limits().Default.Unlimited() {
			t.Errorf("Load(%s): limits %+v, want a default and tenants", path, s.Limits())
		}
		m := s.Match(lbls("__name__", "http_server_request_duration_seconds", "env", "prod", "job", "checkout", "pod", "p-1"))
		if len(m.Outputs) != 1 || m.Outputs[0].Name != "http_server_request_duration_seconds:by_service" {
			t.Errorf("Load(%s): the latency rollup does not apply: %+v", path, m)
		}
	}
}

func TestBrokenTestdata(t *testing.T) {
	bad := filepath.Join(testdataDir, "bad-rules.yaml")
	_, err := Load(bad)
	checkErrors(t, err, []string{
		bad + `:5:12: drop rule "drop-debug": bad matcher "{__name__=~\"debug_.*\"": 1:22: parse error: unexpected end of input inside braces`,
		bad + `:11:5: rollup rule "latency": use either by or without, not both`,
		bad + `:12:37: rollup rule "latency": aggregations: unknown aggregation "median": want sum, count, min, max, last, mean, rate, increase, buckets, stddev, total, histogram or a percentile pNN (p50, p99, p999)`,
		bad + `:13:24: rollup rule "latency": policies: bad storage policy "1h:30m": retention 30m is shorter than resolution 1h`,
		bad + `:14:11: duplicate rule name "latency" (first defined at ` + bad + `:7:11)`,
		bad + `:18:16: rollup rule "latency": policies: bad retention "2x" in storage policy "10s:2x": unknown unit "x" in duration "2x"`,
		bad + `:21:13: rollup rule "sums" writes series "http_server_request_duration_seconds:by_service_sum", which rollup rule "latency" (output at ` + bad + `:9:13) writes too`,
		bad + `:24:5: unknown field "keep_orignal" in rollup rule "sums" (known fields: ` + knownRollup + `)`,
		bad + `:26:5: mapping rule #1: missing required field "name"`,
		bad + `:29:28: spans: dimension "user.id" is forbidden (listed in forbidden at ` + bad + `:30:15)`,
	})

	syntax := filepath.Join(testdataDir, "bad-syntax.yaml")
	_, err = Load(syntax)
	checkErrors(t, err, []string{syntax + ":4:23: YAML syntax: mapping values are not allowed in this context"})

	dir := filepath.Join(testdataDir, "bad-rules-dir")
	base, conflicts := filepath.Join(dir, "01-base.yaml"), filepath.Join(dir, "02-conflicts.yaml")
	for _, f := range []string{base, conflicts} {
		if _, err := Load(f); err != nil {
			t.Errorf("%s alone: %v", f, err)
		}
	}
	_, err = Load(dir)
	checkErrors(t, err, []string{
		conflicts + `:3:11: duplicate rule name "latency" (first defined at ` + base + `:3:11)`,
		conflicts + `:10:13: rollup rule "latency-count" writes series "http_latency_count", which rollup rule "latency" (output at ` + base + `:5:13) writes too`,
		conflicts + `:14:16: spans: dimension "user.id" is forbidden (listed in forbidden at ` + base + `:10:15)`,
		conflicts + `:16:3: limits: default set twice (first at ` + base + `:12:3)`,
	})
}
