// Package sendqueue is the delivery machinery weir's sinks share, as the
// OpenTelemetry Collector's exporterhelper is for its exporters: one bounded
// queue with flush markers, one retry loop with exponential backoff, and one
// rule for failures that retrying cannot fix (ErrPermanent).
//
// A sink builds a Queue around its send function, which delivers one item
// (retrying through Backoff.Retry), and gives its callers Enqueue, Flush and
// Close on top of Put, Flush and Close.
package sendqueue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrClosed is wrapped by the errors of a Queue's methods once Close has been
// called.
var ErrClosed = errors.New("queue closed")

// Config says how a Queue delivers. Send is required; the rest is optional.
type Config[T any] struct {
	// Shards is how many workers deliver at once (at least 1). Each worker
	// takes the items put on its shard in order and sends one at a time, so
	// items of one shard arrive in the order they were put.
	Shards int
	// Capacity is how many items may wait on each shard before Put blocks
	// (at least 1).
	Capacity int
	// Send delivers one item, retrying as it sees fit. Its error, when not
	// nil, is reported by the next Flush; an error wrapping ErrPermanent
	// says the item (or part of it) was dropped for good and counted. Its
	// context ends when Close gives up.
	Send func(ctx context.Context, item T) error
	// Discard is called with each item that Close gave up on before it was
	// sent, so that the sink counts it.
	Discard func(item T)
	// Merge batches: a worker holding an item that is not Full merges the
	// next item of its shard into it when Merge reports true, and sends the
	// held item when Merge reports false, when it is Full, when a flush
	// marker arrives or when it has been held for BatchDeadline. Merge must
	// not modify held or next in place. Without Merge every item is sent as
	// it comes.
	Merge func(held, next T) (T, bool)
	// Full reports that an item has no room for more (required with Merge).
	Full func(item T) bool
	// BatchDeadline bounds how long a worker holds an item for merging
	// (required with Merge).
	BatchDeadline time.Duration
	// Length, when not nil, follows the number of items waiting on the
	// shards, not yet taken by a worker.
	Length prometheus.Gauge
}

func (c *Config[T]) validate() error {
	switch {
	case c.Send == nil:
		return errors.New("sendqueue: no Send function")
	case c.Shards < 1:
		return fmt.Errorf("sendqueue: %d shards: need at least 1", c.Shards)
	case c.Capacity < 1:
		return fmt.Errorf("sendqueue: capacity %d: need at least 1", c.Capacity)
	case c.Merge != nil && (c.Full == nil || c.BatchDeadline <= 0):
		return errors.New("sendqueue: Merge needs Full and a positive BatchDeadline")
	}
	return nil
}

// Queue is a bounded, sharded queue in front of a send function. It is safe
// for concurrent use. Put blocks while its shard is full; Flush waits until
// what was put before it has been sent; Close flushes and stops the workers.
type Queue[T any] struct {
	cfg    Config[T]
	shards []chan entry[T]

	mu      sync.Mutex
	closed  bool
	closing chan struct{} // closed by Close: wakes blocked Put calls
	putWG   sync.WaitGroup

	workCtx    context.Context
	cancelWork context.CancelFunc
	stopped    chan struct{} // closed once the workers have returned
	workersWG  sync.WaitGroup
}

// entry is an item or, when flushed is not nil, a flush marker: the worker
// reaching it has finished everything put before it on its shard, and hands
// over the failures it saw since the previous marker.
type entry[T any] struct {
	item    T
	flushed chan error
}

