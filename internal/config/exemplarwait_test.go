package config

import (
	"strings"
	"testing"
	"time"

	"github.com/weirdev/weir/rules"
)

func TestExemplarWaitWarnings(t *testing.T) {
	set, err := rules.Parse("r.yaml", []byte(`
rollup:
  - name: fast
    match: a
    output: a_out
    by: [job]
    aggregations: [count, p99]
    policies: [10s:2d]
  - name: slow
    match: b
    output: b_out
    by: [job]
    aggregations: [count, max]
    policies: [10s:2d, 1m:30d]
  - name: no-exemplars
    match: c
    output: c_out
    by: [job]
    aggregations: [sum, count]
    policies: [5m:90d]
mapping:
  - name: passthrough
    match: d
    policies: [30s:7d]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		wait     time.Duration
		lateness time.Duration
		want     []string // rule names warned about, in order
	}{
		{30 * time.Second, 2 * time.Second, []string{`"slow"`}},
		{65 * time.Second, 2 * time.Second, nil},
		{62 * time.Second, 2 * time.Second, []string{`"slow"`}},
		{12 * time.Second, 2 * time.Second, []string{`"fast"`, `"slow"`}},
		{12 * time.Second, time.Second, []string{`"slow"`}},
	} {
		got := ExemplarWaitWarnings(set, tc.wait, tc.lateness)
		if len(got) != len(tc.want) {
			t.Fatalf("wait %v: %d warnings %q, want %d naming %v", tc.wait, len(got), got, len(tc.want), tc.want)
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) || !strings.HasPrefix(got[i], "r.yaml:") {
				t.Errorf("wait %v: warning %q, want one at r.yaml:LINE:COL naming %s", tc.wait, got[i], w)
			}
		}
	}
}

// The example configuration waits long enough for the exemplars of its
// example rules.
func TestExampleConfigExemplarWait(t *testing.T) {
	cfg, err := Load("../../configs/weir.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load(cfg.RulePaths()...)
	if err != nil {
		t.Fatal(err)
	}
	if w := ExemplarWaitWarnings(set, time.Duration(cfg.TailSampling.DecisionWait), time.Duration(cfg.Aggregation.AllowedLateness)); len(w) > 0 {
		t.Errorf("configs/weir.yaml: %q", w)
	}
	if w := ExemplarWaitWarnings(set, 30*time.Second, time.Duration(cfg.Aggregation.AllowedLateness)); len(w) == 0 {
		t.Error("the example rules have 1m quantile windows: a 30s decision wait should be warned about")
	}
}
