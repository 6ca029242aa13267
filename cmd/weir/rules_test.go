package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

const configs = "../../configs"

// weir runs the command line and returns its exit code and output.
func weir(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

func TestRulesCheckPassesShippedExamples(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // regexps, one per stdout line
	}{
		{[]string{configs + "/"}, []string{
			`^\.\./\.\./configs/demo-rules\.yaml: [1-9]\d* rules OK$`,
			`^\.\./\.\./configs/weir\.yaml: configuration OK, [1-9]\d* rules OK \(rules/example\.yaml\), every storage policy routed$`,
		}},
		{[]string{configs + "/rules/"}, []string{`^\.\./\.\./configs/rules/example\.yaml, \.\./\.\./configs/rules/jaeger-spm\.yaml: [1-9]\d* rules OK$`}},
		{[]string{configs + "/demo-rules.yaml"}, []string{`^\.\./\.\./configs/demo-rules\.yaml: [1-9]\d* rules OK$`}},
		{[]string{configs + "/weir.yaml"}, []string{`^\.\./\.\./configs/weir\.yaml: configuration OK`}},
	} {
		code, stdout, stderr := weir(t, append([]string{"rules", "check"}, tc.args...)...)
		if code != 0 || stderr != "" {
			t.Errorf("rules check %v: exit %d, stderr:\n%s", tc.args, code, stderr)
			continue
		}
		got := lines(stdout)
		if len(got) != len(tc.want) {
			t.Errorf("rules check %v: stdout\n%s\nwant %d lines", tc.args, stdout, len(tc.want))
			continue
		}
		for i, re := range tc.want {
			if !regexp.MustCompile(re).MatchString(got[i]) {
				t.Errorf("rules check %v: line %q does not match %s", tc.args, got[i], re)
			}
		}
	}
}

