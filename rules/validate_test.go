package rules

import (
	"errors"
	"strings"
	"testing"
)

// lines joins YAML lines, so that a test's line numbers can be read off the
// source: the first argument is line 1.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// A valid rollup body, to which cases add one mistake.
const knownRollup = "name, match, output, by, without, aggregations, buckets, policies, keep_original, keep_metric_names, priority, max_series"

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // every error, in order, exactly
	}{
		{
			name: "unknown top-level field",
			yaml: lines(
				"drop: []",
				"rolup: []",
			),
			want: []string{`t.yaml:2:1: unknown field "rolup" in rules file (known fields: drop, rollup, mapping, spans, limits)`},
		},
		{
			name: "unknown rule field",
			yaml: lines(
				"rollup:",
				"  - name: r",
				"    match: m",
				"    output: o",
				"    aggregations: [sum]",
				"    policies: [1m:1d]",
				"    prio: 3",
			),
			want: []string{`t.yaml:7:5: unknown field "prio" in rollup rule "r" (known fields: ` + knownRollup + `)`},
		},
		{
			name: "field a drop rule does not have",
			yaml: lines(
				"drop:",
				"  - name: d",
				"    match: m",
				"    policies: [1m:1d]",
			),
			want: []string{`t.yaml:4:5: unknown field "policies" in drop rule "d" (known fields: name, match, only_over_quota)`},
		},
		{
			name: "unknown field in spans and limits",
			yaml: lines(
				"spans:",
				"  dimension: [a]",
				"limits:",
				"  default: {samples_per_second: 10, burts: 1s}",
			),
			want: []string{
				`t.yaml:2:3: unknown field "dimension" in spans (known fields: dimensions, services, forbidden)`,
				`t.yaml:4:37: unknown field "burts" in limits: default (known fields: samples_per_second, burst, max_series, pools)`,
			},
		},
		{
			name: "bad quota pools",
			yaml: lines(
				"drop:",
				"  - name: d",
				"    match: m",
				"    only_over_quota: maybe",
				"limits:",
				"  default:",
				"    samples_per_second: 100",
				"    pools:",
				`      - {name: a, match: '{team="a"}', share: 0.6, priority: 10}`,
				`      - {name: a, match: '{team="b"}', share: 0.5}`,
				`      - {name: c, match: '{team=~".*"}', share: 0}`,
				`      - {name: d, share: 0.1, priority: high}`,
				"  tenants:",
				"    t:",
				"      max_series: 10",
				`      pools: [{name: x, match: '{team="x"}', share: 0.5}]`,
			),
			want: []string{
				`t.yaml:4:22: drop rule "d": only_over_quota: want true or false, got "maybe"`,
				`t.yaml:10:16: limits: default: pool "a" named twice (first at t.yaml:9:16)`,
				`t.yaml:10:47: limits: default: pool "a": share 0.5 brings the pools' shares to 1.1: they may add up to 1 at most`,
				`t.yaml:11:26: limits: default: pool "c": bad matcher "{team=~\".*\"}": it matches every series: add a matcher that does not match the empty string, such as a metric name`,
				`t.yaml:11:49: limits: default: pool "c": share 0: want a fraction of the limit in (0, 1]`,
				`t.yaml:12:9: limits: default: pool "d": missing required field "match"`,
				`t.yaml:12:41: limits: default: pool "d": priority: want an integer, got "high"`,
				`t.yaml:16:7: limits: tenant "t": pools without samples_per_second: a pool is a share of it`,
			},
		},
		{
			name: "bad matchers",
			yaml: lines(
				"drop:",
				`  - name: unclosed`,
				`    match: '{__name__=~"debug_.*"'`,
				`  - name: bad-regex`,
				`    match: 'm{a=~"("}'`,
				`  - name: matches-everything`,
				`    match: '{a=~".*"}'`,
			),
			want: []string{
				`t.yaml:3:12: drop rule "unclosed": bad matcher "{__name__=~\"debug_.*\"": 1:22: parse error: unexpected end of input inside braces`,
				`t.yaml:5:12: drop rule "bad-regex": bad matcher "m{a=~\"(\"}": 1:3: parse error: error parsing regexp: missing closing ): ` + "`(`",
				`t.yaml:7:12: drop rule "matches-everything": bad matcher "{a=~\".*\"}": it matches every series: add a matcher that does not match the empty string, such as a metric name`,
			},
		},
		{
			name: "bad durations and storage policies",
			yaml: lines(
				"mapping:",
				"  - name: m",
				"    match: m",
				"    policies: [1m:1x, 10s, 0s:1d, 1h:30m, 1m:40d, 1m:2d]",
			),
			want: []string{
				`t.yaml:4:16: mapping rule "m": policies: bad retention "1x" in storage policy "1m:1x": unknown unit "x" in duration "1x"`,
				`t.yaml:4:23: mapping rule "m": policies: bad storage policy "10s": want resolution:retention, such as 10s:2d`,
				`t.yaml:4:28: mapping rule "m": policies: bad storage policy "0s:1d": resolution must be positive`,
				`t.yaml:4:35: mapping rule "m": policies: bad storage policy "1h:30m": retention 30m is shorter than resolution 1h`,
				`t.yaml:4:51: mapping rule "m": policies: resolution 1m listed twice (first at t.yaml:4:43)`,
			},
		},
		{
			name: "unknown and malformed aggregations",
			yaml: lines(
				"rollup:",
				"  - name: r",
				"    match: m",
				"    output: o",
				"    aggregations: [median, p5, p990, p00, p9x, sum, sum]",
				"    policies: [1m:1d]",
			),
			want: []string{
				`t.yaml:5:20: rollup rule "r": aggregations: unknown aggregation "median": want sum, count, min, max, last, mean, rate, increase, buckets, stddev, total, histogram or a percentile pNN (p50, p99, p999)`,
				`t.yaml:5:28: rollup rule "r": aggregations: bad percentile "p5": write at least two digits (p50 for the median, p05 for the 5th percentile)`,
				`t.yaml:5:32: rollup rule "r": aggregations: bad percentile "p990": drop the trailing zero (write p99)`,
				`t.yaml:5:38: rollup rule "r": aggregations: bad percentile "p00": the 0th percentile is the minimum, use min`,
				`t.yaml:5:43: rollup rule "r": aggregations: unknown aggregation "p9x": want sum, count, min, max, last, mean, rate, increase, buckets, stddev, total, histogram or a percentile pNN (p50, p99, p999)`,
				`t.yaml:5:53: rollup rule "r": aggregations: sum listed twice (first at t.yaml:5:48)`,
			},
		},
		{
			name: "by and without together",
			yaml: lines(
				"rollup:",
				"  - name: r",
				"    match: m",
				"    output: o",
				"    without: [pod]",
				"    by: [service]",
				"    aggregations: [sum]",
				"    policies: [1m:1d]",
			),
			want: []string{`t.yaml:6:5: rollup rule "r": use either by or without, not both`},
		},
		{
			name: "bad grouping labels",
			yaml: lines(
				"rollup:",
				"  - name: r",
				"    match: m",
				"    output: o",
				"    by: [a, __name__, a, '']",
				"    aggregations: [sum]",
				"    policies: [1m:1d]",
				"  - name: s",
				"    match: m",
				"    output: p",
				"    without: pod",
				"    aggregations: [sum]",
				"    policies: [1m:1d]",
			),
			want: []string{
				`t.yaml:5:13: rollup rule "r": by: __name__ is set to the output name; leave it out`,
				`t.yaml:5:23: "a" listed twice in rollup rule "r": by (first at t.yaml:5:10)`,
				`t.yaml:5:26: rollup rule "r": by entry is empty`,
				`t.yaml:11:14: rollup rule "s": without: want a list, got "pod"`,
			},
		},
		{
			name: "duplicate rule names across kinds",
			yaml: lines(
				"drop:",
				"  - name: same",
				"    match: a",
				"mapping:",
				"  - name: same",
				"    match: b",
				"    policies: [1m:1d]",
			),
			want: []string{`t.yaml:5:11: duplicate rule name "same" (first defined at t.yaml:2:11)`},
		},
		{
			name: "output collisions",
			yaml: lines(
				"rollup:",
				"  - name: a",
				"    match: m",
				"    output: lat",
				"    aggregations: [sum, buckets]",
				"    policies: [1m:1d]",
				"  - name: same-output",
				"    match: n",
				"    output: lat",
				"    aggregations: [max]",
				"    policies: [1m:1d]",
				"  - name: sum-is-name",
				"    match: n",
				"    output: lat_sum",
				"    aggregations: [p99]",
				"    policies: [1m:1d]",
				"  - name: bucket-count",
				"    match: n",
				"    output: lat_count",
				"    aggregations: [p99]",
				"    policies: [1m:1d]",
				"  - name: no-collision",
				"    match: n",
				"    output: lat_total",
				"    aggregations: [sum, count]",
				"    policies: [1m:1d]",
			),
			want: []string{
				`t.yaml:9:13: rollup rule "same-output" writes series "lat", which rollup rule "a" (output at t.yaml:4:13) writes too`,
				`t.yaml:14:13: rollup rule "sum-is-name" writes series "lat_sum", which rollup rule "a" (output at t.yaml:4:13) writes too`,
				`t.yaml:19:13: rollup rule "bucket-count" writes series "lat_count", which rollup rule "a" (output at t.yaml:4:13) writes too`,
			},
		},
		{
			name: "missing required fields",
			yaml: lines(
				"drop:",
				"  - name: d",
				"rollup:",
				"  - name: r",
				"    match: m",
				"mapping:",
				"  - match: m",
				"    policies: [1m:1d]",
				"  - name: no-policies",
				"    match: m",
			),
			want: []string{
				`t.yaml:2:5: drop rule "d": missing required field "match"`,
				`t.yaml:4:5: rollup rule "r": missing required field "output"`,
				`t.yaml:4:5: rollup rule "r": missing required field "aggregations"`,
				`t.yaml:4:5: rollup rule "r": missing required field "policies"`,
				`t.yaml:7:5: mapping rule #1: missing required field "name"`,
				`t.yaml:9:5: mapping rule "no-policies": missing required field "policies"`,
			},
		},
		{
			name: "empty values",
			yaml: lines(
				"rollup:",
				"  - name: r",
				"    match: ''",
				"    output:",
				"    aggregations: []",
				"    policies: []",
				"drop:",
				"  -",
			),
			want: []string{
				`t.yaml:3:12: rollup rule "r": match is empty`,
				`t.yaml:4:12: rollup rule "r": output is empty`,
				`t.yaml:5:19: rollup rule "r": aggregations: list at least one aggregation`,
				`t.yaml:6:15: rollup rule "r": policies: list at least one storage policy`,
				`t.yaml:8:4: drop rule #1 is empty`,
			},
		},
		{
			name: "wrong scalar types",
			yaml: lines(
				"rollup:",
				"  - name: r",
				"    match: m",
				"    output: 'not a name'",
				"    aggregations: [sum]",
				"    policies: [1m:1d]",
				"    keep_original: yes",
				"    priority: high",
				"  - name: [x]",
				"    match: m",
				"    output: o",
				"    aggregations: [sum]",
				"    policies: [1m:1d]",
			),
			want: []string{
				`t.yaml:4:13: rollup rule "r": output "not a name" is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`,
				`t.yaml:7:20: rollup rule "r": keep_original: want true or false, got "yes"`,
				`t.yaml:8:15: rollup rule "r": priority: want an integer, got "high"`,
				`t.yaml:9:11: rollup rule #2: name: want a string, got a list`,
			},
		},
		{
			name: "section of the wrong shape",
			yaml: lines(
				"drop: {name: d}",
				"rollup: x",
			),
			want: []string{
				`t.yaml:1:7: drop rules: want a list, got a mapping`,
				`t.yaml:2:9: rollup rules: want a list, got "x"`,
			},
		},
		{
			name: "field given twice",
			yaml: lines(
				"drop:",
				"  - name: d",
				"    match: a",
				"    match: b",
			),
			want: []string{`t.yaml:4:5: field "match" given twice in drop rule "d" (first at t.yaml:3:5)`},
		},
		{
			name: "forbidden span dimensions",
			yaml: lines(
				"spans:",
				"  dimensions: [http.route, user.id]",
				"  services:",
				"    checkout: {dimensions: [payment.method, http.url]}",
				"  forbidden: [http.url, user.id]",
			),
			want: []string{
				`t.yaml:2:28: spans: dimension "user.id" is forbidden (listed in forbidden at t.yaml:5:25)`,
				`t.yaml:4:45: spans: service "checkout": dimension "http.url" is forbidden (listed in forbidden at t.yaml:5:15)`,
			},
		},
		{
			name: "bad limits",
			yaml: lines(
				"limits:",
				"  default: {samples_per_second: -1}",
				"  tenants:",
				"    a: {samples_per_second: 10, burst: 5x}",
				"    b: {samples_per_second: lots}",
				"    c: {burst: 1s}",
				"    d: {samples_per_second: 10, burst: 0s}",
			),
			want: []string{
				`t.yaml:2:33: limits: default: samples_per_second must be positive (leave the limit out for no limit)`,
				`t.yaml:4:40: limits: tenant "a": bad burst: unknown unit "x" in duration "5x"`,
				`t.yaml:5:29: limits: tenant "b": samples_per_second: want a number, got "lots"`,
				`t.yaml:6:8: limits: tenant "c": missing required field "samples_per_second" (or max_series)`,
				`t.yaml:7:40: limits: tenant "d": burst must be positive`,
			},
		},
		{
			name: "YAML syntax error",
			yaml: lines(
				"drop:",
				"  - name: d",
				"    match: m: x",
			),
			want: []string{`t.yaml:3:13: YAML syntax: mapping values are not allowed in this context`},
		},
		{
			name: "two documents",
			yaml: lines(
				"drop: []",
				"---",
				"rollup: []",
			),
			want: []string{`t.yaml:2:1: a rules file holds one YAML document; split the others into their own files`},
		},
		{
			name: "not a mapping",
			yaml: lines("- drop"),
			want: []string{`t.yaml:1:1: rules file: want a mapping of fields, got a list`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded with %d rules, want errors:\n%s", s.Len(), strings.Join(tc.want, "\n"))
			}
			if s != nil {
				t.Errorf("Parse returned a Set beside its error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			got := make([]string, len(errs))
			for i, e := range errs {
				got[i] = e.Error()
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if err.Error() != strings.Join(tc.want, "\n") {
				t.Errorf("Errors.Error() does not join the errors with newlines:\n%s", err)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, data := range []string{"", "\n", "# only a comment\n", "---\n", "drop:\nrollup: []\n"} {
		s, err := Parse("empty.yaml", []byte(data))
		if err != nil {
			t.Fatalf("Parse(%q): %v", data, err)
		}
		if s.Len() != 0 || len(s.Policies()) != 0 {
			t.Errorf("Parse(%q) = %d rules, %d policies; want none", data, s.Len(), len(s.Policies()))
		}
		if m := s.Match(lbls("__name__", "x")); m.Drop != "" || len(m.Outputs) != 0 || !m.KeepOriginal {
			t.Errorf("empty set: Match = %+v, want the series kept as is", m)
		}
	}
}
