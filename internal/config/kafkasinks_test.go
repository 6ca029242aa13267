package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weirdev/weir/rules"
)

func TestKafkaSinks(t *testing.T) {
	c, err := Parse([]byte(`
kafka: {brokers: ['127.0.0.1:9092']}
remote_write:
  - url: http://prom/
    policies: [10s:2d]
kafka_sinks:
  - topic: weir_rollups
    policies: [10s:48h, 1m:960h]
  - topic: weir_all
    brokers: ['other:9092']
`))
	if err != nil {
		t.Fatal(err)
	}
	ks := c.KafkaSinks
	if len(ks) != 2 || !slices.Equal(ks[0].Brokers, []string{"127.0.0.1:9092"}) || !slices.Equal(ks[1].Brokers, []string{"other:9092"}) {
		t.Errorf("brokers not defaulted to kafka.brokers, or replaced: %+v", ks)
	}
	if got := strings.Join(ks[0].Policies, ","); got != "10s:2d,1m:40d" {
		t.Errorf("policies not normalized: %s", got)
	}
	for p, want := range map[string][]int{"10s:2d": {0, 1}, "1m:40d": {0, 1}, "5m:1y": {1}} {
		if got := c.KafkaSinksOf(p); !slices.Equal(got, want) {
			t.Errorf("KafkaSinksOf(%s) = %v, want %v", p, got, want)
		}
	}

	for _, tc := range []struct{ name, in, want string }{
		{"no topic", "kafka_sinks: [{policies: [10s:2d]}]", "kafka_sinks[0].topic: required"},
		{"bad policy", "kafka_sinks: [{topic: t, policies: [10s]}]", `kafka_sinks[0].policies[0]: bad storage policy "10s"`},
		{"no destination at all", "listen: 127.0.0.1:0", "remote_write: at least one destination is required (or a kafka_sinks entry)"},
		{"unknown field", "kafka_sinks: [{topic: t, topik: u}]", `config:2:26: unknown field "topik" in kafka_sinks[0]; did you mean "topic"?`},
	} {
		_, err := Parse([]byte("kafka: {brokers: [a]}\n" + tc.in + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if _, err := Parse([]byte("kafka: {brokers: [a]}\nkafka_sinks: [{topic: t}]\n")); err != nil {
		t.Errorf("a Kafka sink as the only destination: %v", err)
	}
}

func TestCheckRoutingCountsKafkaSinks(t *testing.T) {
	rulesPath := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(`rollup:
  - name: lat
    match: lat
    output: 'lat:svc'
    aggregations: [p99]
    policies: [10s:2d, 1m:40d]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := rules.Load(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, cfg, want string }{
		{"the long tier to Kafka alone", "remote_write: [{url: 'http://prom/', policies: [10s:2d]}]\nkafka_sinks: [{topic: t, policies: [1m:40d]}]\n", ""},
		{"everything to Kafka", "kafka_sinks: [{topic: t}]\n", ""},
		{"Kafka takes another policy", "remote_write: [{url: 'http://prom/', policies: [10s:2d]}]\nkafka_sinks: [{topic: t, policies: [5m:1y]}]\n",
			`storage policy 1m:40d goes to no remote_write destination`},
	} {
		c, err := Parse([]byte("kafka: {brokers: [a]}\n" + tc.cfg))
		if err != nil {
			t.Fatal(err)
		}
		err = c.CheckRouting(s)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: CheckRouting = %v, want %q", tc.name, err, tc.want)
		}
	}
}
