package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// decisions carries keep decisions to the owner of the spans partition a
// trace was read from: weir.decisions has one partition per spans partition,
// and the owner of spans partition p reads decisions partition p into p's
// keep set.
type decisions struct {
	cfg      Config
	keeps    *keepSets
	m        *metrics
	parts    int32 // spans partitions: where a broadcast goes
	producer *kgo.Client
	consumer *kgo.Client

	mu sync.Mutex
	// caughtUp is closed, per partition, once the reader has read what the
	// partition held when it was assigned: the second pass waits for it.
	caughtUp map[int32]chan struct{}
	target   map[int32]int64 // end offset at assignment, until reached
}

// decisionsLookback is how far back a new owner of a spans partition reads
// its decisions, before the time of the oldest record its second pass will
// read: every decision that may concern it, with a minute for delivery.
func decisionsLookback(wait time.Duration) time.Duration {
	return max(2*time.Minute, wait+time.Minute)
}

func newDecisions(cfg Config, topo topology, keeps *keepSets, m *metrics) (*decisions, error) {
	prod, err := cfg.Client.New(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return nil, err
	}
	cons, err := cfg.Client.New(kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		prod.Close()
		return nil, err
	}
	return &decisions{cfg: cfg, keeps: keeps, m: m, parts: topo.spansParts, producer: prod, consumer: cons,
		caughtUp: map[int32]chan struct{}{}, target: map[int32]int64{}}, nil
}

// produce sends the keep decision of an exemplar to the partition its trace
// was read from, or to every partition when that is unknown (an SDK's
// exemplar on a metric point). Decisions are idempotent, so an
// at-least-once producer is enough; a refused one is logged and counted.
func (d *decisions) produce(ex sample.Exemplar) {
	dec := tailsampling.Decision{TraceID: ex.TraceID, Reason: tailsampling.KeepExemplar}
	parts := []int32{ex.Partition}
	if ex.Partition < 0 {
		dec.Broadcast = true
		parts = parts[:0]
		for p := range d.parts {
			parts = append(parts, p)
		}
	}
	value := tailsampling.AppendDecision(nil, dec)
	for _, p := range parts {
		d.producer.Produce(context.Background(), &kgo.Record{Topic: d.cfg.DecisionsTopic, Partition: p, Key: ex.TraceID[:], Value: value},
			func(_ *kgo.Record, err error) {
				if err != nil {
					d.m.decisionFailures.Inc()
					d.cfg.Logger.Warn("keep decision not delivered", "trace_id", ex.TraceID.String(), "err", err)
				}
			})
	}
	d.m.decisions.Inc()
}

// assign starts reading the decisions of newly owned spans partitions, from
// the lookback before since (when the oldest record their second pass reads
// was written, or now). The returned channels close once each partition's
// reader caught up with what it held at assignment.
func (d *decisions) assign(ctx context.Context, since map[int32]time.Time) map[int32]<-chan struct{} {
	ends, err := kadm.NewClient(d.consumer).ListEndOffsets(ctx, d.cfg.DecisionsTopic)
	if err != nil {
		d.cfg.Logger.Warn("cannot list the ends of weir.decisions; the second pass starts without waiting for its decisions", "err", err)
	}
	out := map[int32]<-chan struct{}{}
	m := map[int32]kgo.Offset{}
	d.mu.Lock()
	for p, at := range since {
		m[p] = kgo.NewOffset().AfterMilli(at.Add(-decisionsLookback(d.cfg.DecisionWait)).UnixMilli())
		ch := make(chan struct{})
		d.caughtUp[p] = ch
		out[p] = ch
		end, ok := ends.Lookup(d.cfg.DecisionsTopic, p)
		if err != nil || !ok || end.Err != nil || end.Offset <= 0 {
			close(ch)
			delete(d.caughtUp, p)
			continue
		}
		d.target[p] = end.Offset
	}
	d.mu.Unlock()
	d.consumer.AddConsumePartitions(map[string]map[int32]kgo.Offset{d.cfg.DecisionsTopic: m})
	return out
}

// revoke stops reading the decisions of spans partitions this worker no
// longer owns.
func (d *decisions) revoke(parts []int32) {
	d.consumer.RemoveConsumePartitions(map[string][]int32{d.cfg.DecisionsTopic: parts})
	d.mu.Lock()
	for _, p := range parts {
		if ch := d.caughtUp[p]; ch != nil {
			close(ch)
		}
		delete(d.caughtUp, p)
		delete(d.target, p)
	}
	d.mu.Unlock()
}

func (d *decisions) run(ctx context.Context) error {
	for {
		fs := d.consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			set := d.keeps.get(fp.Partition)
			for _, r := range fp.Records {
				dec, err := tailsampling.ParseDecision(r.Value)
				if err != nil {
					d.cfg.Logger.Warn("malformed decision record skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
					continue
				}
				set.Add(dec, r.Timestamp)
			}
			d.reached(fp.Partition, fp.Records[len(fp.Records)-1].Offset+1)
		})
	}
}

// reached notes that partition p was read up to next.
func (d *decisions) reached(p int32, next int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t, ok := d.target[p]; ok && next >= t {
		close(d.caughtUp[p])
		delete(d.caughtUp, p)
		delete(d.target, p)
	}
}

func (d *decisions) close() {
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = d.producer.Flush(fctx)
	cancel()
	d.producer.Close()
	d.consumer.Close()
}
