package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// runner is the state of one Run.
type runner struct {
	c  *Consumer
	h  Handler
	cl *kgo.Client

	// mu orders the poll loop and the rebalance callbacks. BlockRebalanceOnPoll
	// already keeps them apart; the mutex makes that visible to the race
	// detector and to readers. It is never held across a poll.
	mu      sync.Mutex
	dirty   bool  // Records handled since the last successful PollDone.
	failed  error // A failed PollDone: nothing more may be committed.
	pending bool  // Dead letters produced since the last flush.
}

func (c *Consumer) newClient(r *runner) (*kgo.Client, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.cfg.brokers...),
		kgo.ConsumerGroup(c.cfg.group),
		kgo.ConsumeTopics(c.names...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.BlockRebalanceOnPoll(),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
		// Dead letters must not stall a partition forever when the topic is
		// missing or the brokers refuse them.
		kgo.RecordDeliveryTimeout(max(c.cfg.stopTimeout, time.Second)), // kgo refuses less than 1s.
		kgo.WithLogger(kgoLogger{c.log.With("component", "kgo")}),
	}
	cl, err := kgo.NewClient(append(opts, c.cfg.clientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("ingest: Kafka client for brokers %v: %w", c.cfg.brokers, err)
	}
	return cl, nil
}

func (r *runner) loop(ctx context.Context) error {
	lastDone := time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, r.c.cfg.pollInterval)
		fs := r.cl.PollFetches(pctx)
		cancel()
		// Whatever a poll returned is handled even when ctx is done: the
		// client counts it as consumed, and the final commit would skip it.
		r.mu.Lock()
		n := r.handle(ctx, fs)
		err := r.failed
		now := time.Now()
		if err == nil && ctx.Err() == nil && (n > 0 || now.Sub(lastDone) >= r.c.cfg.pollInterval) {
			lastDone = now
			if err = r.pollDone(ctx, now, true); err != nil && ctx.Err() == nil {
				r.failed = err
			}
		}
		r.mu.Unlock()
		switch {
		case ctx.Err() != nil:
			return nil // stop retries PollDone with a fresh context.
		case err != nil:
			return err
		}
		r.cl.AllowRebalance()
	}
}

// pollDone runs the Handler's PollDone and, when commit is set, commits what
// was polled. Called with mu held.
func (r *runner) pollDone(ctx context.Context, now time.Time, commit bool) error {
	if err := r.h.PollDone(ctx, now); err != nil {
		return fmt.Errorf("ingest: PollDone: %w", err)
	}
	if commit && r.dirty {
		r.commit(ctx)
	}
	r.dirty = false
	return nil
}

// commit waits for the dead letters produced so far, then commits every
// polled offset. Failures are logged and counted; the next commit retries
// (stop's commit, when the failure came from Run's context being canceled).
func (r *runner) commit(ctx context.Context) {
	if r.pending {
		fctx, cancel := context.WithTimeout(ctx, r.c.cfg.stopTimeout)
		err := r.cl.Flush(fctx)
		cancel()
		switch {
		case err == nil:
			r.pending = false
		case ctx.Err() == nil:
			// Not fatal: the failure of each record is logged and counted.
			r.c.log.Warn("ingest: dead letters not confirmed before commit", "err", err)
			r.pending = false
		}
	}
	if err := r.cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
		r.c.metrics.commitFailures.Inc()
		r.c.log.Warn("ingest: commit offsets", "group", r.c.cfg.group, "err", err)
	}
}

// stop runs after the loop: the final PollDone and commit (unless the loop
// failed), the group leave, which revokes every partition, and the close.
func (r *runner) stop(ctx context.Context, err error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.c.cfg.stopTimeout)
	defer cancel()
	r.mu.Lock()
	if err == nil && r.failed == nil {
		r.dirty = true // Commit whatever the last poll returned.
		if err = r.pollDone(sctx, time.Now(), true); err != nil {
			r.failed = err
		}
	}
	if err == nil {
		err = r.failed
	}
	r.mu.Unlock()
	r.cl.AllowRebalance()
	if lerr := r.cl.LeaveGroupContext(sctx); lerr != nil {
		r.c.log.Warn("ingest: leave group", "group", r.c.cfg.group, "err", lerr)
	}
	r.cl.Close()
	return err
}

func (r *runner) revoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	r.partitionsGone(ctx, m, true)
}

func (r *runner) lost(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	r.partitionsGone(ctx, m, false)
}

// partitionsGone makes the final PollDone (and commit, when the partitions
// are revoked rather than lost) if records were handled since the last one,
// then tells the Handler, topic by topic in name order.
func (r *runner) partitionsGone(ctx context.Context, m map[string][]int32, revoked bool) {
	topics := make([]string, 0, len(m))
	for t, ps := range m {
		if len(ps) > 0 {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return // Cooperative rebalances end every session with a revoke.
	}
	slices.Sort(topics)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil && r.dirty {
		if err := r.pollDone(ctx, time.Now(), revoked); err != nil {
			r.failed = err // Run returns it after its next poll.
			r.c.log.Error("ingest: final PollDone before losing partitions", "err", err)
		}
	}
	for _, t := range topics {
		ps := slices.Sorted(slices.Values(m[t]))
		r.h.PartitionsLost(ctx, t, ps)
		for _, p := range ps {
			r.c.metrics.lag.DeleteLabelValues(t, strconv.Itoa(int(p)))
		}
	}
}

// isPollTimeout reports errors that only say a poll ended without records.
func isPollTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
