package plan

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

const passThroughRules = `
rollup:
  - name: lat-max
    match: lat
    output: lat:all
    without: [pod]
    aggregations: [max]
    policies: [10s:1d]
    keep_original: true
mapping:
  - name: lat-long
    match: lat
    policies: [10s:1d, 1m:1d]
  - name: node
    match: node_load
    policies: [1m:1d]
`

func TestUnmatchedFor(t *testing.T) {
	s := mustRules(t, passThroughRules)
	empty := mustRules(t, "drop:\n  - {name: d, match: debug}\n")
	hour := []rules.StoragePolicy{{Resolution: time.Hour, Retention: 24 * time.Hour}}
	for _, tc := range []struct {
		u    Unmatched
		s    *rules.Set
		want string
	}{
		{Unmatched{}, s, "[10s:1d]"},
		{Unmatched{Policies: hour}, s, "[1h:1d]"},
		{Unmatched{Drop: true, Policies: hour}, s, "[]"},
		{Unmatched{}, empty, "[]"}, // no policy to pass through at: dropped
		{Unmatched{Policies: hour}, empty, "[1h:1d]"},
	} {
		if got := fmt.Sprint(tc.u.For(tc.s)); got != tc.want {
			t.Errorf("%+v.For(%d rules) = %s, want %s", tc.u, tc.s.Len(), got, tc.want)
		}
	}
}

func TestExplain(t *testing.T) {
	s := mustRules(t, "drop:\n  - {name: no-debug, match: debug}\n"+strings.TrimPrefix(passThroughRules, "\n"))
	describe := func(drop string, outs []Output) string {
		if drop != "" {
			return "drop " + drop
		}
		var b []string
		for _, o := range outs {
			var series []string
			for _, l := range o.Series {
				series = append(series, l.String())
			}
			b = append(b, fmt.Sprintf("%v raw=%v %v %s", o.Rules, o.PassThrough, o.Policies, strings.Join(series, " ")))
		}
		return strings.Join(b, "; ")
	}
	for _, tc := range []struct {
		in   sample.Point
		u    Unmatched
		want string
	}{
		{sample.Point{Labels: labels.FromStrings("__name__", "debug"), Kind: sample.Gauge}, Unmatched{}, "drop no-debug"},
		{sample.Point{Labels: labels.FromStrings("__name__", "lat", "pod", "a"), Kind: sample.Gauge}, Unmatched{},
			`[lat-max] raw=false [10s:1d] {__name__="lat:all_max"}; [lat-max lat-long] raw=true [10s:1d 1m:1d] {__name__="lat", pod="a"}`},
		{sample.Point{Labels: labels.FromStrings("__name__", "lat", "pod", "a"), Kind: sample.Gauge, Tenant: "team-a"}, Unmatched{},
			`[lat-max] raw=false [10s:1d] {__name__="lat:all_max", tenant="team-a"}; [lat-max lat-long] raw=true [10s:1d 1m:1d] {__name__="lat", pod="a", tenant="team-a"}`},
		{sample.Point{Labels: labels.FromStrings("__name__", "node_load"), Kind: sample.Delta}, Unmatched{},
			`[node] raw=true [1m:1d] {__name__="node_load"}`},
		{sample.Point{Labels: labels.FromStrings("__name__", "rpc"), Kind: sample.Observation}, Unmatched{},
			`[] raw=true [10s:1d] {__name__="rpc_sum"} {__name__="rpc_count"} {__name__="rpc", quantile="0.5"} {__name__="rpc", quantile="0.9"} {__name__="rpc", quantile="0.99"} {__name__="rpc", quantile="0.999"}`},
		{sample.Point{Labels: labels.FromStrings("__name__", "rpc"), Kind: sample.Histogram}, Unmatched{Drop: true}, ""},
	} {
		if got := describe(Explain(s, tc.u, &tc.in)); got != tc.want {
			t.Errorf("Explain(%s %s, %+v):\n got %s\nwant %s", tc.in.Labels, tc.in.Kind, tc.u, got, tc.want)
		}
	}
}

// The input series passing through is one output per policy whichever rules
// ask for it, and is keyed apart from every rule output.
func TestRawFingerprint(t *testing.T) {
	p10 := rules.StoragePolicy{Resolution: 10 * time.Second, Retention: 48 * time.Hour}
	p10long := rules.StoragePolicy{Resolution: 10 * time.Second, Retention: 960 * time.Hour}
	seen := map[uint64]string{}
	for _, k := range []sample.Kind{sample.Gauge, sample.Delta, sample.Histogram} {
		for _, p := range []rules.StoragePolicy{p10, p10long} {
			fp := rawFingerprint(k, p)
			what := fmt.Sprint(k, " ", p)
			if prev, dup := seen[fp]; dup {
				t.Errorf("%s and %s share a fingerprint", prev, what)
			}
			seen[fp] = what
			if again := rawFingerprint(k, p); again != fp {
				t.Errorf("%s: fingerprint not stable", what)
			}
		}
	}
}

func mustRules(t testing.TB, src string) *rules.Set {
	t.Helper()
	s, err := rules.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
