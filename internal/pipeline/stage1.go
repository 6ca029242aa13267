package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/ingest"
)

// errRestart ends a stage-1 session whose transaction aborted: the
// in-memory windows may hold points of records that will be polled again, so
// all state is dropped and rebuilt from the committed offsets.
var errRestart = errors.New("stage 1 transaction aborted")

// runStage1 runs stage-1 sessions until ctx ends, starting a fresh one after
// every abort.
func (p *Pipeline) runStage1(ctx context.Context, cfg ClusterConfig, topo topology, dec *decisions) error {
	for {
		err := p.stage1Session(ctx, cfg, topo, dec)
		if !errors.Is(err, errRestart) {
			return err
		}
		p.m.aborts.Inc()
		p.log.Warn("stage 1 transaction aborted; replaying from the committed offsets")
		p.resetStage1()
	}
}

// resetStage1 drops every stage-1 window and conversion state.
func (p *Pipeline) resetStage1() {
	for id := range p.agg.Partitions() {
		p.agg.DropPartition(id)
	}
	clear(p.metricConv)
}

type stage1 struct {
	p    *Pipeline
	cfg  ClusterConfig
	topo topology
	dec  *decisions
	sess *kgo.GroupTransactSession
	// mu keeps rebalance callbacks (on the client's goroutine) and the
	// poll loop apart.
	mu      sync.Mutex
	owned   map[string]map[int32]bool
	sentWM  map[int32]int64
	metaErr error // set by assigned when committed times could not be read
	lastWM  time.Time
	scratch []byte
}

func (p *Pipeline) stage1Session(ctx context.Context, cfg ClusterConfig, topo topology, dec *decisions) error {
	s := &stage1{p: p, cfg: cfg, topo: topo, dec: dec, owned: map[string]map[int32]bool{}, sentWM: map[int32]int64{}}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.MetricsTopic, cfg.SpansTopic),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(time.Minute),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.gone),
		kgo.OnPartitionsLost(s.gone),
	}, cfg.ClientOpts...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("pipeline: stage 1 client: %w", err)
	}
	s.sess = sess
	defer sess.Close()
	for {
		pctx, cancel := context.WithTimeout(ctx, cfg.PollInterval)
		fs := sess.PollFetches(pctx)
		cancel()
		s.mu.Lock()
		metaErr := s.metaErr
		s.mu.Unlock()
		if metaErr != nil && ctx.Err() == nil {
			return errRestart
		}
		// On shutdown one last transaction takes what the last poll returned
		// and hands on what is due: flush what can be flushed, then commit.
		stopping := ctx.Err() != nil
		ectx, ecancel := ctx, context.CancelFunc(func() {})
		if stopping {
			ectx, ecancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		}
		committed, err := s.transaction(ectx, fs)
		if err == nil && committed {
			err = p.drainTraces(ectx)
		}
		ecancel()
		switch {
		case stopping:
			return ctx.Err()
		case err != nil:
			return err
		case !committed:
			return errRestart
		}
	}
}

// transaction is one stage-1 transaction: the poll's records are decoded
// and aggregated, due windows are produced as partials, and the offsets that
// replay the still-open windows are committed with them.
func (s *stage1) transaction(ctx context.Context, fs kgo.Fetches) (bool, error) {
	if err := s.sess.Begin(); err != nil {
		return false, fmt.Errorf("pipeline: stage 1 begin transaction: %w", err)
	}
	s.mu.Lock()
	now := time.Now()
	fs.EachError(func(topic string, part int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			s.p.log.Warn("stage 1 fetch", "topic", topic, "partition", part, "err", err)
		}
	})
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		// A poll that ends by its timeout carries an error entry with no
		// topic and partition -1: it is no input partition.
		if fp.Topic != "" && fp.Partition >= 0 {
			s.handle(fp, now)
		}
	})
	s.advance(now)
	s.p.buffer.Tick(now)
	s.mu.Unlock()
	committed, err := s.sess.End(kgo.PreTxnCommitFnContext(ctx, s.commitOffsets), kgo.TryCommit)
	if err != nil {
		s.p.log.Warn("stage 1 end transaction", "err", err)
	}
	return committed, nil
}

