package config

import (
	"strings"
	"testing"
	"time"
)

func TestEnvExpansion(t *testing.T) {
	t.Setenv("WEIR_T_BROKER", "10.0.0.1:9093")
	t.Setenv("WEIR_T_WORKERS", "3")
	t.Setenv("WEIR_T_EMPTY", "")
	t.Setenv("WEIR_T_TRICKY", `a: b # "c" \ 'd'`)
	c, err := Parse([]byte(`
# comments and blank lines move the lines of a re-encoded file

kafka:
  brokers:
    - ${env:WEIR_T_BROKER}
    - "${WEIR_T_BROKER}"
  workers: ${env:WEIR_T_WORKERS}
  group: ${env:WEIR_T_UNSET:-weir-${env:WEIR_T_EMPTY:-x}}
  metrics_topic: ${env:WEIR_T_EMPTY:-metrics}
  spans_topic: "$${env:WEIR_T_BROKER}"
remote_write:
  - url: http://x/
    headers:
      X-Tricky: ${env:WEIR_T_TRICKY}
traces:
  headers:
    ${env:WEIR_T_BROKER}: key-not-expanded
aggregation:
  idle_timeout: ${env:WEIR_T_UNSET:-90s}
`))
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kafka
	for _, g := range []struct{ name, got, want string }{
		{"brokers[0]", k.Brokers[0], "10.0.0.1:9093"},
		{"brokers[1]", k.Brokers[1], "10.0.0.1:9093"},
		// The default ends at the first }: the rest is text.
		{"group", k.Group, "weir-${env:WEIR_T_EMPTY:-x}"},
		{"metrics_topic (empty takes the default)", k.MetricsTopic, "metrics"},
		{"spans_topic ($${ is literal)", k.SpansTopic, "${env:WEIR_T_BROKER}"},
		{"header value", c.RemoteWrite[0].Headers["X-Tricky"], `a: b # "c" \ 'd'`},
		{"header key", c.Traces.Headers["${env:WEIR_T_BROKER}"], "key-not-expanded"},
	} {
		if g.got != g.want {
			t.Errorf("%s = %q, want %q", g.name, g.got, g.want)
		}
	}
	if k.Workers != 3 {
		t.Errorf("workers = %d, want 3 (a plain value of one reference takes its YAML type)", k.Workers)
	}
	if d := time.Duration(c.Aggregation.IdleTimeout); d != 90*time.Second {
		t.Errorf("idle_timeout = %v", d)
	}
}

func TestEnvExpansionErrors(t *testing.T) {
	t.Setenv("WEIR_T_WORKERS", "3")
	t.Setenv("WEIR_T_DURATION", "5 parsecs")
	for _, tc := range []struct{ name, in, want string }{
		{"unset", "kafka:\n  brokers: [a]\n  group: ${env:WEIR_T_UNSET}\n", "line 3: ${env:WEIR_T_UNSET}: environment variable WEIR_T_UNSET is not set"},
		{"unset bare", "kafka:\n\n  group: x-${WEIR_T_UNSET}\n", "line 3: ${WEIR_T_UNSET}: environment variable WEIR_T_UNSET is not set"},
		{"other scheme", "kafka:\n  group: ${file:/etc/passwd}\n", "line 2: ${file:/etc/passwd}: only ${env:NAME} is supported"},
		{"bad name", "kafka:\n  group: ${env:1X}\n", `line 2: ${env:1X}: "1X" is not an environment variable name`},
		{"unclosed", "kafka:\n  group: ${env:X\n", "line 2:"},
		{"quoted stays a string", "kafka:\n  brokers: [a]\n  workers: '${env:WEIR_T_WORKERS}'\n", `config:3:12: kafka.workers: want an integer, got "3"`},
		// The errors of the second decode name the file's lines, not those
		// of the re-encoded tree.
		{"unknown field after expansion", "# one\n\n# two\nkafka:\n\n  workers: ${env:WEIR_T_WORKERS}\n\n\n  brokerz: [b]\n", `config:9:3: unknown field "brokerz" in kafka`},
		{"bad duration from env", "kafka: {brokers: [a]}\n\n\naggregation:\n\n  idle_timeout: ${env:WEIR_T_DURATION}\n", `config:6:17: aggregation.idle_timeout: bad duration "5 parsecs"`},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}
