package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdev/weir/pipeline"
)

// maxFlushWait is how long stage 2 waits between attempts to flush a failing
// sink.
const maxFlushWait = 30 * time.Second

// stage2 consumes weir.partials. Each poll: the records are merged, the
// windows that closed are written to the sinks and, once the sinks
// acknowledged them, one transaction commits the offsets (the first that
// still feeds an open window, with the closed-through time) together with
// the running totals of the cumulative series (the state topic) and the
// poll's dead letters. A replay from those offsets rebuilds the open windows
// and continues from exactly those totals.
type stage2 struct {
	cfg  Config
	topo topology
	s2   *pipeline.Stage2
	dec  *decisions
	m    *metrics
	txn  *txn
	// mu keeps rebalance callbacks and the poll loop apart.
	mu      sync.Mutex
	owned   map[string]map[int32]bool
	next    map[int32]int64 // offset after the last record read, per partition
	metaErr error           // set by assigned when a partition could not be resumed
	dead    []*kgo.Record   // dead letters of the poll, produced in its transaction
}

// runStage2 runs stage-2 sessions until ctx ends, starting a fresh one
// after an end of transaction that failed (an abort rewinds in place, see
// stage2.rewind).
func runStage2(ctx context.Context, cfg Config, topo topology, s2 *pipeline.Stage2, dec *decisions, m *metrics) error {
	for {
		err := stage2Session(ctx, cfg, topo, s2, dec, m)
		if !errors.Is(err, errRestart) {
			return err
		}
		cfg.Logger.Warn("stage 2 transaction aborted; replaying from the committed offsets and state")
		for q := range topo.partialsParts {
			s2.Revoked(q)
		}
	}
}

func stage2Session(ctx context.Context, cfg Config, topo topology, s2 *pipeline.Stage2, dec *decisions, m *metrics) error {
	s := &stage2{cfg: cfg, topo: topo, s2: s2, dec: dec, m: m, owned: map[string]map[int32]bool{}, next: map[int32]int64{}}
	t, err := openTxn(cfg, topo, "stage 2", cfg.Group+".partials", cfg.TransactionalID+".2", s.assigned, s.gone, cfg.PartialsTopic)
	if err != nil {
		return err
	}
	s.txn = t
	t.fails = m.commitFails.WithLabelValues("2")
	sess := t.sess
	defer t.close(ctx)
	for {
		pctx, cancel := context.WithTimeout(ctx, cfg.PollInterval)
		fs := sess.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.mu.Lock()
		if s.metaErr != nil {
			s.mu.Unlock()
			return errRestart
		}
		now := time.Now()
		s.txn.logFetchErrors("stage 2", fs)
		fs.EachRecord(func(r *kgo.Record) {
			if !s.s2.Owns(r.Partition) {
				return
			}
			s.next[r.Partition] = r.Offset + 1
			if err := s.s2.Handle(r.Partition, r.Offset, r.Value, now); err != nil {
				s.m.deadLetters.WithLabelValues(r.Topic).Inc()
				s.cfg.Logger.Warn("partials record does not decode; sent to the dead-letter topic", "partition", r.Partition, "offset", r.Offset, "err", err)
				s.dead = append(s.dead, deadLetter(s.cfg.DeadLetterTopic, s.topo.dlqMaxBytes, r, err))
			}
		})
		s.s2.Close(now, s.dec.produce)
		s.mu.Unlock()
		committed, err := s.flushAndCommit(ctx)
		switch {
		case err != nil:
			return err
		case !committed && s.txn.endFailed:
			return errRestart // the transaction may still be open
		case !committed:
			s.rewind(ctx)
		}
	}
}

// rewind rebuilds every owned partition's windows and running totals from
// the committed offsets, close times and state, in the group (see
// stage1.rewind).
func (s *stage2) rewind(ctx context.Context) {
	s.m.aborts2.Inc()
	s.cfg.Logger.Warn("stage 2 transaction aborted; replaying from the committed offsets and state")
	cl := s.txn.sess.Client()
	s.mu.Lock()
	owned := ownedLists(s.owned)
	s.dead = s.dead[:0]
	s.mu.Unlock()
	s.gone(ctx, cl, owned)
	s.assigned(ctx, cl, owned)
}

