package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdev/weir/pipeline"
)

// maxFlushWait is how long stage 2 waits between attempts to flush a failing
// sink.
const maxFlushWait = 30 * time.Second

type stage2 struct {
	cfg  Config
	topo topology
	s2   *pipeline.Stage2
	dlq  *deadLetters
	dec  *decisions
	m    *metrics
	cl   *kgo.Client
	// mu keeps rebalance callbacks and the poll loop apart.
	mu      sync.Mutex
	next    map[int32]int64 // offset after the last record read, per partition
	metaErr error           // set by assigned when committed times could not be read
}

// runStage2 merges the partials of its weir.partials partitions, closes
// windows, writes them to the sinks and, once the sinks acknowledged,
// commits the first offset that still feeds an open window.
func runStage2(ctx context.Context, cfg Config, topo topology, s2 *pipeline.Stage2, dlq *deadLetters, dec *decisions, m *metrics) error {
	for {
		err := stage2Session(ctx, cfg, topo, s2, dlq, dec, m)
		if !errors.Is(err, errRestart) {
			return err
		}
		cfg.Logger.Warn("stage 2 session restarted: committed close times were unreadable")
	}
}

// stage2Session is one stage-2 consumer: it ends with ctx, or with
// errRestart when a partition could not be resumed safely.
func stage2Session(ctx context.Context, cfg Config, topo topology, s2 *pipeline.Stage2, dlq *deadLetters, dec *decisions, m *metrics) error {
	s := &stage2{cfg: cfg, topo: topo, s2: s2, dlq: dlq, dec: dec, m: m, next: map[int32]int64{}}
	cl, err := cfg.Client.New(
		kgo.ConsumerGroup(cfg.Group+".partials"),
		kgo.ConsumeTopics(cfg.PartialsTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.BlockRebalanceOnPoll(),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
	)
	if err != nil {
		return err
	}
	s.cl = cl
	defer func() {
		// Graceful: what closed is written and committed by the last loop;
		// leaving the group hands the rest to the other nodes at once.
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cl.AllowRebalance()
		_ = cl.LeaveGroupContext(lctx)
		cl.Close()
	}()
	for {
		pctx, cancel := context.WithTimeout(ctx, cfg.PollInterval)
		fs := cl.PollFetches(pctx)
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
		fs.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				s.cfg.Logger.Warn("stage 2 fetch", "topic", topic, "partition", part, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if !s.s2.Owns(r.Partition) {
				return
			}
			s.next[r.Partition] = r.Offset + 1
			if err := s.s2.Handle(r.Partition, r.Offset, r.Value, now); err != nil {
				s.dlq.produce(r, err)
			}
		})
		s.s2.Close(now, s.dec.produce)
		err := s.flushAndCommit(ctx)
		s.mu.Unlock()
		if err != nil {
			return err
		}
		cl.AllowRebalance()
	}
}

// flushAndCommit waits until the sinks and the dead-letter producer
// acknowledged everything, retrying with backoff while they fail (a sink
// down, credentials refused: nothing is dropped, and nothing committed),
// then commits. It returns only ctx's error.
func (s *stage2) flushAndCommit(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := errors.Join(s.s2.Flush(ctx), s.dlq.flush(ctx))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.m.sinkFaults.WithLabelValues("2").Inc()
		s.cfg.Ready("series_sinks", false, err.Error())
		wait := backoff(attempt, maxFlushWait)
		s.cfg.Logger.Warn("stage 2: sinks did not acknowledge; not committing, retrying", "err", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
	}
	s.cfg.Ready("series_sinks", true, "")
	s.commit(ctx, nil)
	return nil
}

// commit commits the partitions in only (all owned when nil). A failure is
// not fatal: the next commit covers it, and a crash before it replays more,
// which the idempotent sinks absorb.
func (s *stage2) commit(ctx context.Context, only []int32) {
	offsets := map[int32]kgo.EpochOffset{}
	meta := map[int32]string{}
	parts := only
	if parts == nil {
		for q := range s.next {
			parts = append(parts, q)
		}
	}
	for _, q := range parts {
		off, ct, ok := s.s2.Position(q, s.next[q])
		if !ok {
			continue
		}
		offsets[q] = kgo.EpochOffset{Epoch: -1, Offset: off}
		meta[q] = commitMeta(ct)
	}
	if len(offsets) == 0 {
		return
	}
	cctx := kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			for j := range req.Topics[i].Partitions {
				rp := &req.Topics[i].Partitions[j]
				if md, ok := meta[rp.Partition]; ok {
					rp.Metadata = &md
				}
			}
		}
		return nil
	})
	var cerr error
	s.cl.CommitOffsetsSync(cctx, map[string]map[int32]kgo.EpochOffset{s.cfg.PartialsTopic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, rp := range t.Partitions {
					if rp.ErrorCode != 0 {
						cerr = fmt.Errorf("partition %d: error code %d", rp.Partition, rp.ErrorCode)
					}
				}
			}
		})
	if cerr != nil && ctx.Err() == nil {
		s.m.commitFails.WithLabelValues("2").Inc()
		s.cfg.Logger.Warn("stage 2 commit", "err", cerr)
	}
}

func (s *stage2) assigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
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
	now := time.Now()
	for _, q := range m[s.cfg.PartialsTopic] {
		cp := c[q]
		s.s2.Assigned(q, cp.meta, cp.hasMeta, s.topo.sources(), now)
		s.next[q] = 0
	}
	s.cfg.Ready("stage2", true, "")
}

func (s *stage2) revoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := m[s.cfg.PartialsTopic]
	s.commit(ctx, parts)
	s.drop(parts)
}

func (s *stage2) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop(m[s.cfg.PartialsTopic])
}

func (s *stage2) drop(parts []int32) {
	for _, q := range parts {
		s.s2.Revoked(q)
		delete(s.next, q)
	}
}
