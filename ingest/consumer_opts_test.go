package ingest

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestNewConsumerValidates(t *testing.T) {
	b := Brokers("127.0.0.1:9092")
	for _, tc := range []struct {
		name string
		opts []Opt
		want string // substring of the error; "" for success
	}{
		{"defaults", []Opt{b}, ""},
		{"metrics only", []Opt{b, SpansTopic("")}, ""},
		{"no brokers", nil, "no Kafka brokers"},
		{"no group", []Opt{b, Group("")}, "empty consumer group"},
		{"no topics", []Opt{b, SpansTopic(""), MetricsTopic("")}, "neither"},
		{"same topic twice", []Opt{b, SpansTopic("x"), MetricsTopic("x")}, `"x" given for both`},
		{"dead letters into an input", []Opt{b, DeadLetterTopic("otlp_spans")}, `dead-letter topic "otlp_spans"`},
		{"bad encoding", []Opt{b, TracesEncoding("zipkin")}, `"zipkin"`},
		{"bad poll interval", []Opt{b, PollInterval(0)}, "poll interval 0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewConsumer(tc.opts...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("NewConsumer: %v", err)
			case tc.want == "" && c == nil:
				t.Fatal("NewConsumer returned nil")
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("NewConsumer error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestNewConsumerRegisters(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewConsumer(Brokers("127.0.0.1:9092"), WithRegisterer(reg)); err != nil {
		t.Fatal(err)
	}
	if _, err := NewConsumer(Brokers("127.0.0.1:9092"), WithRegisterer(reg)); err == nil {
		t.Error("second Consumer on one registry registered duplicate metrics without error")
	}
	if _, err := NewConsumer(Brokers("127.0.0.1:9092")); err != nil {
		t.Errorf("Consumer without registerer: %v", err)
	}
}

// With no records, PollDone still runs (every PollInterval), and cancel
// still ends in PartitionsLost for every partition and a nil error.
func TestConsumerIdle(t *testing.T) {
	addrs := newCluster(t, spansTopic, metricsTopic)
	c, err := NewConsumer(testOpts(addrs)...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecorder()
	run := start(t, c, h)
	run.waitFor(t, "idle PollDone calls", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.pollDones >= 3
	})
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	if len(h.lost[spansTopic]) != 3 || len(h.lost[metricsTopic]) != 3 {
		t.Errorf("PartitionsLost got %v, want all three partitions of both topics", h.lost)
	}
	if err := c.Run(t.Context(), nil); err == nil {
		t.Error("Run(nil Handler) succeeded")
	}
}
