package cluster

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/sample"
)

// TestSecondPassReadsReassignedPartitions: a spans partition revoked while
// its second pass holds records not due yet (its fetching paused) and
// assigned to the same worker again, as an eager rebalance does, is read
// again: every trace of the input is exported, none is lost with the pause.
func TestSecondPassReadsReassignedPartitions(t *testing.T) {
	brokers := emptyCluster(t)
	in := newInput(t, brokers)
	in.base = time.Now() // due a decision wait from now: held, not exported
	in.produce(t, 200)
	want := map[sample.TraceID]bool{}
	eachRecord(t, brokers, func(r *kgo.Record) {
		id, ok := keyTraceID(r.Key)
		if !ok {
			t.Fatalf("record key %q is no trace ID", r.Key)
		}
		want[id] = true
	}, DefaultSpansTopic)

	traces := newTraceCapture()
	w, err := pipeline.New(pipeline.Config{Series: map[string]pipeline.SeriesSink{"": newCapture()}, Traces: traces})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Client:          &Clients{Brokers: brokers},
		TransactionalID: "node-s",
		DecisionWait:    3 * time.Second,
		BaselineRate:    1,
		Logger:          slog.New(slog.DiscardHandler),
	}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	topo, err := ensureTopics(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics(nil)
	keeps := newKeepSets(cfg)
	dec, err := newDecisions(cfg, topo, keeps, m)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.close()
	second, err := newSecondPass(cfg, w.Traces, keeps, dec, m)
	if err != nil {
		t.Fatal(err)
	}
	defer second.close()
	done := make(chan error, 2)
	go func() { done <- dec.run(ctx) }()
	go func() { done <- second.run(ctx) }()

	starts := map[int32]int64{}
	var parts []int32
	for p := range topo.spansParts {
		starts[p] = -1
		parts = append(parts, p)
	}
	second.assign(ctx, starts)
	if !waitFor(time.Minute, func() bool { return len(second.cl.PauseFetchPartitions(nil)[DefaultSpansTopic]) > 0 }) {
		t.Fatal("the second pass paused no partition: it held no record not due yet")
	}
	if n := traces.traces(); n != 0 {
		t.Fatalf("%d traces exported before they were due", n)
	}
	second.revoke(parts)
	second.assign(ctx, starts)

	waitFor(time.Minute, func() bool { return traces.traces() >= len(want) })
	cancel()
	for range 2 {
		<-done
	}
	traces.mu.Lock()
	defer traces.mu.Unlock()
	missing := 0
	for id := range want {
		if traces.ids[id] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("of %d traces, %d not exported after their partitions were assigned again", len(want), missing)
	}
}
