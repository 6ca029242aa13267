package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// decisions carries keep decisions from stage 2 to the owner of the spans
// partition a trace was read from: weir.decisions has one partition per spans
// partition, and the owner of spans partition p reads decisions partition p.
type decisions struct {
	p        *Pipeline
	cfg      ClusterConfig
	producer *kgo.Client
	consumer *kgo.Client

	// lookback is decisionsLookback of the buffer's decision wait.
	lookback time.Duration
}

// decisionsLookback is how far back a new owner of a spans partition reads
// its decisions, for a buffer that decides traces wait after their first
// spans: every decision that may still concern a trace it buffers again from
// the committed offset, with a minute for delivery.
// Older decisions concern traces that are decided or gone anyway. (A fixed
// two minutes lost the exemplar decisions of traces buffered under a longer
// decision wait.)
func decisionsLookback(wait time.Duration) time.Duration {
	return max(2*time.Minute, wait+time.Minute)
}

func newDecisions(p *Pipeline, cfg ClusterConfig) (*decisions, error) {
	prod, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5 * time.Millisecond),
	}, cfg.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("pipeline: decisions producer: %w", err)
	}
	cons, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)...)
	if err != nil {
		prod.Close()
		return nil, fmt.Errorf("pipeline: decisions consumer: %w", err)
	}
	return &decisions{p: p, cfg: cfg, producer: prod, consumer: cons, lookback: decisionsLookback(p.buffer.DecisionWait())}, nil
}

// produce sends a keep decision to the partition that buffers the trace. A
// decision is idempotent, so the at-least-once producer is enough.
func (d *decisions) produce(ex sample.Exemplar, now time.Time) {
	if ex.Partition < 0 {
		// An SDK exemplar of a metric point: which node buffers its trace
		// is unknown; keep it here if it is here.
		d.p.buffer.Keep(ex.TraceID, tailsampling.KeepExemplar, now)
		return
	}
	id := ex.TraceID
	d.producer.Produce(context.Background(), &kgo.Record{
		Topic: d.cfg.DecisionsTopic, Partition: ex.Partition, Key: id[:], Value: id[:],
	}, func(_ *kgo.Record, err error) {
		if err != nil {
			d.p.log.Warn("decision not delivered", "trace_id", id.String(), "err", err)
		}
	})
	d.p.m.decisions.Inc()
}

// assign starts reading the decisions of newly owned spans partitions, from
// the lookback before now.
func (d *decisions) assign(parts []int32) {
	at := kgo.NewOffset().AfterMilli(time.Now().Add(-d.lookback).UnixMilli())
	m := map[int32]kgo.Offset{}
	for _, p := range parts {
		m[p] = at
	}
	d.consumer.AddConsumePartitions(map[string]map[int32]kgo.Offset{d.cfg.DecisionsTopic: m})
}

// revoke stops reading the decisions of spans partitions this process no
// longer owns. The buffer released their undecided traces (Buffer.Release):
// the new owner buffers them again from the committed offset and reads
// their decisions from the lookback. (A trace decided and exported here
// after that offset is buffered, and may be exported, again; Jaeger's query
// service removes identical spans.)
func (d *decisions) revoke(parts []int32) {
	d.consumer.RemoveConsumePartitions(map[string][]int32{d.cfg.DecisionsTopic: parts})
}

func (d *decisions) run(ctx context.Context) error {
	for {
		fs := d.consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			var id sample.TraceID
			if len(r.Value) != len(id) {
				d.p.log.Warn("malformed decision record", "partition", r.Partition, "offset", r.Offset)
				return
			}
			copy(id[:], r.Value)
			d.p.buffer.Keep(id, tailsampling.KeepExemplar, now)
		})
	}
}

func (d *decisions) close() {
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = d.producer.Flush(fctx)
	cancel()
	d.producer.Close()
	d.consumer.Close()
}
