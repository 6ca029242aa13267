package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sinks/sendqueue"
)

// capture is an idempotent series sink keyed by (series, timestamp) that
// records conflicting rewrites: a sample written twice must carry the same
// value and exemplar.
type capture struct {
	mu        sync.Mutex
	got       map[string]string
	conflicts []string
}

func newCapture() *capture { return &capture{got: map[string]string{}} }

func (c *capture) Enqueue(_ context.Context, series []prompb.TimeSeries) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ts := range series {
		k := fmt.Sprint(ts.Labels, ts.Samples[0].Timestamp)
		v := fmt.Sprint(ts.Samples[0].Value, ts.Exemplars)
		if old, ok := c.got[k]; ok && old != v {
			c.conflicts = append(c.conflicts, fmt.Sprintf("%s: %s then %s", k, old, v))
		}
		c.got[k] = v
	}
	return nil
}

func (c *capture) snapshot() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.got))
	for k, v := range c.got {
		out[k] = v
	}
	return out
}

func clusterAggOpts() []aggregator.Opt {
	return []aggregator.Opt{
		aggregator.AllowedLateness(2 * time.Second),
		aggregator.IdleTimeout(6 * time.Second),
		aggregator.CloseTimeout(10 * time.Minute),
		aggregator.MaxFuture(time.Hour),
	}
}

// inputCluster starts a kfake cluster (4 partitions of otlp_spans and
// otlp_metrics), stopped at the end of the test, holding genInput's n
// traces, and returns its addresses.
func inputCluster(t *testing.T, n int) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "otlp_spans", "otlp_metrics"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	genInput(t, brokers, n)
	return brokers
}

