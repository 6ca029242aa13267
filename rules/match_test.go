package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
)

const matchRules = `
drop:
  - name: drop-debug
    match: '{__name__=~"debug_.*"}'
  - name: drop-dev-team-x
    match: '{env="dev", team="x"}'
rollup:
  - name: lat-by-svc
    match: 'lat{env!="dev"}'
    output: lat:svc
    by: [service, Region]
    aggregations: [p99, count, sum]
    policies: [1m:40d, 10s:2d]
    priority: 10
  - name: lat-without-pod
    match: '{__name__=~"lat|rpc_lat"}'
    output: lat:nopod
    without: [pod]
    aggregations: [max]
    policies: [10s:2d]
    keep_original: true
  - name: api-total
    match: '{job="api"}'
    output: api_total
    aggregations: [sum]
    policies: [1m:1d]
  - name: team-y
    match: '{team="y"}'
    output: team_y
    without: [instance]
    aggregations: [count]
    policies: [1m:1d]
mapping:
  - name: node
    match: '{__name__=~"node_.*"}'
    policies: [1m:40d]
    priority: -1
`

// out is the expected part of an Output; the fingerprint is checked against
// the rule's.
type out struct {
	rule   string
	labels labels.Labels
}

func TestMatch(t *testing.T) {
	s, err := Parse("match.yaml", []byte(matchRules))
	if err != nil {
		t.Fatal(err)
	}
	infos := make(map[string]RuleInfo)
	for _, r := range s.Rules() {
		infos[r.Name] = r
	}
	for _, tc := range []struct {
		name string
		in   labels.Labels
		drop string
		outs []out
		keep bool
	}{
		{name: "drop by name regex", in: lbls("__name__", "debug_x", "job", "api"), drop: "drop-debug"},
		{name: "drop before rollups", in: lbls("__name__", "lat", "env", "dev", "team", "x"), drop: "drop-dev-team-x"},
		{
			name: "by and without",
			in:   lbls("__name__", "lat", "env", "prod", "service", "a", "pod", "p1", "Region", "eu"),
			outs: []out{
				{"lat-by-svc", lbls("__name__", "lat:svc", "service", "a", "Region", "eu")},
				{"lat-without-pod", lbls("__name__", "lat:nopod", "env", "prod", "service", "a", "Region", "eu")},
			},
			keep: true,
		},
		{
			name: "by label missing from input",
			in:   lbls("__name__", "lat", "env", "prod"),
			outs: []out{
				{"lat-by-svc", lbls("__name__", "lat:svc")},
				{"lat-without-pod", lbls("__name__", "lat:nopod", "env", "prod")},
			},
			keep: true,
		},
		{
			name: "negative matcher excludes",
			in:   lbls("__name__", "lat", "env", "dev", "service", "a"),
			outs: []out{{"lat-without-pod", lbls("__name__", "lat:nopod", "env", "dev", "service", "a")}},
			keep: true,
		},
		{
			name: "regex set index and fallback, in rule order",
			in:   lbls("__name__", "rpc_lat", "job", "api", "pod", "p"),
			outs: []out{
				{"lat-without-pod", lbls("__name__", "lat:nopod", "job", "api")},
				{"api-total", lbls("__name__", "api_total")},
			},
			keep: true,
		},
		{
			name: "mapping keeps the series",
			in:   lbls("__name__", "node_cpu", "cpu", "0"),
			outs: []out{{"node", lbls("__name__", "node_cpu", "cpu", "0")}},
		},
		{
			name: "fallback before mapping",
			in:   lbls("__name__", "node_load1", "job", "api"),
			outs: []out{
				{"api-total", lbls("__name__", "api_total")},
				{"node", lbls("__name__", "node_load1", "job", "api")},
			},
		},
		{
			name: "series without a name",
			in:   lbls("job", "api", "pod", "x"),
			outs: []out{{"api-total", lbls("__name__", "api_total")}},
		},
		{
			name: "without on a series without a name",
			in:   lbls("team", "y", "instance", "i", "a", "b", "Z", "z"),
			outs: []out{{"team-y", lbls("__name__", "team_y", "team", "y", "a", "b", "Z", "z")}},
		},
		{name: "nothing matches", in: lbls("__name__", "other", "job", "web"), keep: true},
		{name: "name regex does not match a longer name", in: lbls("__name__", "lat_extra"), keep: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := s.Match(tc.in)
			if m.Drop != tc.drop || m.KeepOriginal != tc.keep {
				t.Errorf("Drop=%q KeepOriginal=%v, want %q %v", m.Drop, m.KeepOriginal, tc.drop, tc.keep)
			}
			if len(m.Outputs) != len(tc.outs) {
				t.Fatalf("got %d outputs %v, want %d", len(m.Outputs), m.Outputs, len(tc.outs))
			}
			for i, o := range m.Outputs {
				w := tc.outs[i]
				info := infos[w.rule]
				if o.Rule != w.rule || !labels.Equal(o.Labels, w.labels) {
					t.Errorf("output %d: %s %s, want %s %s", i, o.Rule, o.Labels, w.rule, w.labels)
				}
				if o.Name != o.Labels.Get(model.MetricNameLabel) {
					t.Errorf("output %d: Name %q is not the __name__ of %s", i, o.Name, o.Labels)
				}
				if o.Fingerprint != info.Fingerprint || o.Priority != info.Priority || o.KeepOriginal != info.KeepOriginal ||
					!slices.Equal(o.Aggregations, info.Aggregations) || !slices.Equal(o.Policies, info.Policies) {
					t.Errorf("output %d: %+v does not carry rule %+v", i, o, info)
				}
				if info.Kind == MappingRule && o.Aggregations != nil {
					t.Errorf("output %d: mapping rule output has aggregations %v, want nil", i, o.Aggregations)
				}
			}
		})
	}
}

