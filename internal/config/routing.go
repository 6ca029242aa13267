package config

import (
	"bytes"
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weirdev/weir/rules"
)

// M3's remote-write headers. With M3-Metrics-Type: aggregated an M3
// coordinator writes the samples as they are, without aggregating them
// again, into the aggregated namespace whose resolution and retention
// M3-Storage-Policy names ("1m:48h").
const (
	M3MetricsTypeHeader   = "M3-Metrics-Type"
	M3StoragePolicyHeader = "M3-Storage-Policy"
)

// M3Headers returns the headers of a request to an M3 coordinator carrying
// samples of storage policy p. The policy is written in the units M3's
// documentation lists for the header (h, m, s, ms): 10s:2d is "10s:48h".
func M3Headers(p rules.StoragePolicy) map[string]string {
	return map[string]string{
		M3MetricsTypeHeader:   "aggregated",
		M3StoragePolicyHeader: m3Duration(p.Resolution) + ":" + m3Duration(p.Retention),
	}
}

func m3Duration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b []byte
	for _, u := range [...]struct {
		name string
		d    time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, u.name...)
			d -= n * u.d
		}
	}
	if d > 0 {
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, "ns"...)
	}
	return string(b)
}

// Destination returns the index in RemoteWrite of the destination that takes
// the samples of storage policy p ("10s:2d", as rules.StoragePolicy.String
// writes it): the one that lists p, else the one without policies, else -1.
func (c *Config) Destination(p string) int {
	catchAll := -1
	for i, rw := range c.RemoteWrite {
		if len(rw.Policies) == 0 {
			catchAll = i
		}
		for _, q := range rw.Policies {
			if q == p {
				return i
			}
		}
	}
	return catchAll
}

// KafkaSinksOf returns the indexes in KafkaSinks of the sinks that take the
// samples of storage policy p (as rules.StoragePolicy.String writes it):
// those that list p and those without policies.
func (c *Config) KafkaSinksOf(p string) []int {
	var out []int
	for i, ks := range c.KafkaSinks {
		if len(ks.Policies) == 0 || slices.Contains(ks.Policies, p) {
			out = append(out, i)
		}
	}
	return out
}

// UnmatchedPolicies returns Unmatched.Policies parsed.
func (c *Config) UnmatchedPolicies() []rules.StoragePolicy {
	var out []rules.StoragePolicy
	for _, p := range c.Unmatched.Policies {
		if sp, err := rules.ParseStoragePolicy(p); err == nil { // validated by Parse
			out = append(out, sp)
		}
	}
	return out
}

// CheckRouting checks that the remote_write destinations can take what the
// rules s write, and reports as rules.Errors, at the position of the rule:
//
//   - a storage policy of a rule that no destination takes (no remote_write
//     lists it, none takes the rest, and no kafka_sinks entry takes it): its
//     samples would be discarded;
//   - two storage policies of one rule that reach the same storage (the same
//     URL) without M3's storage-policy headers. Prometheus, Mimir, Thanos
//     and VictoriaMetrics keep one series per label set, whatever its
//     resolution: the two resolutions would interleave samples of the same
//     series names. Each resolution needs its own storage, or an M3
//     coordinator that writes each policy to its own namespace.
//
// The policies of Unmatched are checked the same way. Two rules that pass the
// same input series through at two policies (a mapping rule and a
// keep_original rollup matching one series) are not detected.
func (c *Config) CheckRouting(s *rules.Set) error {
	var errs rules.Errors
	check := func(file string, line, col int, what string, policies []rules.StoragePolicy) {
		first := make(map[string]rules.StoragePolicy) // plain remote-write URL -> first policy sent there
		for _, p := range policies {
			i := c.Destination(p.String())
			if i < 0 && len(c.KafkaSinksOf(p.String())) > 0 {
				continue // Kafka sinks alone take it
			}
			if i < 0 {
				errs = append(errs, &rules.Error{File: file, Line: line, Col: col, Msg: fmt.Sprintf(
					"%s: storage policy %s goes to no remote_write destination: list it under one, or add one without policies", what, p)})
				continue
			}
			rw := c.RemoteWrite[i]
			if rw.M3StoragePolicyHeaders {
				continue
			}
			if prev, dup := first[rw.URL]; dup {
				errs = append(errs, &rules.Error{File: file, Line: line, Col: col, Msg: fmt.Sprintf(
					"%s: storage policies %s and %s both go to %s (remote_write[%d]) without M3 storage-policy headers, "+
						"which would get the same series at two resolutions: route them to different storage, "+
						"or set m3_storage_policy_headers if it is an M3 coordinator", what, prev, p, rw.URL, i)})
				continue
			}
			first[rw.URL] = p
		}
	}
	for _, r := range s.Rules() {
		check(r.File, r.Line, r.Col, fmt.Sprintf("%s rule %q", r.Kind, r.Name), r.Policies)
	}
	if !c.Unmatched.Drop {
		line, col := c.position("unmatched.policies")
		check(cmp.Or(c.file, "config"), line, col, "unmatched.policies", c.UnmatchedPolicies())
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// File returns the path the configuration was loaded from ("" after Parse).
func (c *Config) File() string { return c.file }

// RulePaths returns the rules files and directories of the configuration,
// resolved against its folder.
func (c *Config) RulePaths() []string {
	var out []string
	for _, p := range c.Rules {
		out = append(out, c.Path(p))
	}
	return out
}

// Sniff reports whether b looks like a weir configuration file rather than a
// rules file: a YAML mapping with at least one of the configuration's
// top-level keys (kafka, remote_write, ...), which no rules file has.
func Sniff(b []byte) bool {
	var top map[string]yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&top); err != nil {
		return false
	}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if _, ok := top[name]; ok && name != "" {
			return true
		}
	}
	return false
}