// handle decodes and aggregates one partition's records; a record that does
// not decode goes to the dead-letter topic inside the transaction.
func (s *stage1) handle(fp kgo.FetchTopicPartition, now time.Time) {
	p := s.p
	metrics := fp.Topic == s.cfg.MetricsTopic
	part := p.agg.Partition(aggPartition(fp.Topic, metrics, fp.Partition), now)
	if n := len(fp.Records); n > 0 {
		lag := fp.HighWatermark - fp.Records[n-1].Offset - 1
		p.m.lag.WithLabelValues(fp.Topic, strconv.Itoa(int(fp.Partition))).Set(float64(max(lag, 0)))
	}
	fp.EachRecord(func(r *kgo.Record) {
		part.SetOffset(r.Offset)
		src := ingest.Source{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp, Key: r.Key, Value: r.Value,
			Tenant: s.cfg.tenant(r)}
		var err error
		if metrics && s.cfg.MetricsEncoding == ingest.EncodingProto {
			err = p.HandleRawMetrics(src)
		} else if metrics {
			md, derr := ingest.DecodeMetrics(s.cfg.MetricsEncoding, r.Value)
			if err = derr; err == nil {
				p.HandleMetrics(src, md)
			}
		} else if p.cfg.TracesEncoding == ingest.EncodingProto {
			// pdata decodes the record only if it must be split by trace.
			err = p.handleProtoTraces(src, func() (ptrace.Traces, error) { return ingest.DecodeTraces(ingest.EncodingProto, r.Value) })
		} else {
			td, derr := ingest.DecodeTraces(p.cfg.TracesEncoding, r.Value)
			if err = derr; err == nil {
				p.HandleTraces(src, td)
			}
		}
		if err != nil {
			p.m.deadLetters.WithLabelValues(r.Topic).Inc()
			s.sess.Produce(context.Background(), &kgo.Record{
				Topic: s.cfg.DeadLetterTopic, Partition: 0, Key: r.Key, Value: r.Value,
				Headers: append(append([]kgo.RecordHeader(nil), r.Headers...),
					kgo.RecordHeader{Key: ingest.HeaderError, Value: []byte(err.Error())},
					kgo.RecordHeader{Key: ingest.HeaderTopic, Value: []byte(r.Topic)},
					kgo.RecordHeader{Key: ingest.HeaderPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
					kgo.RecordHeader{Key: ingest.HeaderOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))}),
			}, nil)
		}
	})
}

// advance hands on the windows whose end the watermarks passed as partial
// records, and tells every partials partition the watermarks.
func (s *stage1) advance(now time.Time) {
	wms := map[int32]int64{}
	s.p.agg.Advance(now, func(pt aggregator.Partial) {
		s.scratch = aggregator.EncodePartial(s.scratch[:0], pt)
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], pt.Target.Key)
		s.sess.Produce(context.Background(), &kgo.Record{
			Topic: s.cfg.PartialsTopic, Partition: int32(pt.Target.Key % uint64(s.topo.partialsParts)),
			Key: key[:], Value: append([]byte(nil), s.scratch...),
		}, nil)
		s.p.m.partials.Inc()
	}, func(id int32, wm int64) { wms[id] = wm })
	// Watermarks go out when they moved, and at least every second so that a
	// restarted stage 2 learns them again.
	periodic := now.Sub(s.lastWM) >= time.Second
	if periodic {
		s.lastWM = now
	}
	for id, wm := range wms {
		if old, ok := s.sentWM[id]; ok && old == wm && !periodic {
			continue
		}
		s.sentWM[id] = wm
		rec := aggregator.EncodeWatermark(nil, id, wm)
		for q := range s.topo.partialsParts {
			s.sess.Produce(context.Background(), &kgo.Record{Topic: s.cfg.PartialsTopic, Partition: q, Value: rec}, nil)
		}
	}
}