// genInput produces n traces with event times spread over the past minutes.
func genInput(t *testing.T, brokers []string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(
		func(topic string) func(*kgo.Record, int) int {
			if topic == "otlp_metrics" {
				return func(r *kgo.Record, _ int) int { return int(r.Partition) }
			}
			h := kgo.SaramaCompatHasher(fnv1a)
			return func(r *kgo.Record, n int) int { return h(r.Key, n) }
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	g := loadgen.New(loadgen.WithSeed(11))
	base := time.Now().Add(-5 * time.Minute)
	var recs []*kgo.Record
	for i := range n {
		at := base.Add(time.Duration(i) * 10 * time.Millisecond)
		rs, err := loadgen.TraceRecords("otlp_spans", g.NextTrace(at))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
		// SDK metrics every simulated second, cumulative as SDKs send them:
		// sums, explicit and exponential histograms, gauges, a summary. One
		// partition per batch in turn, so every partition holds some.
		if i%100 == 99 {
			rec, err := loadgen.MetricsRecord("otlp_metrics", g.Metrics(at))
			if err != nil {
				t.Fatal(err)
			}
			rec.Partition = int32(i / 100 % 4)
			recs = append(recs, rec)
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// reference computes the output in one process: every record of the input,
// partition by partition in offset order, then every window flushed.
func reference(t *testing.T, brokers []string) map[string]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("otlp_spans", "otlp_metrics"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sink := newCapture()
	p, err := New(Config{Rules: rules.Default(), Aggregator: clusterAggOpts(), Series: map[string]SeriesSink{"": sink}})
	if err != nil {
		t.Fatal(err)
	}
	adm := kadmList(t, cl, "otlp_spans") + kadmList(t, cl, "otlp_metrics")
	seen := 0
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for seen < adm {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reference read %d of %d records", seen, adm)
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			metrics := fp.Topic == "otlp_metrics"
			part := p.agg.Partition(aggPartition(fp.Topic, metrics, fp.Partition), time.Now())
			fp.EachRecord(func(r *kgo.Record) {
				seen++
				part.SetOffset(r.Offset)
				src := ingest.Source{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Value: r.Value}
				if metrics {
					md, err := ingest.DecodeMetrics(ingest.EncodingProto, r.Value)
					if err != nil {
						t.Fatal(err)
					}
					p.HandleMetrics(src, md)
					return
				}
				td, err := ingest.DecodeTraces(ingest.EncodingProto, r.Value)
				if err != nil {
					t.Fatal(err)
				}
				p.HandleTraces(src, td)
			})
		})
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sink.snapshot()
}

func kadmList(t *testing.T, cl *kgo.Client, topic string) int {
	t.Helper()
	// Count records from the partitions' end offsets.
	adm := newAdm(cl)
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ends.Each(func(o kadmOffset) { n += int(o.Offset) })
	return n
}

type node struct {
	p      *Pipeline
	cancel context.CancelFunc
	done   chan error
}

// startNode runs a pipeline of the default rules and cluster aggregator
// options on the cluster, with sink as its one series sink.
func startNode(t *testing.T, brokers []string, sink SeriesSink, name string) *node {
	t.Helper()
	return startNodeWith(t, brokers, name, Config{Series: map[string]SeriesSink{"": sink}})
}

// startNodeWith runs a pipeline of cfg (its rules, aggregator options and
// logger defaulted as startNode's) on the cluster as transactional ID name.
func startNodeWith(t *testing.T, brokers []string, name string, cfg Config) *node {
	t.Helper()
	if cfg.Rules == nil {
		cfg.Rules = rules.Default()
	}
	if cfg.Aggregator == nil {
		cfg.Aggregator = clusterAggOpts()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{p: p, cancel: cancel, done: make(chan error, 1)}
	go func() {
		n.done <- p.RunCluster(ctx, ClusterConfig{Brokers: brokers, TransactionalID: name, PartialsPartitions: 4,
			ClientOpts: []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}})
	}()
	return n
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	n.cancel()
	if err := <-n.done; err != nil {
		t.Errorf("node stopped with %v", err)
	}
}

// TestClusterEqualsReference runs the two stages over Kafka on two nodes,
// stops one in the middle of the run and starts a third later; the output
// must equal the single-process reference exactly: same series, timestamps,
// values and exemplars, nothing missing, nothing written twice differently.
func TestClusterEqualsReference(t *testing.T) {
	brokers := inputCluster(t, 6000)
	want := reference(t, brokers)
	if len(want) == 0 {
		t.Fatal("reference produced nothing")
	}

	sink := newCapture()
	a := startNode(t, brokers, sink, "node-a")
	b := startNode(t, brokers, sink, "node-b")
	time.Sleep(3 * time.Second)
	a.cancel() // node a dies mid-run
	<-a.done
	time.Sleep(2 * time.Second)
	c3 := startNode(t, brokers, sink, "node-c")

	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) && len(sink.snapshot()) < len(want) {
		time.Sleep(500 * time.Millisecond)
	}
	b.stop(t)
	c3.stop(t)

	sink.mu.Lock()
	conflicts := sink.conflicts
	sink.mu.Unlock()
	testenv.CompareOutput(t, want, sink.snapshot(), conflicts)
}

// rejectingSink accepts everything but reports, on its first flushes, that
// the storage refused some samples for good (as remote write does on a 4xx).
type rejectingSink struct {
	*capture
	flushes int
}

func (r *rejectingSink) Flush(context.Context) error {
	r.flushes++
	if r.flushes <= 3 {
		return fmt.Errorf("remote write: 400: %w", sendqueue.ErrPermanent)
	}
	return nil
}

// TestClusterSurvivesRejectedSamples: samples the storage refuses for good
// are counted by the sink; stage 2 goes on and closes every later window.
func TestClusterSurvivesRejectedSamples(t *testing.T) {
	brokers := inputCluster(t, 2000)
	want := reference(t, brokers)
	sink := &rejectingSink{capture: newCapture()}
	n := startNode(t, brokers, sink, "node-r")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && len(sink.snapshot()) < len(want) {
		time.Sleep(200 * time.Millisecond)
	}
	n.stop(t)
	if got := len(sink.snapshot()); got != len(want) || sink.flushes <= 3 {
		t.Fatalf("after rejected flushes: %d of %d samples, %d flushes", got, len(want), sink.flushes)
	}
}

func fnv1a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}
