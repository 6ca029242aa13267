package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestParseErrorPositions: every problem of a file is reported, each as
// FILE:LINE:COL: message at the node it is about, a misspelt key with the
// nearest valid one and the valid keys of its mapping.
func TestParseErrorPositions(t *testing.T) {
	const ok = "kafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\n"
	kafkaKeys := "valid keys: brokers, group, metrics_topic, spans_topic, metrics_encoding, traces_encoding, dead_letter_topic, partials_topic, decisions_topic, state_topic, partials_partitions, transactional_id, workers, session_timeout, tenant_header, tenant_attribute, tls, auth"
	for _, tc := range []struct {
		name, in string
		want     []string // each error line, exactly
	}{
		{"misspelt top-level key", "kafak:\n  brokers: [a]\nremote_write: [{url: 'http://x/'}]\n", []string{
			`weir.yaml:1:1: unknown field "kafak"; did you mean "kafka"? valid keys: listen, web_config_file, debug_listen, kafka, rules, aggregation, tail_sampling, remote_write, kafka_sinks, traces, query, unmatched, receivers, profiler, otlp`,
		}},
		{"misspelt key in kafka", "remote_write: [{url: 'http://x/'}]\nkafka:\n  brokers: [a]\n  broker: [b]\n", []string{
			`weir.yaml:4:3: unknown field "broker" in kafka; did you mean "brokers"? ` + kafkaKeys,
		}},
		{"misspelt key in a list item", ok + "kafka_sinks:\n  - topic: t\n  - topik: u\n", []string{
			`weir.yaml:5:5: unknown field "topik" in kafka_sinks[1]; did you mean "topic"? valid keys: brokers, topic, policies, tls, auth`,
		}},
		{"misspelt key three deep", ok + "receivers:\n  otlp:\n    protocols:\n      htpt: {}\n", []string{
			`weir.yaml:6:7: unknown field "htpt" in receivers.otlp.protocols; did you mean "http"? valid keys: grpc, http`,
		}},
		{"misspelt key in Prometheus' settings", ok[:len(ok)-3] + ", tls_config: {insecure_skip_verfy: true}}]\n", []string{
			`weir.yaml:2:48: unknown field "insecure_skip_verfy" in remote_write[0].tls_config; did you mean "insecure_skip_verify"? valid keys: ca, cert, key, ca_file, cert_file, key_file, ca_ref, cert_ref, key_ref, server_name, insecure_skip_verify, min_version, max_version`,
		}},
		{"unknown key, nothing near", ok + "query: {grafana_url: x}\n", []string{
			`weir.yaml:3:9: unknown field "grafana_url" in query; valid keys: prometheus_url, jaeger_url, jaeger_ui_url`,
		}},
		{"wrong types", ok + "listen: [a]\naggregation:\n  relative_accuracy: high\n  max_future: [1s]\ntraces: {insecure: maybe}\n", []string{
			`weir.yaml:3:1: listen: want a string, got a list`,
			`weir.yaml:5:22: aggregation.relative_accuracy: want a number, got "high"`,
			`weir.yaml:6:3: aggregation.max_future: want a duration such as 10s, got a list`,
			`weir.yaml:7:20: traces.insecure: want true or false, got "maybe"`,
		}},
		{"a mapping where a list goes", "kafka:\n  brokers: {a: b}\nremote_write: [{url: 'http://x/'}]\n", []string{
			`weir.yaml:2:3: kafka.brokers: want a list, got a mapping`,
		}},
		{"syntax error", "kafka:\n  brokers: [a]\n   group: weir\n", []string{
			`weir.yaml:3:4: YAML syntax: did not find expected key`,
		}},
		{"syntax error in a value", ok + "listen: a: b\n", []string{
			`weir.yaml:3:10: YAML syntax: mapping values are not allowed in this context`,
		}},
		{"duplicate key", "kafka:\n  brokers: [a]\n  workers: 2\n  workers: 3\nremote_write: [{url: 'http://x/'}]\n", []string{
			`weir.yaml:4:3: "workers" given twice in kafka (first at weir.yaml:3:3)`,
		}},
		{"a second document", ok + "---\nkafka: {brokers: [b]}\n", []string{
			`weir.yaml:3:1: a config file holds one YAML document; remove the others (and the --- before them)`,
		}},
		{"negative duration", ok + "aggregation:\n  idle_timeout: -5s\n", []string{
			`weir.yaml:4:17: aggregation.idle_timeout: negative duration "-5s"`,
		}},
		{"value errors at their settings", "kafka:\n  brokers: [a]\n  workers: 65\nremote_write:\n  - url: ftp://x\n    headers: {Content-Type: x}\n", []string{
			`weir.yaml:3:12: kafka.workers: 65 is not between 1 and 64`,
			`weir.yaml:5:10: remote_write[0].url: "ftp://x" is not an http(s) URL`,
			`weir.yaml:6:29: remote_write[0].headers.Content-Type: set by the remote-write protocol`,
		}},
		{"a missing setting, at no line", "remote_write: [{url: 'http://x/'}]\n", []string{
			`weir.yaml: kafka.brokers: at least one broker is required`,
		}},
		{"shape and value errors together, without the misspelt key's consequences", "kafka:\n  broker: [a]\n  workers: 65\nremote_write: [{url: 'http://x/'}]\n", []string{
			`weir.yaml:2:3: unknown field "broker" in kafka; did you mean "brokers"? ` + kafkaKeys,
			`weir.yaml:3:12: kafka.workers: 65 is not between 1 and 64`,
		}},
		{"an alias checked once", ok + "x: &d 5 parsecs\naggregation: {idle_timeout: *d, max_future: *d}\n", []string{
			`weir.yaml:3:1: unknown field "x"; valid keys: listen, web_config_file, debug_listen, kafka, rules, aggregation, tail_sampling, remote_write, kafka_sinks, traces, query, unmatched, receivers, profiler, otlp`,
			`weir.yaml:3:4: aggregation.idle_timeout: bad duration "5 parsecs": time: unknown unit " parsecs" in duration "5 parsecs"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "weir.yaml")
			if err := os.WriteFile(p, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.in)
			}
			got := strings.Split(strings.ReplaceAll(err.Error(), p, "weir.yaml"), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestShippedConfigsPass: the configurations the repository ships pass the
// check weir run and weir config check make: the example, the compose
// file's, and the one the Helm chart's values embed.
func TestShippedConfigsPass(t *testing.T) {
	for _, p := range []string{"../../configs/weir.yaml", "../../configs/compose/weir.yaml"} {
		if _, err := Load(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	values, err := os.ReadFile("../../deploy/helm/weir/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		Config yaml.Node `yaml:"config"`
	}
	if err := yaml.Unmarshal(values, &chart); err != nil {
		t.Fatal(err)
	}
	embedded, err := yaml.Marshal(&chart.Config)
	if err != nil || chart.Config.Kind != yaml.MappingNode {
		t.Fatalf("no config mapping in the chart's values (%v)", err)
	}
	if _, err := Parse(embedded); err != nil {
		t.Errorf("deploy/helm/weir/values.yaml config:\n%v", err)
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"brokers", "group", "workers", "url", "grpc", "http"}
	for in, want := range map[string]string{
		"broker": "brokers", "Brokers": "brokers", "borkers": "brokers", "grop": "group", "grcp": "grpc",
		"htpt": "http", "ulr": "url", "workerz": "workers", "topic": "", "x": "", "brokers_list": "",
	} {
		if got := closest(in, keys); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}
