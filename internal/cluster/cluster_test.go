package cluster

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/pipeline/pipelinetest"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/receiver"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
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

// traceCapture is a trace sink counting the spans it got, by span.
type traceCapture struct {
	mu    sync.Mutex
	spans map[[24]byte]int // trace ID and span ID
	ids   map[sample.TraceID]int
}

func newTraceCapture() *traceCapture {
	return &traceCapture{spans: map[[24]byte]int{}, ids: map[sample.TraceID]int{}}
}

func (c *traceCapture) Enqueue(_ context.Context, td ptrace.Traces) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				sp := spans.At(k)
				var key [24]byte
				tid, sid := sp.TraceID(), sp.SpanID()
				copy(key[:], tid[:])
				copy(key[16:], sid[:])
				c.spans[key]++
				c.ids[sample.TraceID(tid)]++
			}
		}
	}
	return nil
}

func (c *traceCapture) traces() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// inputCluster starts a kfake cluster (4 partitions of otlp_spans and
// otlp_metrics), stopped at the end of the test, holding genInput's n
// traces, and returns its addresses.
func inputCluster(t *testing.T, n int) []string {
	t.Helper()
	brokers := emptyCluster(t)
	genInput(t, brokers, n)
	return brokers
}

// inputPartitions is the partition count of inputCluster's input topics.
const inputPartitions = 4

