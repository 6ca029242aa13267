package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	good := `
kafka:
  brokers: [127.0.0.1:9092]
remote_write:
  - url: http://127.0.0.1:9090/api/v1/write
aggregation:
  allowed_lateness: 3s
`
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Group != "weir" || c.Kafka.SpansTopic != "otlp_spans" || c.Kafka.Workers != 1 || time.Duration(c.Aggregation.AllowedLateness) != 3*time.Second {
		t.Errorf("defaults/durations not applied: %+v", c)
	}
	bad := []struct {
		name, in, want string
	}{
		{"unknown field", "kafka:\n  brokers: [a]\n  brokerz: [b]\n", `config:3:3: unknown field "brokerz" in kafka; did you mean "brokers"?`},
		{"bad duration", "aggregation:\n  idle_timeout: 5 parsecs\n", `config:2:17: aggregation.idle_timeout: bad duration "5 parsecs"`},
		{"no brokers", "remote_write: [{url: 'http://x/'}]\n", "kafka.brokers: at least one broker is required"},
		{"bad url", "kafka: {brokers: [a]}\nremote_write: [{url: 'ftp://x'}]\n", `remote_write[0].url: "ftp://x" is not an http(s) URL`},
		{"bad encoding", "kafka: {brokers: [a], traces_encoding: avro}\nremote_write: [{url: 'http://x/'}]\n", `kafka.traces_encoding: "avro"`},
		{"negative workers", "kafka: {brokers: [a], workers: -1}\nremote_write: [{url: 'http://x/'}]\n", "config:1:32: kafka.workers: -1 is not between 1 and 64"},
		{"too many workers", "kafka: {brokers: [a], workers: 65}\nremote_write: [{url: 'http://x/'}]\n", "kafka.workers: 65 is not between 1 and 64"},
		{"bad rate", "kafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\ntail_sampling: {baseline_rate: 2}\n", "baseline_rate: 2 is not in [0, 1]"},
		{"bad tolerance", "kafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\naggregation: {exemplar_tolerance: -0.1}\n", "aggregation.exemplar_tolerance: -0.1 is not in [0, 1)"},
		{"NaN rate", "kafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\ntail_sampling: {baseline_rate: .nan}\n", "baseline_rate: NaN is not in [0, 1]"},
		{"two documents", "kafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\n---\nkafka: {brokers: [b]}\n", "config:3:1: a config file holds one YAML document"},
		{"negative duration", "aggregation:\n  allowed_lateness: -5s\n", `config:2:21: aggregation.allowed_lateness: negative duration "-5s"`},
		{"negative partitions", "kafka: {brokers: [a], partials_partitions: -1}\nremote_write: [{url: 'http://x/'}]\n", "kafka.partials_partitions: -1 is negative"},
	}
	for _, tc := range bad {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadNamesFileAndResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "weir.yaml")
	if err := os.WriteFile(p, []byte("kafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\nrules: [rules.yaml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Path(c.Rules[0]); got != filepath.Join(dir, "rules.yaml") {
		t.Errorf("Path = %q", got)
	}
	os.WriteFile(p, []byte("listen: [oops]\n"), 0o644)
	if _, err := Load(p); err == nil || !strings.HasPrefix(err.Error(), p+":") {
		t.Errorf("error %v does not name the file", err)
	}
}
