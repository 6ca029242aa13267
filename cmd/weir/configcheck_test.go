package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheck: the shipped configurations pass with one OK line and
// exit 0; a bad one gets every problem as FILE:LINE:COL: message and exit
// 1; a command line without exactly one file gets the usage and exit 2.
func TestConfigCheck(t *testing.T) {
	for _, p := range []string{configs + "/weir.yaml", configs + "/compose/weir.yaml"} {
		code, stdout, stderr := weir(t, "config", "check", p)
		if want := p + ": configuration OK, "; code != 0 || stderr != "" || len(lines(stdout)) != 1 || !strings.HasPrefix(stdout, want) {
			t.Errorf("config check %s: exit %d, stdout %q, stderr %q; want 0 and a line starting %q", p, code, stdout, stderr, want)
		}
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "weir.yaml")
	if err := os.WriteFile(bad, []byte("kafka:\n  broker: [a]\n  workers: 100\nremote_write: [{url: 'http://x/'}]\naggregation: {idle_timeout: -1s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	syntax := filepath.Join(dir, "syntax.yaml")
	if err := os.WriteFile(syntax, []byte("kafka:\n  brokers: [a]\n   group: g\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want []string // each line's start
	}{
		{bad, []string{
			bad + `:2:3: unknown field "broker" in kafka; did you mean "brokers"? valid keys: brokers, group,`,
			bad + `:3:12: kafka.workers: 100 is not between 1 and 64`,
			bad + `:5:29: aggregation.idle_timeout: negative duration "-1s"`,
		}},
		{syntax, []string{syntax + `:3:4: YAML syntax: did not find expected key`}},
		{configs + "/testdata/bad-routing/weir.yaml", []string{
			configs + `/testdata/bad-routing/rules.yaml:3:5: rollup rule "latency": storage policies 10s:2d and 1m:40d`,
			configs + `/testdata/bad-routing/rules.yaml:9:5: mapping rule "node": storage policy 5m:365d goes to no remote_write destination`,
		}},
	} {
		code, stdout, stderr := weir(t, "config", "check", tc.path)
		got := lines(stderr)
		if code != 2 || stdout != "" || len(got) != len(tc.want) {
			t.Errorf("config check %s: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %d lines", tc.path, code, stdout, stderr, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("config check %s: line %d is\n%s\nwant it to start with\n%s", tc.path, i, got[i], w)
			}
		}
	}

	// weir run refuses the bad file at start with the same lines.
	if code, _, stderr := weir(t, "run", "-config", bad); code != 2 || len(lines(stderr)) != 3 || !strings.HasPrefix(stderr, bad+`:2:3: unknown field "broker"`) {
		t.Errorf("run -config %s: exit %d, stderr:\n%s", bad, code, stderr)
	}

	for _, args := range [][]string{
		{"config"}, {"config", "frob"}, {"config", "check"}, {"config", "check", filepath.Join(dir, "missing.yaml")},
		{"config", "check", dir}, {"config", "check", bad, bad}, {"config", "check", "-v", bad},
	} {
		if code, stdout, stderr := weir(t, args...); code != 2 || stdout != "" || !strings.Contains(stderr, "usage:") {
			t.Errorf("weir %v: exit %d, stdout %q, stderr %q; want 2 and the usage", args, code, stdout, stderr)
		}
	}
}
