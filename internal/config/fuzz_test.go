package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/weirdev/weir/rules"
)

// FuzzParse: a config file is refused with an error that says so, or
// accepted with every setting in its documented range and already in the
// form validation writes it: writing the accepted config out and parsing it
// again gives it back unchanged.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../../configs/weir.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range []string{
		"kafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\n",
		"kafka: {brokers: [a], workers: 3, partials_partitions: 4, session_timeout: 1m30s}\nremote_write: [{url: 'http://x/', policies: [10s:48h], timeout: 2s, m3_storage_policy_headers: true, headers: {a: b}}]\n",
		"kafka: {brokers: [a]}\nkafka_sinks: [{topic: t, policies: [1m:960h]}]\nunmatched: {policies: [30s:168h]}\n",
		"kafka: {brokers: [a]}\nremote_write: [{url: 'https://x:1/'}]\ntail_sampling: {baseline_rate: 0.5, max_kept_traces: 1, decision_wait: 1h}\naggregation: {relative_accuracy: 0.02, max_future: 1s}\n",
		"kafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\ntraces: {endpoint: 'h:1', ca_file: c, cert_file: d, key_file: e}\n",
		"---\nkafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\n...\n",
		"kafka:\n  brokers: [a]\n  brokerz: [b]\n",
		"listen: [oops]\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkParse)
}

// FuzzParseSetting sets one setting of a minimal valid config (every leaf
// field of Config in turn, the first element of a list) to a fuzzed YAML
// value, with FuzzParse's checks: raw bytes rarely mutate into a valid
// file with one value changed, this explores every setting's values.
func FuzzParseSetting(f *testing.F) {
	paths := settingPaths(reflect.TypeFor[Config](), "")
	// One value a setting, each value on a tenth of the settings: all of
	// them on all settings made a baseline that outlasted a short run.
	values := []string{"1", "1s", "0.5", "-1", "-1s", ".nan", "a", "true", "[a]", "{a: b}"}
	for i := range paths {
		f.Add(uint8(i), values[i%len(values)])
	}
	f.Fuzz(func(t *testing.T, field uint8, value string) {
		var v yaml.Node
		if yaml.Unmarshal([]byte(value), &v) != nil || len(v.Content) != 1 {
			return
		}
		path := paths[int(field)%len(paths)]
		doc := map[string]any{"kafka": map[string]any{"brokers": []any{"a"}}, "remote_write": []any{map[string]any{"url": "http://x/"}}}
		var at any = doc
		parts := strings.Split(path, ".")
		for i, p := range parts {
			last := i == len(parts)-1
			switch m := at.(type) {
			case map[string]any:
				if last {
					m[p] = v.Content[0]
				} else if _, ok := m[p]; !ok {
					if parts[i+1] == "0" {
						m[p] = []any{map[string]any{}}
					} else {
						m[p] = map[string]any{}
					}
				}
				at = m[p]
			case []any:
				at = m[0]
			}
		}
		b, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		checkParse(t, b)
	})
}

// settingPaths lists the leaf fields of a config type by their YAML names,
// dotted, with 0 for the first element of a list of structs.
func settingPaths(typ reflect.Type, prefix string) []string {
	var out []string
	for i := range typ.NumField() {
		fl := typ.Field(i)
		name, _, _ := strings.Cut(fl.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		switch ft := fl.Type; {
		case ft.Kind() == reflect.Struct:
			out = append(out, settingPaths(ft, prefix+name+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, settingPaths(ft.Elem(), prefix+name+".0.")...)
		default:
			out = append(out, prefix+name)
		}
	}
	return out
}

// checkParse fails t unless Parse refuses b with an error that says so, or
// accepts it with every setting in range and in its normal form.
func checkParse(t *testing.T, b []byte) {
	t.Helper()
	c, err := Parse(b)
	if err != nil {
		checkErrors(t, b, c, err)
		return
	}
	checkRanges(t, c, b)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var first, second yaml.Node
	if dec.Decode(&first) == nil && dec.Decode(&second) == nil {
		t.Fatalf("accepted with a second YAML document, which is ignored:\n%s", b)
	}
	if !Sniff(b) {
		t.Fatalf("accepted, but Sniff does not take it for a config:\n%s", b)
	}
	out := writeOut(t, c)
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("the accepted config, written out, is refused: %v\n%s", err, out)
	}
	// Compared as written out: nil and empty lists read back alike.
	if out2 := writeOut(t, again); string(out2) != string(out) {
		t.Fatalf("the accepted config, written out and parsed again, differs:\n%s\nwant\n%s", out2, out)
	}
}

// writeOut marshals c without its unset settings: yaml writes a nil
// pointer as null, which a config file reads as a receiver turned on with
// its defaults (as the collector reads `grpc:`).
func writeOut(t *testing.T, c *Config) []byte {
	t.Helper()
	var n yaml.Node
	if err := n.Encode(c); err != nil {
		t.Fatalf("marshal the accepted config: %v", err)
	}
	dropNulls(&n)
	out, err := yaml.Marshal(&n)
	if err != nil {
		t.Fatalf("marshal the accepted config: %v", err)
	}
	return out
}

func dropNulls(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind != yaml.ScalarNode || v.Tag != "!!null" {
				kept = append(kept, n.Content[i], v)
			}
		}
		n.Content = kept
	}
	for _, c := range n.Content {
		dropNulls(c)
	}
}