// New starts a queue with its workers. Stop it with Close. It fails when cfg
// is incomplete.
func New[T any](cfg Config[T]) (*Queue[T], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	q := &Queue[T]{
		cfg:     cfg,
		shards:  make([]chan entry[T], cfg.Shards),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	q.workCtx, q.cancelWork = context.WithCancel(context.Background())
	for i := range q.shards {
		q.shards[i] = make(chan entry[T], cfg.Capacity)
		q.workersWG.Add(1)
		go q.work(q.shards[i])
	}
	return q, nil
}

// Closed reports whether Close has been called.
func (q *Queue[T]) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// Shards returns the number of shards, the bound on Put's shard index.
func (q *Queue[T]) Shards() int { return len(q.shards) }

// Put queues item on shard (0 <= shard < Shards()), blocking while the shard
// is full. It returns an error wrapping ctx's error when ctx ends first, or
// ErrClosed once Close was called; the item is then not queued. The queue
// keeps item until it is sent: the caller must not modify it afterwards.
func (q *Queue[T]) Put(ctx context.Context, shard int, item T) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.putWG.Add(1)
	q.mu.Unlock()
	defer q.putWG.Done()

	select {
	case q.shards[shard] <- entry[T]{item: item}:
		if q.cfg.Length != nil {
			q.cfg.Length.Inc()
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-q.closing:
		return ErrClosed
	}
}

// Flush returns once every item put before the call has been sent, or Send
// has given up on it. It returns an error wrapping ctx's error when ctx ends
// first, ErrClosed when the workers stopped, and otherwise the failures Send
// reported since the previous Flush (see Tally.Take), or nil when there were
// none. Flush waits for a free place on each shard, so it too is subject to
// backpressure.
func (q *Queue[T]) Flush(ctx context.Context) error {
	markers := make([]chan error, len(q.shards))
	for i, ch := range q.shards {
		markers[i] = make(chan error, 1) // buffered: the worker never waits for a Flush that gave up
		select {
		case ch <- entry[T]{flushed: markers[i]}:
		case <-ctx.Done():
			return ctx.Err()
		case <-q.stopped:
			return ErrClosed
		}
	}
	var errs []error
	for _, m := range markers {
		select {
		case err := <-m:
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-q.stopped:
			return ErrClosed
		}
	}
	return errors.Join(errs...)
}

// Close refuses further Put calls, flushes, and stops the workers. When ctx
// ends before the flush completes, Send's context is cancelled, the items
// still queued or held for batching go to Discard, and the error wraps ctx's
// error. Close returns ErrClosed when called again.
func (q *Queue[T]) Close(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.closed = true
	close(q.closing)
	q.mu.Unlock()

	// Put calls in progress return promptly now; wait for them so that the
	// flush below sees everything they queued.
	putDone := make(chan struct{})
	go func() { q.putWG.Wait(); close(putDone) }()
	var err error
	select {
	case <-putDone:
		err = q.Flush(ctx)
	case <-ctx.Done():
		err = ctx.Err()
	}

	q.cancelWork()
	q.workersWG.Wait()
	close(q.stopped)
	<-putDone // prompt: closing is closed, so no Put blocks any more

	for _, ch := range q.shards {
		for len(ch) > 0 {
			if e := <-ch; e.flushed == nil {
				q.taken()
				q.discard(e.item)
			}
		}
	}
	return err
}

func (q *Queue[T]) taken() {
	if q.cfg.Length != nil {
		q.cfg.Length.Dec()
	}
}

func (q *Queue[T]) discard(item T) {
	if q.cfg.Discard != nil {
		q.cfg.Discard(item)
	}
}

// work delivers the entries of one shard until Close stops it.
func (q *Queue[T]) work(ch chan entry[T]) {
	defer q.workersWG.Done()
	w := worker[T]{q: q, timer: time.NewTimer(time.Hour)}
	w.timer.Stop()
	defer w.timer.Stop()
	for {
		var e entry[T]
		select {
		case e = <-ch:
		case <-w.timer.C:
			w.release()
			continue
		case <-q.workCtx.Done():
			w.abandon()
			return
		}
		if q.workCtx.Err() != nil {
			// Close gave up and select picked the shard over Done.
			if e.flushed == nil {
				q.taken()
				q.discard(e.item)
			}
			w.abandon()
			return
		}
		if e.flushed != nil {
			w.release()
			e.flushed <- w.failures.Take()
			continue
		}
		q.taken()
		w.add(e.item)
	}
}

// worker is one shard's delivery state: the item held for batching, if any,
// and the failures since the last flush marker.
type worker[T any] struct {
	q        *Queue[T]
	held     T
	holding  bool
	timer    *time.Timer // fires BatchDeadline after an item was first held
	failures Tally
}

func (w *worker[T]) add(item T) {
	cfg := &w.q.cfg
	if cfg.Merge == nil {
		w.send(item)
		return
	}
	if w.holding {
		if merged, ok := cfg.Merge(w.held, item); ok {
			w.held = merged
		} else {
			w.release()
		}
	}
	if !w.holding {
		w.held, w.holding = item, true
		w.timer.Reset(cfg.BatchDeadline)
	}
	if cfg.Full(w.held) {
		w.release()
	}
}

// release sends the held item, if any.
func (w *worker[T]) release() {
	if !w.holding {
		return
	}
	w.timer.Stop()
	item := w.held
	var zero T
	w.held, w.holding = zero, false
	w.send(item)
}

func (w *worker[T]) abandon() {
	if w.holding {
		w.q.discard(w.held)
		var zero T
		w.held, w.holding = zero, false
	}
}

func (w *worker[T]) send(item T) {
	if err := w.q.cfg.Send(w.q.workCtx, item); err != nil {
		w.failures.Add(err)
	}
}
