package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/sinks/sendqueue"
)

// readBack reads topic until it has n samples, turning records into samples
// the way another weir's ingest does, printed as the receiver prints them;
// then it reads on briefly to catch more than n.
func readBack(t *testing.T, brokers []string, topic string, n int, opts ...kgo.Opt) []string {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	conv := ingest.NewMetricConverter()
	var u pmetric.ProtoUnmarshaler
	for extra := false; ; {
		if len(out) >= n && !extra {
			extra = true
			var cancelExtra context.CancelFunc
			ctx, cancelExtra = context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancelExtra()
		}
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			if !extra {
				t.Fatalf("%s: read %d of %d samples", topic, len(out), n)
			}
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			md, err := u.UnmarshalMetrics(r.Value)
			if err != nil {
				t.Fatalf("%s: record does not decode as OTLP: %v", topic, err)
			}
			conv.Convert(md, "", func(p *sample.Point) {
				var ls []string
				p.Labels.Range(func(l labels.Label) {
					if l.Name != "__name__" {
						ls = append(ls, fmt.Sprintf("%s=%q", l.Name, l.Value))
					}
				})
				out = append(out, fmt.Sprintf(" | %s{%s}@%d=%g", p.Labels.Get("__name__"), strings.Join(ls, ","), (p.T-base)/1000, p.V))
			})
		})
	}
	slices.Sort(out)
	return out
}

func TestRoutingToKafkaSinks(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "long", "all"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	prom := newReceiver(t)
	// 10s:2d to remote write, 1m:40d to Kafka alone, and a second topic
	// with everything.
	feed(t, fmt.Sprintf(`remote_write:
  - {url: '%s', policies: [10s:2d]}
kafka_sinks:
  - {topic: long, brokers: [%s], policies: [1m:40d]}
  - {topic: all, brokers: [%s]}
`, prom.srv.URL, brokers, brokers))

	var tenSec []string
	for end := 10; end <= 60; end += 10 {
		tenSec = append(tenSec, fmt.Sprintf(` | lat:svc_sum{svc="cart"}@%d=10`, end))
	}
	oneMin := []string{` | lat:svc_sum{svc="cart"}@60=60`}
	if got := prom.samples(); !slices.Equal(got, tenSec) {
		t.Errorf("remote write got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tenSec, "\n"))
	}
	if got := readBack(t, c.ListenAddrs(), "long", len(oneMin)); !slices.Equal(got, oneMin) {
		t.Errorf("topic long got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(oneMin, "\n"))
	}
	all := append(slices.Clone(tenSec), oneMin...)
	slices.Sort(all)
	if got := readBack(t, c.ListenAddrs(), "all", len(all)); !slices.Equal(got, all) {
		t.Errorf("topic all got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(all, "\n"))
	}
}

func TestKafkaSinkBesideTheCatchAllDestination(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "long"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	short, rest := newReceiver(t), newReceiver(t)
	// 1m:40d has no remote_write of its own: it goes to the catch-all
	// destination and, as well, to the Kafka sink that lists it.
	feed(t, fmt.Sprintf(`remote_write:
  - {url: '%s', policies: [10s:2d]}
  - {url: '%s'}
kafka_sinks:
  - {topic: long, brokers: [%s], policies: [1m:40d]}
`, short.srv.URL, rest.srv.URL, strings.Join(c.ListenAddrs(), ",")))
	oneMin := []string{` | lat:svc_sum{svc="cart"}@60=60`}
	if got := rest.samples(); !slices.Equal(got, oneMin) {
		t.Errorf("catch-all remote write got %v, want %v", got, oneMin)
	}
	if got := readBack(t, c.ListenAddrs(), "long", len(oneMin)); !slices.Equal(got, oneMin) {
		t.Errorf("topic long got %v, want %v", got, oneMin)
	}
	if got := short.samples(); len(got) != 6 {
		t.Errorf("10s destination got %d samples, want 6", len(got))
	}
}

// TestKafkaSinkTakesKafkasSecurity: a Kafka sink without brokers of its
// own writes with kafka's SASL settings to a cluster that refuses every
// client that does not authenticate.
func TestKafkaSinkTakesKafkasSecurity(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "long"), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "weir", "sink-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pw := writeTemp(t, "password", "sink-secret\n")
	prom := newReceiver(t)
	feed(t, fmt.Sprintf(`remote_write:
  - {url: '%s', policies: [10s:2d]}
kafka_sinks:
  - {topic: long, policies: [1m:40d]}
`, prom.srv.URL), fmt.Sprintf(`kafka:
  brokers: [%s]
  auth:
    sasl: {mechanism: SCRAM-SHA-512, username: weir, password_file: %s}
`, c.ListenAddrs()[0], pw))
	oneMin := []string{` | lat:svc_sum{svc="cart"}@60=60`}
	scram := kgo.SASL(scram.Auth{User: "weir", Pass: "sink-secret"}.AsSha512Mechanism())
	if got := readBack(t, c.ListenAddrs(), "long", len(oneMin), scram); !slices.Equal(got, oneMin) {
		t.Errorf("topic long got %v, want %v", got, oneMin)
	}
}

// flushing is a series sink whose Flush returns err.
type flushing struct{ err error }

func (flushing) Enqueue(context.Context, []prompb.TimeSeries) error { return nil }
func (f flushing) Flush(context.Context) error                      { return f.err }

// TestFanoutFlushMovesOnOnlyPastPermanentFailures: stage 2 commits past a
// fan-out's Flush error only when it wraps sendqueue.ErrPermanent, which
// must then hold for every sink that failed.
func TestFanoutFlushMovesOnOnlyPastPermanentFailures(t *testing.T) {
	perm := fmt.Errorf("remote write dropped 3 samples: %w", sendqueue.ErrPermanent)
	transient := errors.New("kafka: 2 records failed")
	for _, tc := range []struct {
		name          string
		sinks         fanout
		wantErr, perm bool
	}{
		{"all delivered", fanout{flushing{}, flushing{}}, false, false},
		{"one dropped for good", fanout{flushing{perm}, flushing{}}, true, true},
		{"dropped and undelivered", fanout{flushing{perm}, flushing{transient}}, true, false},
		{"undelivered and dropped", fanout{flushing{transient}, flushing{perm}}, true, false},
	} {
		err := tc.sinks.Flush(context.Background())
		if (err != nil) != tc.wantErr || errors.Is(err, sendqueue.ErrPermanent) != tc.perm {
			t.Errorf("%s: Flush = %v, want error %v, permanent %v", tc.name, err, tc.wantErr, tc.perm)
		}
	}
}
