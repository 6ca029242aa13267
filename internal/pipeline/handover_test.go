package pipeline

import (
	"context"
	"encoding/hex"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// keptIDs returns the trace IDs handed to OnKeep and not yet drained.
func (p *Pipeline) keptIDs() []sample.TraceID {
	p.keptMu.Lock()
	defer p.keptMu.Unlock()
	var ids []sample.TraceID
	for _, k := range p.kept {
		ids = append(ids, k.TraceID)
	}
	return ids
}

// TestDecisionsAfterRevoke checks the hand-over of a spans partition's
// undecided traces: the owner gets the decisions of its partition; on revoke
// its buffer releases the partition's undecided traces; whoever owns the
// partition next buffers them again (from the committed offset) and gets
// the decisions made meanwhile from the lookback.
func TestDecisionsAfterRevoke(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "decisions"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := New(Config{Series: map[string]SeriesSink{"": newCapture()}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ClusterConfig{Brokers: c.ListenAddrs(), DecisionsTopic: "decisions"}
	cfg.defaults()
	d, err := newDecisions(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = d.run(ctx) }()

	now := time.Now()
	ids := []sample.TraceID{{1, 1}, {2, 2}}
	buffer := func(ids ...sample.TraceID) {
		for i, id := range ids {
			p.buffer.Add(id, 1, int64(i), "otlp_proto", []byte("spans"), 1, false, 0, now)
		}
	}
	decided := func(id sample.TraceID) bool {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if slices.Contains(p.keptIDs(), id) {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	}

	buffer(ids...)
	d.assign([]int32{1})
	d.produce(sample.Exemplar{TraceID: ids[0], Partition: 1}, now)
	if !decided(ids[0]) {
		t.Fatal("the owner did not get a decision of its partition")
	}
	d.revoke([]int32{1})
	if n := p.buffer.Release(1); n != 1 {
		t.Fatalf("released %d undecided traces, want 1", n)
	}
	d.produce(sample.Exemplar{TraceID: ids[1], Partition: 1}, now)
	// The partition comes back (to this process, as it would to another):
	// the trace is read again and its decision found in the lookback.
	buffer(ids[1])
	d.assign([]int32{1})
	if !decided(ids[1]) {
		t.Fatal("the next owner did not get the decision made while no one owned the partition")
	}
	if st := p.buffer.Stats(); st.Traces != 0 {
		t.Fatalf("%d traces still buffered", st.Traces)
	}
}

// TestReplayBuffersOnce checks that a record stage 1 reads again after an
// aborted transaction (or after its partition came back) is aggregated
// again but not buffered again: its trace's spans would be exported twice.
func TestReplayBuffersOnce(t *testing.T) {
	p, err := New(Config{Series: map[string]SeriesSink{"": newCapture()}, Buffer: []tailsampling.BufferOpt{tailsampling.BaselineRate(0)}})
	if err != nil {
		t.Fatal(err)
	}
	p.spansBuffered = map[int32]int64{} // as RunCluster sets it
	g := loadgen.New(loadgen.WithSeed(5), loadgen.WithErrorRate(0))
	var recs [][]byte
	spans := 0
	for range 2 {
		td := g.NextTrace(time.Now())
		rs, err := loadgen.TraceRecords("otlp_spans", td)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			recs = append(recs, r.Value)
		}
		spans += td.SpanCount()
	}
	handle := func(offsets ...int) {
		for _, o := range offsets {
			src := ingest.Source{Topic: "otlp_spans", Partition: 3, Offset: int64(o), Value: recs[o]}
			td, err := ingest.DecodeTraces(ingest.EncodingProto, recs[o])
			if err != nil {
				t.Fatal(err)
			}
			p.HandleTraces(src, td)
		}
	}
	first := len(recs) / 2
	handle(offsetRange(0, first)...)
	// The replay starts before the last record buffered.
	handle(offsetRange(0, len(recs))...)
	if st := p.buffer.Stats(); st.Spans != int64(spans) || st.Traces != 2 {
		t.Fatalf("after a replay the buffer holds %d traces of %d spans, want 2 of %d", st.Traces, st.Spans, spans)
	}
}

func offsetRange(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// traceCapture is a trace sink that records the IDs of the traces it gets.
type traceCapture struct {
	mu  sync.Mutex
	ids map[sample.TraceID]int // spans per trace
}

func (c *traceCapture) Enqueue(_ context.Context, td ptrace.Traces) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil {
		c.ids = map[sample.TraceID]int{}
	}
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			ss := sss.At(j).Spans()
			for k := range ss.Len() {
				c.ids[sample.TraceID(ss.At(k).TraceID())]++
			}
		}
	}
	return nil
}

func (c *traceCapture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// TestUndecidedTracesSurviveTheirNode stops a node whose span buffer holds
// every trace undecided (a decision wait of an hour) and starts another: the
// committed offsets of the spans partitions stay at the oldest undecided
// trace, so the second node reads them all again and, with its short wait
// and a baseline of 1, exports every trace of the input. Committing at the
// oldest open window instead lost all but the last windows' traces.
func TestUndecidedTracesSurviveTheirNode(t *testing.T) {
	brokers := inputCluster(t, 2000)
	want := map[sample.TraceID]bool{}
	readTopic(t, brokers, "otlp_spans", func(r *kgo.Record) {
		// kafkaexporter's key: the trace ID in hex.
		b, err := hex.DecodeString(string(r.Key))
		if err != nil || len(b) != 16 {
			t.Fatalf("record key %q is no trace ID", r.Key)
		}
		want[sample.TraceID(b)] = true
	})

	run := func(name string, wait time.Duration, traces TraceSink) *node {
		return startNodeWith(t, brokers, name, Config{Series: map[string]SeriesSink{"": newCapture()}, Traces: traces,
			Buffer: []tailsampling.BufferOpt{tailsampling.DecisionWait(wait), tailsampling.BaselineRate(1)}})
	}
	first := &traceCapture{}
	a := run("node-a", time.Hour, first)
	// Every trace is in a's buffer or was kept at once (errors).
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && a.p.buffer.Stats().Traces+first.count() < len(want) {
		time.Sleep(100 * time.Millisecond)
	}
	held := a.p.buffer.Stats().Traces
	if held+first.count() < len(want) {
		t.Fatalf("node a holds %d traces and exported %d of %d", held, first.count(), len(want))
	}
	a.stop(t)

	second := &traceCapture{}
	b := run("node-b", time.Second, second)
	deadline = time.Now().Add(60 * time.Second)
	lost := func() int {
		n := 0
		first.mu.Lock()
		second.mu.Lock()
		for id := range want {
			if first.ids[id] == 0 && second.ids[id] == 0 {
				n++
			}
		}
		second.mu.Unlock()
		first.mu.Unlock()
		return n
	}
	for time.Now().Before(deadline) && lost() > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	b.stop(t)
	if n := lost(); n > 0 {
		t.Fatalf("%d of the %d traces node a held undecided were exported by neither node", n, held)
	}
	t.Logf("node a held %d traces undecided and exported %d; node b exported %d", held, first.count(), second.count())
}

// readTopic calls fn with every record of topic.
func readTopic(t *testing.T, brokers []string, topic string, fn func(*kgo.Record)) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := kadmList(t, cl, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for seen := 0; seen < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", seen, n, topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			fn(r)
		})
	}
}