// checkRanges fails t unless every numeric setting of an accepted config is
// in the range its documentation gives: no duration or count below zero, no
// NaN, and the ranges of the settings that have one.
func checkRanges(t *testing.T, c *Config, b []byte) {
	t.Helper()
	eachNumber(reflect.ValueOf(c).Elem(), "", func(path string, v reflect.Value) {
		switch {
		case v.CanInt() && v.Int() < 0:
			t.Errorf("%s: %d accepted in\n%s", path, v.Int(), b)
		case v.CanFloat() && math.IsNaN(v.Float()):
			t.Errorf("%s: NaN accepted in\n%s", path, b)
		}
	})
	a, ts := c.Aggregation, c.TailSampling
	switch {
	case c.Kafka.Workers < 1 || c.Kafka.Workers > MaxWorkers:
		t.Errorf("kafka.workers: %d accepted", c.Kafka.Workers)
	case a.RelativeAccuracy != 0 && !(a.RelativeAccuracy > 0 && a.RelativeAccuracy < 1):
		t.Errorf("aggregation.relative_accuracy: %v accepted", a.RelativeAccuracy)
	case a.ExemplarTolerance != nil && !(*a.ExemplarTolerance >= 0 && *a.ExemplarTolerance < 1):
		t.Errorf("aggregation.exemplar_tolerance: %v accepted", *a.ExemplarTolerance)
	case ts.BaselineRate != nil && !(*ts.BaselineRate >= 0 && *ts.BaselineRate <= 1):
		t.Errorf("tail_sampling.baseline_rate: %v accepted", *ts.BaselineRate)
	}
}

// eachNumber calls fn with every signed integer (durations included) and
// float setting under v, following pointers, lists and the structs of this
// package (not those of the libraries it embeds).
func eachNumber(v reflect.Value, path string, fn func(string, reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			eachNumber(v.Elem(), path, fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			eachNumber(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Struct:
		if v.Type().PkgPath() != reflect.TypeFor[Config]().PkgPath() {
			return
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				eachNumber(v.Field(i), strings.TrimPrefix(path+"."+f.Name, "."), fn)
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		fn(path, v)
	}
}

var yamlBreaks = regexp.MustCompile("\r\n|[\r\n\u0085\u2028\u2029]")

// checkErrors fails t unless a refusal is rules.Errors, in order, each
// named "config" and placed inside b (or nowhere, for a setting b lacks).
func checkErrors(t *testing.T, b []byte, c *Config, err error) {
	t.Helper()
	var errs rules.Errors
	if c != nil || !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("refused with config %v and error %q", c, err)
	}
	// Lines as YAML counts them; yaml reads UTF-16 (with a byte order
	// mark) too, whose lines are not those of the bytes.
	lines := yamlBreaks.Split(string(b), -1)
	if !utf8.Valid(b) {
		lines = nil
	}
	for i, e := range errs {
		switch {
		case e.File != "config" || e.Msg == "":
			t.Fatalf("error %q of %q", e, b)
		case e.Line < 0 || (lines != nil && e.Line > len(lines)) || (e.Line > 0 && e.Col < 1):
			t.Fatalf("error %q outside the %d lines of %q", e, len(lines), b)
		case i > 0 && (errs[i-1].Line > e.Line || (errs[i-1].Line == e.Line && errs[i-1].Col > e.Col)):
			t.Fatalf("errors out of order: %q", err)
		}
	}
}
