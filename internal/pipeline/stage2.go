package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/sinks/sendqueue"
)

// Flusher is implemented by series sinks that queue: Flush returns once
// everything enqueued before it was acknowledged. Stage 2 commits its offsets
// only after that.
type Flusher interface {
	Flush(ctx context.Context) error
}

type stage2 struct {
	p    *Pipeline
	cfg  ClusterConfig
	topo topology
	cl   *kgo.Client
	// mu keeps rebalance callbacks and the poll loop apart.
	mu      sync.Mutex
	mergers map[int32]*aggregator.Merger
	next    map[int32]int64 // offset after the last record read, per partition
	metaErr error           // set by assigned when committed times could not be read
}

// runStage2 merges the partials of its weir.partials partitions, closes
// windows, writes them to the sinks and, once the sinks acknowledged, commits
// the first offset that still feeds an open window.
func (p *Pipeline) runStage2(ctx context.Context, cfg ClusterConfig, topo topology) error {
	for {
		err := p.stage2Session(ctx, cfg, topo)
		if !errors.Is(err, errRestart) {
			return err
		}
		p.log.Warn("stage 2 session restarted: committed close times were unreadable")
	}
}

// stage2Session is one stage-2 consumer: it ends with ctx, on a sink error,
// or with errRestart when a partition could not be resumed safely.
func (p *Pipeline) stage2Session(ctx context.Context, cfg ClusterConfig, topo topology) error {
	s := &stage2{p: p, cfg: cfg, topo: topo, mergers: map[int32]*aggregator.Merger{}, next: map[int32]int64{}}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group + ".partials"),
		kgo.ConsumeTopics(cfg.PartialsTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.BlockRebalanceOnPoll(),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
	}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("pipeline: stage 2 client: %w", err)
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
				s.p.log.Warn("stage 2 fetch", "topic", topic, "partition", part, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { s.handle(r, now) })
		err := s.closeAndCommit(ctx, now)
		s.mu.Unlock()
		if err != nil {
			return err
		}
		cl.AllowRebalance()
	}
}

func (s *stage2) handle(r *kgo.Record, now time.Time) {
	m := s.mergers[r.Partition]
	if m == nil {
		return // not ours any more
	}
	s.next[r.Partition] = r.Offset + 1
	rec, err := s.p.agg.Decode(r.Value)
	if err != nil {
		s.p.m.deadLetters.WithLabelValues(r.Topic).Inc()
		s.p.log.Error("stage 2: undecodable partials record skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
		return
	}
	if rec.IsWatermark {
		m.Watermark(rec.Source, rec.Watermark)
		return
	}
	m.MergeAt(*rec.Partial, now, r.Offset)
}

// closeAndCommit emits the windows that closed, waits for the sinks, then
// commits. A sink error stops stage 2 (the offsets stay where they were, so
// nothing is lost).
func (s *stage2) closeAndCommit(ctx context.Context, now time.Time) error {
	for q, m := range s.mergers {
		m.Close(now, func(ser aggregator.Series) { s.p.collect(ser, now) })
		qs := strconv.Itoa(int(q))
		s.p.m.stage2Open.WithLabelValues(qs).Set(float64(m.Open()))
		oldest, behind := m.Waiting()
		s.p.m.stage2Behind.WithLabelValues(qs).Set(float64(len(behind)))
		if oldest != 0 {
			s.p.m.stage2Oldest.WithLabelValues(qs).Set(float64(oldest) / 1000)
		}
	}
	if err := s.p.drainSeries(ctx); err != nil {
		return err
	}
	for _, sink := range s.p.cfg.Series {
		if f, ok := sink.(Flusher); ok {
			err := f.Flush(ctx)
			switch {
			case err == nil:
			case errors.Is(err, sendqueue.ErrPermanent):
				// The storage refused samples for good (for example a
				// replayed window older than what it already holds, when it
				// takes no out-of-order samples; configuration faults such
				// as a 401 are retried by the sink). Retrying cannot help and
				// stopping would stall every window behind them: the sink
				// counted them, and the offsets move on.
				s.p.log.Warn("stage 2: samples rejected by the storage", "err", err)
			default:
				return fmt.Errorf("pipeline: stage 2 sink flush: %w", err)
			}
		}
	}
	return s.commit(ctx, nil)
}

// commit commits the partitions in only (all owned when nil).
func (s *stage2) commit(ctx context.Context, only []int32) error {
	offsets := map[int32]kgo.EpochOffset{}
	meta := map[int32]string{}
	parts := only
	if parts == nil {
		for q := range s.mergers {
			parts = append(parts, q)
		}
	}
	for _, q := range parts {
		m, next := s.mergers[q], s.next[q]
		if m == nil || next <= 0 {
			continue
		}
		offsets[q] = kgo.EpochOffset{Epoch: -1, Offset: m.CommitPoint(next)}
		meta[q] = commitMeta(m.ClosedThrough())
	}
	if len(offsets) == 0 {
		return nil
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
		// Not fatal: the next commit covers it; a crash before it replays
		// more, which the idempotent sinks absorb.
		s.p.m.commitFails.WithLabelValues("2").Inc()
		s.p.log.Warn("stage 2 commit", "err", cerr)
	}
	return nil
}

func (s *stage2) assigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	tm, err := committedMeta(ctx, cl, s.cfg.Group+".partials", s.cfg.PartialsTopic)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		// Merging without the closed-through times would emit replayed
		// windows twice: the session starts over instead.
		s.metaErr = err
		s.p.log.Error("stage 2: cannot read committed close times; restarting the session", "err", err)
		return
	}
	for _, q := range m[s.cfg.PartialsTopic] {
		mg := s.p.agg.NewMerger()
		mg.Expect(s.topo.sources()...)
		if ct, ok := tm[q]; ok {
			mg.Restore(ct)
		}
		s.mergers[q] = mg
		s.next[q] = 0
	}
}

func (s *stage2) revoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := m[s.cfg.PartialsTopic]
	if err := s.commit(ctx, parts); err != nil {
		s.p.log.Warn("stage 2 commit on revoke", "err", err)
	}
	s.drop(parts)
}

func (s *stage2) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop(m[s.cfg.PartialsTopic])
}

func (s *stage2) drop(parts []int32) {
	for _, q := range parts {
		delete(s.mergers, q)
		delete(s.next, q)
		qs := strconv.Itoa(int(q))
		s.p.m.stage2Open.DeleteLabelValues(qs)
		s.p.m.stage2Behind.DeleteLabelValues(qs)
		s.p.m.stage2Oldest.DeleteLabelValues(qs)
	}
}