// emptyCluster starts inputCluster's cluster with no records.
func emptyCluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(inputPartitions, DefaultSpansTopic, DefaultMetricsTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// genInput produces n traces with event times spread over the past minutes.
func genInput(t *testing.T, brokers []string, n int) {
	t.Helper()
	newInput(t, brokers).produce(t, n)
}

// input produces a trace every 10 ms of event time from five minutes ago,
// and SDK metrics every 100 traces; produce goes on where the last call
// ended.
type input struct {
	// cl partitions spans as kafkaexporter does; metrics records, which it
	// does not key, go to the partition produce chooses.
	cl, metrics *kgo.Client
	g           *loadgen.Generator
	base        time.Time
	i           int
}

func newInput(t *testing.T, brokers []string) *input {
	t.Helper()
	client := func(opt kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	return &input{cl: client(receiver.PartitionerOpt()), metrics: client(kgo.RecordPartitioner(kgo.ManualPartitioner())),
		g: loadgen.New(loadgen.WithSeed(11)), base: time.Now().Add(-5 * time.Minute)}
}

func (in *input) produce(t *testing.T, n int) {
	t.Helper()
	var recs, metrics []*kgo.Record
	for end := in.i + n; in.i < end; in.i++ {
		i := in.i
		at := in.base.Add(time.Duration(i) * 10 * time.Millisecond)
		rs, err := receiver.TraceRecords(DefaultSpansTopic, in.g.NextTrace(at))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
		// SDK metrics every simulated second, cumulative as SDKs send them:
		// sums, explicit and exponential histograms, gauges, a summary. One
		// partition per batch in turn, so every partition holds some.
		if i%100 == 99 {
			rec, err := receiver.MetricsRecord(DefaultMetricsTopic, in.g.Metrics(at))
			if err != nil {
				t.Fatal(err)
			}
			rec.Partition = int32(i / 100 % 4)
			metrics = append(metrics, rec)
		}
	}
	if err := in.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := in.metrics.ProduceSync(context.Background(), metrics...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// eachRecord calls fn with every record of the topics, partition by
// partition in offset order.
func eachRecord(t *testing.T, brokers []string, fn func(*kgo.Record), topics ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for _, topic := range topics {
		ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
		if err != nil {
			t.Fatal(err)
		}
		ends.Each(func(o kadm.ListedOffset) { n += int(o.Offset) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for seen := 0; seen < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", seen, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			fn(r)
		})
	}
}

// reference computes the output in one process (pipelinetest.Local): every
// record of the input, partition by partition in offset order, then every
// window flushed.
func reference(t *testing.T, brokers []string) map[string]string {
	t.Helper()
	return referenceWith(t, brokers, pipeline.Config{})
}

// referenceWith is reference under cfg (its series sink is the
// reference's), with the input topics' partition counts set for the limits.
func referenceWith(t *testing.T, brokers []string, cfg pipeline.Config) map[string]string {
	t.Helper()
	sink := newCapture()
	cfg.Series = map[string]pipeline.SeriesSink{"": sink}
	l, err := pipelinetest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.W.Plan.SetInputPartitions(inputPartitions, inputPartitions)
	eachRecord(t, brokers, func(r *kgo.Record) {
		rec := pipeline.Record{Spans: r.Topic == DefaultSpansTopic, Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp, Key: r.Key, Value: r.Value}
		if err := l.Handle(rec); err != nil {
			t.Fatal(err)
		}
	}, DefaultSpansTopic, DefaultMetricsTopic)
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sink.snapshot()
}

type node struct {
	w      *pipeline.Worker
	cancel context.CancelFunc
	done   chan error
}

// startNode runs a worker of the default rules and settings on the cluster,
// with sink as its one series sink.
func startNode(t *testing.T, brokers []string, sink pipeline.SeriesSink, name string) *node {
	t.Helper()
	return startNodeWith(t, brokers, name, pipeline.Config{Series: map[string]pipeline.SeriesSink{"": sink}}, nil)
}

// startNodeWith runs a worker of cfg on the cluster as transactional ID
// name; edit changes the cluster settings.
func startNodeWith(t *testing.T, brokers []string, name string, cfg pipeline.Config, edit func(*Config)) *node {
	t.Helper()
	w, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := &testenv.LogBuffer{}
	cc := Config{
		Client:             &Clients{Brokers: brokers, Opts: []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}},
		TransactionalID:    name,
		PartialsPartitions: 4,
		Logger:             slog.New(slog.NewTextHandler(log, nil)),
	}
	if edit != nil {
		edit(&cc)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s (tail):\n%s", name, log.Tail(60))
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{w: w, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- Run(ctx, cc, w) }()
	return n
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	n.cancel()
	if err := <-n.done; err != nil {
		t.Errorf("node stopped with %v", err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return cond()
}

// TestClusterEqualsReference runs the passes over Kafka on two nodes, stops
// one in the middle of the run and starts a third later; the output must
// equal the single-process reference exactly: same series, timestamps,
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

	waitFor(3*time.Minute, func() bool { return len(sink.snapshot()) >= len(want) })
	b.stop(t)
	c3.stop(t)

	sink.mu.Lock()
	conflicts := sink.conflicts
	sink.mu.Unlock()
	testenv.CompareOutput(t, want, sink.snapshot(), conflicts)
}

// failingSink takes everything but fails its first flushes, as a storage
// that is down, or refuses weir's credentials, does.
type failingSink struct {
	*capture
	mu      sync.Mutex
	flushes int
}

func (f *failingSink) Flush(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes++
	if f.flushes <= 3 {
		return fmt.Errorf("remote write: 401 Unauthorized")
	}
	return nil
}

// TestClusterWaitsForFailingSink: while the series sink fails, stage 2
// commits nothing and goes on trying; once it succeeds the output is whole
// and equals the reference.
func TestClusterWaitsForFailingSink(t *testing.T) {
	brokers := inputCluster(t, 2000)
	want := reference(t, brokers)
	sink := &failingSink{capture: newCapture()}
	n := startNode(t, brokers, sink, "node-r")
	waitFor(2*time.Minute, func() bool { return len(sink.snapshot()) >= len(want) })
	n.stop(t)
	if sink.flushes <= 3 {
		t.Fatalf("%d flushes: the sink never recovered", sink.flushes)
	}
	testenv.CompareOutput(t, want, sink.snapshot(), sink.conflicts)
}

// TestTracesSurviveTheirNode stops a node whose second pass exported
// nothing yet (a decision wait of an hour) and starts another with a short
// wait and a baseline of 1: it reads the spans again from the first node's
// position and exports every trace of the input, each span once.
func TestTracesSurviveTheirNode(t *testing.T) {
	brokers := inputCluster(t, 2000)
	want := map[sample.TraceID]bool{}
	eachRecord(t, brokers, func(r *kgo.Record) {
		id, ok := keyTraceID(r.Key)
		if !ok {
			t.Fatalf("record key %q is no trace ID", r.Key)
		}
		want[id] = true
	}, DefaultSpansTopic)
	run := func(name string, wait time.Duration, traces *traceCapture) *node {
		return startNodeWith(t, brokers, name, pipeline.Config{Series: map[string]pipeline.SeriesSink{"": newCapture()}, Traces: traces},
			func(c *Config) { c.DecisionWait, c.BaselineRate = wait, 1 })
	}
	first := newTraceCapture()
	a := run("node-a", time.Hour, first)
	time.Sleep(10 * time.Second)
	a.stop(t)
	if n := first.traces(); n != 0 {
		t.Fatalf("node a exported %d traces within its decision wait of an hour", n)
	}
	second := newTraceCapture()
	b := run("node-b", time.Second, second)
	waitFor(2*time.Minute, func() bool { return second.traces() >= len(want) })
	b.stop(t)
	second.mu.Lock()
	defer second.mu.Unlock()
	missing := 0
	for id := range want {
		if second.ids[id] == 0 {
			missing++
		}
	}
	twice := 0
	for _, n := range second.spans {
		if n > 1 {
			twice++
		}
	}
	if missing > 0 || twice > 0 {
		t.Fatalf("of %d traces, %d not exported; %d spans exported more than once", len(want), missing, twice)
	}
}

// keyTraceID parses a kafkaexporter record key: the trace ID in hex.
func keyTraceID(key []byte) (sample.TraceID, bool) {
	var id sample.TraceID
	if len(key) != 32 {
		return id, false
	}
	_, err := hex.Decode(id[:], key)
	return id, err == nil
}

// TestDecisionsLookback: a new owner of a spans partition reads back every
// decision that may concern a record its second pass reads, with room for
// delivery.
func TestDecisionsLookback(t *testing.T) {
	for _, wait := range []time.Duration{time.Second, 30 * time.Second, 70 * time.Second, 2 * time.Minute, 10 * time.Minute} {
		lb := decisionsLookback(wait)
		if lb < wait+time.Minute || lb < 2*time.Minute {
			t.Errorf("decision wait %v: lookback %v, want at least the wait plus a minute and at least 2m", wait, lb)
		}
	}
}

const totalsRules = `
rollup:
  - name: calls-total
    match: '{__name__="span_duration_seconds"}'
    output: calls
    by: [service_name]
    aggregations: [total]
    policies: [10s:2d]
  - name: latency-histogram
    match: 'db_client_operation_duration_seconds'
    output: db_latency
    by: [job]
    aggregations: [histogram]
    policies: [10s:2d]
`

// TestRunningTotalsSurviveTheirNode: total and histogram outputs are
// running totals that a node's death does not break: the node that takes
// its partials partitions over goes on from the totals committed with its
// offsets, and the output equals the reference's.
func TestRunningTotalsSurviveTheirNode(t *testing.T) {
	brokers := emptyCluster(t)
	in := newInput(t, brokers)
	in.produce(t, 2000)
	set, err := rules.Parse("totals.yaml", []byte(totalsRules))
	if err != nil {
		t.Fatal(err)
	}
	got := newCapture()
	cfg := pipeline.Config{Plan: plan.Config{Rules: set}, Series: map[string]pipeline.SeriesSink{"": got}}
	a := startNodeWith(t, brokers, "tot-a", cfg, nil)
	// The first node stops once it has handed on every window of the first
	// half (its idle partitions' watermarks pass them by the wall clock):
	// the cumulative series' last points before the stop are then in
	// windows already written, and their next increases are the second
	// node's to derive.
	handedOn := in.base.Add(time.Duration(in.i)*10*time.Millisecond + 10*time.Second).UnixMilli()
	adm := kadm.NewClient(in.cl)
	flushed := func() bool {
		offs, err := adm.FetchOffsets(context.Background(), DefaultGroup)
		if err != nil || len(offs[DefaultMetricsTopic]) < 4 {
			return false
		}
		for _, o := range offs[DefaultMetricsTopic] {
			if wm, ok := parseCommitMeta(o.Metadata); !ok || wm < handedOn {
				return false
			}
		}
		return true
	}
	if !waitFor(5*time.Minute, func() bool { return len(got.snapshot()) > 0 && flushed() }) {
		t.Fatal("the first node did not hand on the first half's windows")
	}
	a.cancel() // dies between the halves: the second comes after it
	<-a.done
	first := len(got.snapshot())
	if offs, err := adm.FetchOffsets(context.Background(), DefaultGroup); err == nil {
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == DefaultMetricsTopic {
				t.Logf("the first node committed %s/%d at offset %d (%s)", o.Topic, o.Partition, o.At, o.Metadata)
			}
		})
	}
	// The second half is live: its event times start now, after every
	// window the first node may have closed (an idle partition's windows
	// close by the wall clock) and ahead of the records' own times.
	in.base = time.Now().Add(-time.Duration(in.i) * 10 * time.Millisecond)
	in.produce(t, 2000)

	sink := newCapture()
	ref, err := pipelinetest.New(pipeline.Config{Plan: plan.Config{Rules: set}, Series: map[string]pipeline.SeriesSink{"": sink}})
	if err != nil {
		t.Fatal(err)
	}
	eachRecord(t, brokers, func(r *kgo.Record) {
		if err := ref.Handle(pipeline.Record{Spans: r.Topic == DefaultSpansTopic, Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp, Key: r.Key, Value: r.Value}); err != nil {
			t.Fatal(err)
		}
	}, DefaultSpansTopic, DefaultMetricsTopic)
	if err := ref.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := sink.snapshot()
	calls, buckets := 0, 0
	for k := range want {
		switch {
		case strings.Contains(k, "calls_total"):
			calls++
		case strings.Contains(k, "db_latency_bucket"):
			buckets++
		}
	}
	if calls == 0 || buckets == 0 {
		t.Fatalf("the reference wrote %d calls_total and %d db_latency_bucket samples among %d, want both running totals", calls, buckets, len(want))
	}

	if first == 0 || first >= len(want) {
		t.Fatalf("the first node wrote %d of %d samples before it stopped: the second must write the rest", first, len(want))
	}
	t.Logf("the first node stopped after %d of %d samples", first, len(want))
	b := startNodeWith(t, brokers, "tot-b", cfg, nil)
	// The bounds are a loaded CI machine's: there the first half alone
	// took 70 s (20 s on an idle one).
	waitFor(6*time.Minute, func() bool { return len(got.snapshot()) >= len(want) })
	b.stop(t)
	got.mu.Lock()
	conflicts := got.conflicts
	got.mu.Unlock()
	testenv.CompareOutput(t, want, got.snapshot(), conflicts)
}