// commitOffsets rewrites the transaction's offset commit: each owned
// partition commits the first offset that still feeds an open window, with
// its flushed-through watermark as metadata (see aggregator.Partition); a
// spans partition commits no later than the first record of its oldest
// undecided buffered trace (exemplars.Buffer.Oldest), so that whoever reads
// the partition next buffers that trace again if this process dies. The
// replay skips the points of windows already handed on.
func (s *stage1) commitOffsets(req *kmsg.TxnOffsetCommitRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	type tp struct {
		topic string
		part  int32
	}
	done := map[tp]bool{}
	set := func(topic string, rp *kmsg.TxnOffsetCommitRequestTopicPartition) bool {
		part := s.p.agg.Partitions()[aggPartition(topic, topic == s.cfg.MetricsTopic, rp.Partition)]
		if part == nil {
			return false
		}
		off := part.CommitPoint()
		if off < 0 {
			return false
		}
		if topic == s.cfg.SpansTopic {
			if o, ok := s.p.buffer.Oldest(rp.Partition); ok && o < off {
				off = o
			}
		}
		meta := commitMeta(part.Watermark())
		rp.Offset, rp.LeaderEpoch, rp.Metadata = off, -1, &meta
		return true
	}
	for i := range req.Topics {
		t := &req.Topics[i]
		kept := t.Partitions[:0]
		for j := range t.Partitions {
			if set(t.Topic, &t.Partitions[j]) {
				kept = append(kept, t.Partitions[j])
				done[tp{t.Topic, t.Partitions[j].Partition}] = true
			}
		}
		t.Partitions = kept
	}
	// Partitions with nothing new polled still move their commit point when
	// their windows close.
	for topic, parts := range s.owned {
		var extra []kmsg.TxnOffsetCommitRequestTopicPartition
		for part := range parts {
			if done[tp{topic, part}] {
				continue
			}
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition = part
			if set(topic, &rp) {
				extra = append(extra, rp)
			}
		}
		if len(extra) == 0 {
			continue
		}
		found := false
		for i := range req.Topics {
			if req.Topics[i].Topic == topic {
				req.Topics[i].Partitions = append(req.Topics[i].Partitions, extra...)
				found = true
			}
		}
		if !found {
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = topic
			rt.Partitions = extra
			req.Topics = append(req.Topics, rt)
		}
	}
	return nil
}

// assigned restores the flushed-through time of newly owned partitions and
// starts reading their decisions.
func (s *stage1) assigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	var err error
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for topic, parts := range m {
		if s.owned[topic] == nil {
			s.owned[topic] = map[int32]bool{}
		}
		tm, terr := committedMeta(ctx, cl, s.cfg.Group, topic)
		if terr != nil {
			err = terr
		}
		for _, part := range parts {
			s.owned[topic][part] = true
			// Consumption of a new assignment starts at the committed offset:
			// state still held for the partition is stale, start it afresh.
			id := aggPartition(topic, topic == s.cfg.MetricsTopic, part)
			s.p.agg.DropPartition(id)
			if topic == s.cfg.MetricsTopic {
				delete(s.p.metricConv, part)
			}
			agg := s.p.agg.Partition(id, now)
			if ft, ok := tm[part]; ok {
				agg.Restore(ft)
			}
		}
		if topic == s.cfg.SpansTopic {
			s.dec.assign(parts)
		}
	}
	if err != nil {
		// Consuming without the flushed-through times would emit replayed
		// windows twice: the session starts over instead.
		s.metaErr = err
		s.p.log.Error("stage 1: cannot read committed watermarks; restarting the session", "err", err)
	}
	s.p.m.rebalances.Inc()
}

// gone drops the state of revoked or lost partitions: their next owner
// replays them from the committed offsets, undecided buffered traces
// included (see commitOffsets), so the buffer releases those.
func (s *stage1) gone(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range m {
		metrics := topic == s.cfg.MetricsTopic
		for _, part := range parts {
			delete(s.owned[topic], part)
			s.p.m.lag.DeleteLabelValues(topic, strconv.Itoa(int(part)))
			s.p.agg.DropPartition(aggPartition(topic, metrics, part))
			if metrics {
				delete(s.p.metricConv, part)
			}
		}
		if topic == s.cfg.SpansTopic {
			s.dec.revoke(parts)
			for _, part := range parts {
				s.p.buffer.Release(part)
				delete(s.p.spansBuffered, part)
			}
		}
	}
}
