package pipeline

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/weirdev/weir/exemplars"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/sample"
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

// TestDecisionsAfterRevoke checks that the former owner of a spans partition
// still gets the keep decisions of the traces it buffered from it: the new
// owner replays the partition only from the committed offset, so a trace
// read before that is buffered by the former owner alone.
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
	ids := []sample.TraceID{{1, 1}, {2, 2}, {3, 3}}
	for _, id := range ids {
		p.buffer.Add(id, 1, "otlp_proto", []byte("spans"), 1, false, 0, now)
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

	d.assign([]int32{1})
	d.produce(sample.Exemplar{TraceID: ids[0], Partition: 1}, now)
	if !decided(ids[0]) {
		t.Fatal("the owner did not get a decision of its partition")
	}
	d.revoke([]int32{1})
	d.produce(sample.Exemplar{TraceID: ids[1], Partition: 1}, now)
	if !decided(ids[1]) {
		t.Fatal("after the revoke, the former owner did not get the decision of a trace it buffered")
	}
	// Assigned back before the lookback ended: read on, not re-added.
	d.assign([]int32{1})
	d.mu.Lock()
	lingering := len(d.lingering)
	d.mu.Unlock()
	if lingering != 0 {
		t.Fatalf("%d partitions still lingering after being assigned back", lingering)
	}
	d.produce(sample.Exemplar{TraceID: ids[2], Partition: 1}, now)
	if !decided(ids[2]) {
		t.Fatal("after being assigned back, the owner did not get a decision")
	}
	if st := p.buffer.Stats(); st.Traces != 0 {
		t.Fatalf("%d traces still buffered", st.Traces)
	}
}

// TestReplayBuffersOnce checks that a record stage 1 reads again after an
// aborted transaction (or after its partition came back) is aggregated
// again but not buffered again: its trace's spans would be exported twice.
func TestReplayBuffersOnce(t *testing.T) {
	p, err := New(Config{Series: map[string]SeriesSink{"": newCapture()}, Buffer: []exemplars.BufferOpt{exemplars.BaselineRate(0)}})
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