func TestRulesCheckReportsEveryError(t *testing.T) {
	td := configs + "/testdata"
	for _, tc := range []struct {
		path string
		want []string // each line's FILE:LINE:COL and the start of its message
	}{
		{td + "/bad-rules.yaml", []string{
			`bad-rules.yaml:5:12: drop rule "drop-debug": bad matcher`,
			`bad-rules.yaml:11:5: rollup rule "latency": use either by or without, not both`,
			`bad-rules.yaml:12:37: rollup rule "latency": aggregations: unknown aggregation "median"`,
			`bad-rules.yaml:13:24: rollup rule "latency": policies: bad storage policy "1h:30m"`,
			`bad-rules.yaml:14:11: duplicate rule name "latency"`,
			`bad-rules.yaml:18:16: rollup rule "latency": policies: bad retention "2x"`,
			`bad-rules.yaml:21:13: rollup rule "sums" writes series "http_server_request_duration_seconds:by_service_sum"`,
			`bad-rules.yaml:24:5: unknown field "keep_orignal"`,
			`bad-rules.yaml:26:5: mapping rule #1: missing required field "name"`,
			`bad-rules.yaml:29:28: spans: dimension "user.id" is forbidden`,
		}},
		{td + "/bad-syntax.yaml", []string{`bad-syntax.yaml:4:23: YAML syntax: mapping values are not allowed in this context`}},
		{td + "/bad-rules-dir", []string{
			`bad-rules-dir/02-conflicts.yaml:3:11: duplicate rule name "latency"`,
			`bad-rules-dir/02-conflicts.yaml:10:13: rollup rule "latency-count" writes series "http_latency_count"`,
			`bad-rules-dir/02-conflicts.yaml:14:16: spans: dimension "user.id" is forbidden`,
			`bad-rules-dir/02-conflicts.yaml:16:3: limits: default set twice`,
		}},
		{td + "/bad-routing/weir.yaml", []string{
			`bad-routing/rules.yaml:3:5: rollup rule "latency": storage policies 10s:2d and 1m:40d both go to http://127.0.0.1:9090/api/v1/write (remote_write[1]) without M3 storage-policy headers`,
			`bad-routing/rules.yaml:9:5: mapping rule "node": storage policy 5m:365d goes to no remote_write destination`,
		}},
	} {
		code, stdout, stderr := weir(t, "rules", "check", tc.path)
		if code != 2 || stdout != "" {
			t.Errorf("rules check %s: exit %d, stdout %q; want 2 and nothing", tc.path, code, stdout)
		}
		got := lines(stderr)
		if len(got) != len(tc.want) {
			t.Errorf("rules check %s: %d errors, want %d:\n%s", tc.path, len(got), len(tc.want), stderr)
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(got[i], td+"/"+w) {
				t.Errorf("rules check %s: error %d is\n%s\nwant it to start with\n%s", tc.path, i, got[i], td+"/"+w)
			}
		}
	}

	// A good file and a bad one: the good one's OK line, the bad one's errors.
	code, stdout, stderr := weir(t, "rules", "check", configs+"/demo-rules.yaml", td+"/bad-routing/weir.yaml")
	if code != 2 || !strings.Contains(stdout, "demo-rules.yaml: ") || len(lines(stderr)) != 2 {
		t.Errorf("good and bad: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestRulesUsage(t *testing.T) {
	for _, args := range [][]string{
		{"rules"}, {"rules", "frob"}, {"rules", "check"}, {"rules", "check", t.TempDir()},
		{"rules", "test", configs + "/demo-rules.yaml"}, {"rules", "test", "-input", "x.prom"},
	} {
		if code, stdout, stderr := weir(t, args...); code != 2 || stdout != "" || stderr == "" {
			t.Errorf("weir %v: exit %d, stdout %q, stderr %q; want 2 and a message", args, code, stdout, stderr)
		}
	}
	if code, _, stderr := weir(t, "rules", "check", "/nonexistent/rules.yaml"); code != 2 ||
		!strings.HasPrefix(stderr, "/nonexistent/rules.yaml: cannot read rules") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}

const testRules = `
drop:
  - {name: no-debug, match: '{__name__=~"debug_.*"}'}
rollup:
  - name: latency
    match: 'http_duration_seconds{env!="dev"}'
    output: 'http_duration_seconds:svc'
    by: [svc]
    aggregations: [count, p99]
    policies: [10s:2d, 1m:40d]
  - name: egress
    match: bytes_total
    output: 'bytes:svc'
    by: [svc]
    aggregations: [rate]
    policies: [1m:40d]
    keep_original: true
mapping:
  - {name: node, match: '{__name__=~"node_.*"}', policies: [1m:40d]}
`

const testInput = `# HELP http_duration_seconds Latency.
# TYPE http_duration_seconds histogram
http_duration_seconds_bucket{svc="cart",env="prod",pod="a",le="0.1"} 1
http_duration_seconds_bucket{svc="cart",env="prod",pod="a",le="+Inf"} 2
http_duration_seconds_sum{svc="cart",env="prod",pod="a"} 0.3
http_duration_seconds_count{svc="cart",env="prod",pod="a"} 2
# TYPE bytes_total counter
bytes_total{svc="cart",pod="a"} 100 1700000000000
bytes_total{svc="cart",pod="a"} 200 1700000010000
debug_heap 1
node_load1{cpu="0"} 0.5
other 3
`

const testOutput = `http_duration_seconds{env="prod", pod="a", svc="cart"} (histogram)
  rollup "latency" at 10s:2d, 1m:40d:
    http_duration_seconds:svc_count{svc="cart"}
    http_duration_seconds:svc{quantile="0.99", svc="cart"}

bytes_total{pod="a", svc="cart"} (delta)
  rollup "egress" at 1m:40d:
    bytes:svc_rate{svc="cart"}
  passes through (keep_original of rollup "egress") at 1m:40d:
    bytes_total{pod="a", svc="cart"}

debug_heap (gauge)
  dropped by drop rule "no-debug"

node_load1{cpu="0"} (gauge)
  passes through (mapping "node") at 1m:40d:
    node_load1{cpu="0"}

other (gauge)
  no rule matches: passes through at 10s:2d:
    other
`

func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRulesTestText(t *testing.T) {
	rulesFile := writeTemp(t, "rules.yaml", testRules)
	input := writeTemp(t, "points.prom", testInput)
	// Flags after the paths, as in the usage line, and before them.
	for _, args := range [][]string{{rulesFile, "-input", input}, {"-input", input, rulesFile}} {
		code, stdout, stderr := weir(t, append([]string{"rules", "test"}, args...)...)
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		if stdout != testOutput {
			t.Errorf("rules test %v:\n%s\nwant:\n%s", args, stdout, testOutput)
		}
	}

	// A configuration brings its unmatched setting (and its routing check).
	dir := filepath.Dir(rulesFile)
	cfg := writeTemp(t, "weir.yaml", "kafka: {brokers: [a]}\nrules: ["+rulesFile+"]\n"+
		"remote_write:\n  - {url: 'http://m3/', policies: [10s:2d, 1m:40d], m3_storage_policy_headers: true}\n"+
		"unmatched: {drop: true}\n")
	code, stdout, stderr := weir(t, "rules", "test", cfg, "-input", input)
	if code != 0 || !strings.HasSuffix(stdout, "other (gauge)\n  no rule matches: dropped (unmatched: drop)\n") {
		t.Errorf("with %s: exit %d\nstdout:\n%s\nstderr:\n%s", dir, code, stdout, stderr)
	}

	bad := writeTemp(t, "bad.prom", "ok_metric 1\nbad metric{ 2\n")
	code, stdout, stderr = weir(t, "rules", "test", rulesFile, "-input", bad)
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, bad+":2: ") {
		t.Errorf("bad input: exit %d, stdout %q, stderr %q; want 2 and %s:2: ...", code, stdout, stderr, bad)
	}
}

func TestRulesTestOTLPJSON(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "cart")
	sm := rm.ScopeMetrics().AppendEmpty()
	m := sm.Metrics().AppendEmpty()
	m.SetName("bytes_total")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := sum.DataPoints().AppendEmpty()
	dp.SetIntValue(100)
	dp.SetTimestamp(1_700_000_000_000_000_000)
	dp.Attributes().PutStr("svc", "cart")
	g := sm.Metrics().AppendEmpty()
	g.SetName("node.load1")
	g.SetUnit("1")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(0.5)
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	input := writeTemp(t, "points.json", string(b))
	rulesFile := writeTemp(t, "rules.yaml", testRules)
	code, stdout, stderr := weir(t, "rules", "test", rulesFile, "-input", input)
	want := `bytes_total{job="cart", svc="cart"} (delta)
  rollup "egress" at 1m:40d:
    bytes:svc_rate{svc="cart"}
  passes through (keep_original of rollup "egress") at 1m:40d:
    bytes_total{job="cart", svc="cart"}

node_load1_ratio{job="cart"} (gauge)
  passes through (mapping "node") at 1m:40d:
    node_load1_ratio{job="cart"}
`
	if code != 0 || stdout != want {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, stdout, want, stderr)
	}
	// A configuration brings its otlp section.
	cfg := writeTemp(t, "weir.yaml", "kafka: {brokers: [a]}\nrules: ["+rulesFile+"]\nremote_write: [{url: 'http://m3/', policies: [10s:2d, 1m:40d], m3_storage_policy_headers: true}]\n"+
		"otlp: {translation_strategy: UnderscoreEscapingWithoutSuffixes, promote_resource_attributes: [service.name]}\n")
	code, stdout, stderr = weir(t, "rules", "test", cfg, "-input", input)
	if want := "node_load1{job=\"cart\", service_name=\"cart\"} (gauge)\n"; code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("with %s: exit %d, stdout:\n%s\nwant it to hold %q\nstderr:\n%s", cfg, code, stdout, want, stderr)
	}

	bad := writeTemp(t, "bad.json", `{"resourceMetrics": [{"scopeMetrics": 7}]}`)
	if code, _, stderr := weir(t, "rules", "test", rulesFile, "-input", bad); code != 2 || !strings.HasPrefix(stderr, bad+": ") {
		t.Errorf("bad OTLP JSON: exit %d, stderr %q", code, stderr)
	}
}
