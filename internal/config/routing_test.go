package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirdev/weir/rules"
)

func TestM3Headers(t *testing.T) {
	for _, tc := range []struct {
		p    rules.StoragePolicy
		want string
	}{
		{rules.StoragePolicy{Resolution: 10 * time.Second, Retention: 48 * time.Hour}, "10s:48h"},
		{rules.StoragePolicy{Resolution: time.Minute, Retention: 40 * 24 * time.Hour}, "1m:960h"},
		{rules.StoragePolicy{Resolution: 90 * time.Second, Retention: 7*24*time.Hour + 30*time.Minute}, "1m30s:168h30m"},
		{rules.StoragePolicy{Resolution: 500 * time.Millisecond, Retention: 6 * time.Hour}, "500ms:6h"},
	} {
		h := M3Headers(tc.p)
		if h["M3-Metrics-Type"] != "aggregated" || h["M3-Storage-Policy"] != tc.want || len(h) != 2 {
			t.Errorf("M3Headers(%s) = %v, want M3-Metrics-Type aggregated and M3-Storage-Policy %s", tc.p, h, tc.want)
		}
	}
}

func TestRemoteWriteValidation(t *testing.T) {
	const head = "kafka: {brokers: [a]}\n"
	good := head + `
remote_write:
  - url: http://prom:9090/api/v1/write
  - url: http://m3:7201/api/v1/prom/remote/write
    policies: [1m:960h, 10s:2d]
    m3_storage_policy_headers: true
unmatched:
  policies: [30s:168h]
`
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.RemoteWrite[1].Policies, ","); got != "1m:40d,10s:2d" {
		t.Errorf("policies not normalized: %s", got)
	}
	if got := strings.Join(c.Unmatched.Policies, ","); got != "30s:7d" {
		t.Errorf("unmatched policies not normalized: %s", got)
	}
	for p, want := range map[string]int{"10s:2d": 1, "1m:40d": 1, "30s:7d": 0} {
		if got := c.Destination(p); got != want {
			t.Errorf("Destination(%s) = %d, want %d", p, got, want)
		}
	}

	for _, tc := range []struct{ name, in, want string }{
		{"bad policy", "remote_write: [{url: 'http://x/', policies: [10s]}]", `remote_write[0].policies[0]: bad storage policy "10s"`},
		{"policy routed twice", "remote_write: [{url: 'http://x/', policies: [10s:2d]}, {url: 'http://y/', policies: [10s:48h]}]",
			"remote_write[1].policies[0]: 10s:48h is already routed to remote_write[0]"},
		{"m3 without policies", "remote_write: [{url: 'http://x/', m3_storage_policy_headers: true}]",
			"remote_write[0]: m3_storage_policy_headers needs the policies"},
		{"m3 header set by hand", "remote_write: [{url: 'http://x/', policies: [1m:1d], m3_storage_policy_headers: true, headers: {m3-storage-policy: 1m:24h}}]",
			"remote_write[0].headers: m3-storage-policy is set by m3_storage_policy_headers"},
		{"unmatched drop and policies", "remote_write: [{url: 'http://x/'}]\nunmatched: {drop: true, policies: [1m:1d]}", "unmatched: drop together with policies"},
		{"bad unmatched policy", "remote_write: [{url: 'http://x/'}]\nunmatched: {policies: [1m:1s]}", "unmatched.policies[0]: bad storage policy"},
	} {
		_, err := Parse([]byte(head + tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckRouting(t *testing.T) {
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(`rollup:
  - name: lat
    match: lat
    output: 'lat:svc'
    aggregations: [p99]
    policies: [10s:2d, 1m:40d]
mapping:
  - name: node
    match: node_load
    policies: [5m:1y]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := rules.Load(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	const head = "kafka: {brokers: [a]}\n"
	for _, tc := range []struct {
		name, cfg string
		want      []string
	}{
		{"each policy its own storage", `
remote_write:
  - {url: 'http://prom-short/', policies: [10s:2d]}
  - {url: 'http://prom-long/', policies: [1m:40d]}
  - {url: 'http://prom-rest/'}
`, nil},
		{"an M3 coordinator takes both", `
remote_write:
  - {url: 'http://m3/', policies: [10s:2d, 1m:40d, 5m:1y], m3_storage_policy_headers: true}
`, nil},
		{"one plain destination for both", `
remote_write:
  - {url: 'http://prom/'}
`, []string{rulesPath + `:2:5: rollup rule "lat": storage policies 10s:2d and 1m:40d both go to http://prom/ (remote_write[0]) without M3 storage-policy headers, which would get the same series at two resolutions: route them to different storage, or set m3_storage_policy_headers if it is an M3 coordinator`}},
		{"two entries, one storage", `
remote_write:
  - {url: 'http://prom/', policies: [10s:2d]}
  - {url: 'http://prom/'}
`, []string{rulesPath + `:2:5: rollup rule "lat": storage policies 10s:2d and 1m:40d both go to http://prom/ (remote_write[1]) without M3 storage-policy headers, which would get the same series at two resolutions: route them to different storage, or set m3_storage_policy_headers if it is an M3 coordinator`}},
		{"unrouted policies", `
remote_write:
  - {url: 'http://prom/', policies: [10s:2d]}
unmatched: {policies: [1h:30d]}
`, []string{
			rulesPath + `:2:5: rollup rule "lat": storage policy 1m:40d goes to no remote_write destination: list it under one, or add one without policies`,
			rulesPath + `:8:5: mapping rule "node": storage policy 5m:365d goes to no remote_write destination: list it under one, or add one without policies`,
			`config:5:13: unmatched.policies: storage policy 1h:30d goes to no remote_write destination: list it under one, or add one without policies`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(head + tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckRouting(s)
			var got []string
			var errs rules.Errors
			if err != nil && !errors.As(err, &errs) {
				t.Fatalf("error %T %v, want rules.Errors", err, err)
			}
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("CheckRouting:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]bool{
		"kafka: {brokers: [a]}\n":               true,
		"# weir\nremote_write: []\nrules: []\n": true,
		"rollup: []\ndrop: []\n":                false,
		"":                                      false,
		"drop:\n  - name: x\n    match: 'a{'":   false,
		"not: [yaml":                            false,
		"- a list\n":                            false,
	} {
		if got := Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%q) = %v, want %v", in, got, want)
		}
	}
}