// flushAndCommit waits until the sinks acknowledged everything, retrying
// with backoff while they fail (a sink down, credentials refused: nothing is
// dropped, nothing committed), then commits in one transaction. It returns
// ctx's error only; committed is false when the transaction aborted. It runs
// without the lock: the session's End waits for rebalance callbacks, which
// take it.
func (s *stage2) flushAndCommit(ctx context.Context) (committed bool, err error) {
	for attempt := 0; ; attempt++ {
		err := s.s2.Flush(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		s.m.sinkFaults.WithLabelValues("2").Inc()
		s.cfg.Ready("series_sinks", false, err.Error())
		wait := backoff(attempt, maxFlushWait)
		s.cfg.Logger.Warn("stage 2: sinks did not acknowledge; not committing, retrying", "err", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return false, ctx.Err()
		}
	}
	s.cfg.Ready("series_sinks", true, "")
	if err := s.txn.begin("stage 2"); err != nil {
		return false, err
	}
	s.mu.Lock()
	for _, r := range s.dead {
		s.txn.produce(r)
	}
	s.dead = s.dead[:0]
	s.s2.TakeState(func(q int32, key, value []byte) {
		s.txn.produce(&kgo.Record{Topic: s.cfg.StateTopic, Partition: q, Key: key, Value: value})
	})
	s.mu.Unlock()
	return s.txn.end(ctx, "stage 2", s.commitOffsets)
}

// commitOffsets sets the transaction's offset commit of each owned
// weir.partials partition to pipeline.Stage2.Position, with its closed-through
// time as metadata.
func (s *stage2) commitOffsets(req *kmsg.TxnOffsetCommitRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rewriteTxnCommit(req, s.owned, func(_ string, q int32) (int64, int64, bool) {
		return s.s2.Position(q, s.next[q])
	})
	return nil
}

// assigned resumes newly owned partitions: their closed-through time from
// the committed metadata, their running totals from the state topic.
func (s *stage2) assigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	parts := m[s.cfg.PartialsTopic]
	c, err := fetchCommitted(ctx, cl, s.cfg.Group+".partials", s.cfg.PartialsTopic)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		// Merging without the closed-through times would emit replayed
		// windows twice: the session starts over instead.
		s.metaErr = err
		s.cfg.Logger.Error("stage 2: cannot read committed close times; restarting the session", "err", err)
		return
	}
	if s.owned[s.cfg.PartialsTopic] == nil {
		s.owned[s.cfg.PartialsTopic] = map[int32]bool{}
	}
	now := time.Now()
	for _, q := range parts {
		cp := c[q]
		s.s2.Assigned(q, cp.meta, cp.hasMeta, s.topo.sources(), now)
		s.owned[s.cfg.PartialsTopic][q] = true
		s.next[q] = 0
	}
	if len(parts) > 0 {
		if err := s.restore(ctx, parts); err != nil {
			s.metaErr = err
			s.cfg.Logger.Error("stage 2: cannot read the running totals; restarting the session", "err", err)
			return
		}
	}
	s.cfg.Ready("stage2", true, "")
}

// restore reads the state topic's partitions parts to their end into stage
// 2: the running totals as the transactions of the last owners committed
// them.
func (s *stage2) restore(ctx context.Context, parts []int32) error {
	cl, err := s.cfg.Client.New(kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, s.cfg.StateTopic)
	if err != nil {
		return fmt.Errorf("cluster: list the ends of %s: %w", s.cfg.StateTopic, err)
	}
	want := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	for _, q := range parts {
		if end, ok := ends.Lookup(s.cfg.StateTopic, q); ok && end.Err == nil && end.Offset > 0 {
			want[q] = end.Offset
			from[q] = kgo.NewOffset().AtStart()
		}
	}
	if len(want) == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{s.cfg.StateTopic: from})
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for len(want) > 0 {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			return fmt.Errorf("cluster: read %s: %w", s.cfg.StateTopic, rctx.Err())
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("cluster: read %s: %w", s.cfg.StateTopic, ferr)
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			for _, r := range fp.Records {
				if err := s.s2.Restore(fp.Partition, r.Key, r.Value); err != nil {
					s.cfg.Logger.Warn("malformed state record skipped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
				}
			}
			if n := len(fp.Records); n > 0 && fp.Records[n-1].Offset+1 >= want[fp.Partition]-1 {
				// The last offset may be the transaction's commit marker.
				delete(want, fp.Partition)
			}
		})
	}
	return nil
}

func (s *stage2) gone(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range m[s.cfg.PartialsTopic] {
		s.s2.Revoked(q)
		delete(s.next, q)
		delete(s.owned[s.cfg.PartialsTopic], q)
	}
}
