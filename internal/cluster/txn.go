package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txn is what stage 1 and stage 2 share of their Kafka transactions: every
// record produced in one is watched, and a refusal of any aborts it (its
// input is then read again), so that nothing the transaction should carry is
// committed without it.
type txn struct {
	sess *kgo.GroupTransactSession
	id   string // the transactional ID
	log  *slog.Logger
	// fails counts the transactions whose end failed (weir_commit_failures_total).
	fails prometheus.Counter
	// endFailed is set when the last end failed, or aborted because a
	// record was refused, rather than aborted on a rebalance: the
	// transaction may still be open, or the producer fenced, and only a new
	// session clears it.
	endFailed bool
	// ended is set once a transaction of the session ended; produced
	// while the current one produced a record.
	ended, produced bool

	mu     sync.Mutex
	failed error
}

// openTxn opens the transactional session of a stage: group consumes
// topics read-committed, transactions under id, the partitions' comings and
// goings reported to assigned and gone.
func openTxn(cfg Config, topo topology, stage, group, id string, assigned, gone func(context.Context, *kgo.Client, map[string][]int32), topics ...string) (*txn, error) {
	sess, err := kgo.NewGroupTransactSession(cfg.Client.opts(
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.TransactionalID(id),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(transactionTimeout),
		batchBytes(cfg.DeadLetterTopic, topo.dlqMaxBytes),
		kgo.OnPartitionsAssigned(assigned),
		kgo.OnPartitionsRevoked(gone),
		kgo.OnPartitionsLost(gone),
	)...)
	if err != nil {
		return nil, fmt.Errorf("cluster: %s client for %v: %w", stage, cfg.Client.Brokers, err)
	}
	return &txn{sess: sess, id: id, log: cfg.Logger}, nil
}

// leaveTimeout bounds how long a closing session waits to leave its group.
// Leaving waits for a join under way, and a join waits for every member
// the group knows, a killed one until its session timeout: a shutdown that
// waited for it took 43 s (longer than Kubernetes' default grace period).
// A session that could not leave in time goes on closing in the background;
// if the process exits first, the group drops it by its session timeout.
const leaveTimeout = 5 * time.Second

// close leaves the group and closes the session's client. On shutdown (ctx
// ended) it waits at most leaveTimeout. A session closed to start a new one
// is closed whole first: a client still closing in the background would
// end its transaction with a bumped epoch and fence its successor, which
// then restarts and fences the next, and so on.
func (t *txn) close(ctx context.Context) {
	if ctx.Err() == nil {
		t.sess.Close()
		return
	}
	done := make(chan struct{})
	go func() {
		t.sess.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(leaveTimeout):
		t.log.Info("the group is rebalancing: leaving it in the background", "waited", leaveTimeout)
	}
}

// logFetchErrors logs the errors of a poll but the end of its timeout.
func (t *txn) logFetchErrors(stage string, fs kgo.Fetches) {
	fs.EachError(func(topic string, part int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			t.log.Warn(stage+" fetch", "topic", topic, "partition", part, "err", err)
		}
	})
}

// begin starts a transaction.
func (t *txn) begin(stage string) error {
	if err := t.sess.Begin(); err != nil {
		return fmt.Errorf("cluster: %s begin transaction: %w", stage, err)
	}
	t.mu.Lock()
	t.failed = nil
	t.mu.Unlock()
	t.produced = false
	return nil
}

// produce produces r in the transaction.
func (t *txn) produce(r *kgo.Record) {
	t.produced = true
	t.sess.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err != nil {
			t.mu.Lock()
			if t.failed == nil {
				t.failed = fmt.Errorf("record to %s/%d: %w", r.Topic, r.Partition, err)
			}
			t.mu.Unlock()
		}
	})
}

// end waits for the transaction's records, then commits it with the offsets
// commit rewrites, or aborts it when a record was refused or the group
// rebalanced meanwhile. It reports whether it committed; its error is the
// flush's (ctx ending), not the broker's verdict.
func (t *txn) end(ctx context.Context, stage string, commit func(*kmsg.TxnOffsetCommitRequest) error) (bool, error) {
	if err := t.sess.Client().Flush(ctx); err != nil {
		return false, fmt.Errorf("cluster: %s flush: %w", stage, err)
	}
	t.mu.Lock()
	failed := t.failed
	t.mu.Unlock()
	how := kgo.TryCommit
	if failed != nil {
		t.log.Error(stage+": a record of the transaction was refused; aborting it, its input is read again", "err", failed)
		how = kgo.TryAbort
	}
	if !t.produced && t.ended {
		t.awaitPrevious(ctx, stage)
	}
	committed, err := t.sess.End(kgo.PreTxnCommitFnContext(ctx, commit), how)
	t.ended = true
	// A refused record may mean this producer was fenced: a new session
	// (its InitProducerID) tells.
	t.endFailed = err != nil || failed != nil
	switch {
	case err != nil:
		t.log.Warn(stage+" end transaction", "err", err)
		if t.fails != nil {
			t.fails.Inc()
		}
	case !committed && failed == nil:
		// franz-go aborts a transaction during which the group revoked or
		// lost partitions of this member (a member joined or left, or this
		// one missed its session timeout), or whose offset commit the
		// broker refused as abortable (a coordinator moving, say); with
		// weir -v, its log says which.
		t.log.Info(stage + ": the transaction was aborted (a rebalance, or an offset commit refused as abortable); its input is read again")
	}
	return committed && failed == nil, nil
}

// awaitPreviousLimit bounds how long a transaction that produced nothing
// waits for the previous one to complete.
const awaitPreviousLimit = 5 * time.Second

// awaitPrevious waits until the broker completed the session's previous
// transaction (wrote its markers). A transaction that produced nothing
// starts on the broker with its offset commit; begun while the previous
// one is still being completed, that commit is refused, and franz-go
// aborts the transaction on it (TestBackToBackTransactionsCommit: one in
// three back to back) — each abort makes the stage replay its input. A
// transaction that produced records needs no wait: franz-go retries adding
// their partitions until the previous transaction is complete. If the
// state cannot be read (an old broker, no DESCRIBE on the transactional
// ID), the commit goes ahead: the worst is an abort.
func (t *txn) awaitPrevious(ctx context.Context, stage string) {
	adm := kadm.NewClient(t.sess.Client())
	wctx, cancel := context.WithTimeout(ctx, awaitPreviousLimit)
	defer cancel()
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		ds, err := adm.DescribeTransactions(wctx, t.id)
		d, ok := ds[t.id]
		if err != nil || !ok || d.Err != nil {
			t.log.Debug(stage+": cannot read the previous transaction's state; committing", "err", cmp.Or(err, d.Err))
			return
		}
		if d.State != "PrepareCommit" && d.State != "PrepareAbort" {
			return
		}
		if !sleep(wctx, wait) {
			t.log.Debug(stage+": the previous transaction is still completing; committing anyway", "waited", awaitPreviousLimit)
			return
		}
	}
}