func TestMatchDoesNotAllocateOnMiss(t *testing.T) {
	s, err := Parse("match.yaml", []byte(matchRules))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []labels.Labels{
		lbls("__name__", "other", "job", "web"),
		lbls("__name__", "lat", "env", "dev", "team", "x"), // dropped
	} {
		if n := testing.AllocsPerRun(100, func() { s.Match(in) }); n != 0 {
			t.Errorf("Match(%s) allocates %v times, want 0", in, n)
		}
	}
}

func TestParseRuleKinds(t *testing.T) {
	s, err := Parse("kinds.yaml", []byte(matchRules))
	if err != nil {
		t.Fatal(err)
	}
	want := []RuleInfo{
		{Kind: DropRule, Name: "drop-debug", Line: 3, Col: 5, Match: `{__name__=~"debug_.*"}`},
		{Kind: DropRule, Name: "drop-dev-team-x", Line: 5, Col: 5, Match: `{env="dev", team="x"}`},
		{
			Kind: RollupRule, Name: "lat-by-svc", Line: 8, Col: 5, Match: `lat{env!="dev"}`, Output: "lat:svc",
			Grouping:     Grouping{Labels: []string{"Region", "service"}},
			Aggregations: []aggregator.Aggregation{{Agg: aggregator.Sum}, {Agg: aggregator.Count}, {Agg: aggregator.Quantile, Q: 0.99}},
			Policies:     []StoragePolicy{{10 * time.Second, 48 * time.Hour}, {time.Minute, 40 * 24 * time.Hour}},
			Priority:     10,
		},
		{
			Kind: RollupRule, Name: "lat-without-pod", Line: 15, Col: 5, Match: `{__name__=~"lat|rpc_lat"}`, Output: "lat:nopod",
			Grouping:     Grouping{Without: true, Labels: []string{"pod"}},
			Aggregations: []aggregator.Aggregation{{Agg: aggregator.Max}},
			Policies:     []StoragePolicy{{10 * time.Second, 48 * time.Hour}},
			KeepOriginal: true,
		},
		{
			Kind: RollupRule, Name: "api-total", Line: 22, Col: 5, Match: `{job="api"}`, Output: "api_total",
			Grouping:     Grouping{Labels: []string{}},
			Aggregations: []aggregator.Aggregation{{Agg: aggregator.Sum}},
			Policies:     []StoragePolicy{{time.Minute, 24 * time.Hour}},
		},
		{
			Kind: RollupRule, Name: "team-y", Line: 27, Col: 5, Match: `{team="y"}`, Output: "team_y",
			Grouping:     Grouping{Without: true, Labels: []string{"instance"}},
			Aggregations: []aggregator.Aggregation{{Agg: aggregator.Count}},
			Policies:     []StoragePolicy{{time.Minute, 24 * time.Hour}},
		},
		{
			Kind: MappingRule, Name: "node", Line: 34, Col: 5, Match: `{__name__=~"node_.*"}`,
			Policies: []StoragePolicy{{time.Minute, 40 * 24 * time.Hour}},
			Priority: -1,
		},
	}
	got := s.Rules()
	if len(got) != len(want) {
		t.Fatalf("%d rules, want %d", len(got), len(want))
	}
	seen := make(map[uint64]string)
	for i, g := range got {
		w := want[i]
		w.File = "kinds.yaml"
		if prev, dup := seen[g.Fingerprint]; dup {
			t.Errorf("rules %s and %s share fingerprint %x", prev, g.Name, g.Fingerprint)
		}
		seen[g.Fingerprint] = g.Name
		w.Fingerprint = g.Fingerprint
		if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
			t.Errorf("rule %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	wantPolicies := []StoragePolicy{{10 * time.Second, 48 * time.Hour}, {time.Minute, 24 * time.Hour}, {time.Minute, 40 * 24 * time.Hour}}
	if p := s.Policies(); !slices.Equal(p, wantPolicies) {
		t.Errorf("Policies() = %v, want %v", p, wantPolicies)
	}
}

func TestGroupingString(t *testing.T) {
	for _, tc := range []struct {
		g    Grouping
		want string
	}{
		{Grouping{Labels: []string{"a", "b"}}, "by (a, b)"},
		{Grouping{}, "by ()"},
		{Grouping{Without: true, Labels: []string{"pod"}}, "without (pod)"},
	} {
		if got := tc.g.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.g, got, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	const base = `
rollup:
  - name: r
    match: 'm{a="1", b=~"x|y"}'
    output: o
    by: [a, b]
    aggregations: [sum, p99]
    policies: [10s:2d, 1m:40d]
    priority: 1
`
	fp := func(t *testing.T, y string) uint64 {
		t.Helper()
		s, err := Parse("fp.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return s.Rules()[0].Fingerprint
	}
	want := fp(t, base)
	for _, tc := range []struct {
		name, old, new string
		same           bool
	}{
		{"matchers reordered", `'m{a="1", b=~"x|y"}'`, `'{b=~"x|y", __name__="m", a="1"}'`, true},
		{"aggregations reordered", `[sum, p99]`, `[p99, sum]`, true},
		{"policies reordered", `[10s:2d, 1m:40d]`, `[1m:40d, 10s:2d]`, true},
		{"by reordered", `[a, b]`, `[b, a]`, true},
		{"policy respelled", `1m:40d`, `60s:960h`, true},
		{"comment added", "    priority: 1", "    priority: 1 # why", true},
		{"name", "name: r", "name: r2", false},
		{"matcher", `a="1"`, `a="2"`, false},
		{"output", "output: o", "output: o2", false},
		{"by to without", "by: [a, b]", "without: [a, b]", false},
		{"by label", "by: [a, b]", "by: [a]", false},
		{"aggregation", "[sum, p99]", "[sum, p999]", false},
		{"policy", "[10s:2d, 1m:40d]", "[10s:3d, 1m:40d]", false},
		{"priority", "priority: 1", "priority: 2", false},
		{"keep_original", "priority: 1", "priority: 1\n    keep_original: true", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := strings.Replace(base, tc.old, tc.new, 1)
			if changed == base {
				t.Fatalf("%q not in the base rule", tc.old)
			}
			if got := fp(t, changed); (got == want) != tc.same {
				t.Errorf("fingerprint %x, base %x: same=%v, want same=%v", got, want, got == want, tc.same)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	s := Default()
	rs := s.Rules()
	if len(rs) != 1 {
		t.Fatalf("Default has %d rules, want 1", len(rs))
	}
	r := rs[0]
	if r.Name != "span-red" || r.Kind != RollupRule || r.Output != "span_duration_seconds" ||
		r.Grouping.String() != "by (service_name, span_kind, span_name, status_code)" ||
		fmt.Sprint(r.Aggregations) != "[sum count p50 p90 p99 p999]" || fmt.Sprint(r.Policies) != "[10s:2d]" {
		t.Errorf("Default rule = %+v", r)
	}
	m := s.Match(lbls("__name__", "span_duration_seconds", "service_name", "checkout", "span_name", "GET /cart",
		"span_kind", "server", "status_code", "ok", "http_route", "/cart", "instance", "i-1"))
	if len(m.Outputs) != 1 || m.KeepOriginal {
		t.Fatalf("Match = %+v, want one output and the raw spans series not kept", m)
	}
	want := lbls("__name__", "span_duration_seconds", "service_name", "checkout", "span_name", "GET /cart",
		"span_kind", "server", "status_code", "ok")
	if !labels.Equal(m.Outputs[0].Labels, want) {
		t.Errorf("output labels %s, want %s", m.Outputs[0].Labels, want)
	}
	if m := s.Match(lbls("__name__", "http_requests_total")); len(m.Outputs) != 0 || !m.KeepOriginal {
		t.Errorf("Default matched another metric: %+v", m)
	}
}

func TestSpansAndLimits(t *testing.T) {
	s, err := Parse("spans.yaml", []byte(`
spans:
  dimensions: [http.route, rpc.method]
  services:
    checkout: {dimensions: [payment.method, http.route]}
    cart: {}
  forbidden: [user.id]
limits:
  default: {samples_per_second: 100000, burst: 10s}
  tenants:
    team-a: {samples_per_second: 5000, burst: 5s}
    team-b: {samples_per_second: 2.5e3}
`))
	if err != nil {
		t.Fatal(err)
	}
	for svc, want := range map[string][]string{
		"checkout": {"http.route", "rpc.method", "payment.method"},
		"cart":     {"http.route", "rpc.method"},
		"other":    {"http.route", "rpc.method"},
	} {
		got := s.SpanDimensions(svc)
		if !slices.Equal(got, want) {
			t.Errorf("SpanDimensions(%q) = %v, want %v", svc, got, want)
		}
		got[0] = "changed"
		if s.SpanDimensions(svc)[0] != want[0] {
			t.Errorf("SpanDimensions(%q) returned the Set's own slice", svc)
		}
	}
	l := s.Limits()
	for tenant, want := range map[string]Limit{
		"team-a": {SamplesPerSecond: 5000, Burst: 5 * time.Second},
		"team-b": {SamplesPerSecond: 2500, Burst: time.Second},
		"other":  {SamplesPerSecond: 100000, Burst: 10 * time.Second},
	} {
		if got := l.For(tenant); !reflect.DeepEqual(got, want) {
			t.Errorf("Limits().For(%q) = %+v, want %+v", tenant, got, want)
		}
	}
	delete(l.Tenants, "team-a")
	if s.Limits().For("team-a").SamplesPerSecond != 5000 {
		t.Error("Limits returned the Set's own map")
	}
	if empty, _ := Parse("e.yaml", nil); !empty.Limits().For("x").Unlimited() {
		t.Error("a set without limits limits tenants")
	}
}
