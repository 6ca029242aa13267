package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/prometheus/prometheus/prompb"
)

// ErrClosed is returned by a Queue's methods once Close has been called.
var ErrClosed = errors.New("remote write queue closed")

// QueueOpt configures a Queue. Values below 1 are taken as 1.
type QueueOpt func(*queueConfig)

type queueConfig struct {
	capacity   int
	workers    int
	maxSamples int
}

// WithCapacity sets how many requests may wait in the queue (default 64).
// A batch split into k requests takes k places. With several workers the
// places are divided evenly among them (at least one each).
func WithCapacity(n int) QueueOpt { return func(c *queueConfig) { c.capacity = n } }

// WithWorkers sets how many requests are in flight at once (default 1). A
// series always goes to the same worker (chosen by a hash of its labels), and
// each worker sends in enqueue order, so the samples of one series arrive in
// the order they were enqueued, as receivers without out-of-order ingestion
// require.
func WithWorkers(n int) QueueOpt { return func(c *queueConfig) { c.workers = n } }

// WithMaxSamplesPerRequest caps the samples, histogram samples and exemplars
// in one request (default 2000). Bigger batches are split, and a single series
// with more than that is cut into several requests with the same labels.
func WithMaxSamplesPerRequest(n int) QueueOpt { return func(c *queueConfig) { c.maxSamples = n } }

// Queue is a bounded queue of requests in front of a Client, drained by a
// fixed number of workers. It is safe for concurrent use. Enqueue blocks
// while the queue is full; Flush waits until what was enqueued before it has
// been sent; Close flushes and stops the workers.
//
// A worker retries a failing request (through Client.Send) until it is
// accepted or permanently rejected; it only gives up on a request that is
// still failing when Close's context ends.
type Queue struct {
	c          *Client
	maxSamples int
	seed       maphash.Seed
	shards     []chan item

	mu      sync.Mutex
	closed  bool
	closing chan struct{} // closed by Close: wakes blocked Enqueue calls
	enqWG   sync.WaitGroup

	workCtx    context.Context
	cancelWork context.CancelFunc
	stopped    chan struct{} // closed once the workers have returned
	workersWG  sync.WaitGroup
}

// item is either a request or, when flushed is not nil, a flush marker: a
// worker reaching it has finished everything queued before it on its shard,
// and hands over the failures it saw since the previous marker.
type item struct {
	series  []prompb.TimeSeries
	flushed chan error
}

// NewQueue starts a queue with its workers in front of c. Stop it with Close.
func NewQueue(c *Client, opts ...QueueOpt) *Queue {
	cfg := queueConfig{capacity: 64, workers: 1, maxSamples: 2000}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.capacity = max(cfg.capacity, 1)
	cfg.workers = max(cfg.workers, 1)
	cfg.maxSamples = max(cfg.maxSamples, 1)

	q := &Queue{
		c:          c,
		maxSamples: cfg.maxSamples,
		seed:       maphash.MakeSeed(),
		shards:     make([]chan item, cfg.workers),
		closing:    make(chan struct{}),
		stopped:    make(chan struct{}),
	}
	q.workCtx, q.cancelWork = context.WithCancel(context.Background())
	per := max(cfg.capacity/cfg.workers, 1)
	for i := range q.shards {
		q.shards[i] = make(chan item, per)
		q.workersWG.Add(1)
		go q.work(q.shards[i])
	}
	return q
}

func (q *Queue) work(ch chan item) {
	defer q.workersWG.Done()
	var failed int
	var first error
	for {
		var it item
		select {
		case it = <-ch:
		case <-q.workCtx.Done():
			return
		}
		if q.workCtx.Err() != nil {
			// Close gave up and select picked the queue over Done.
			if it.flushed == nil {
				q.c.m.queueLength.Dec()
				q.c.cfg.logger.Warn("remote write queue closed with a request unsent", "url", q.c.logURL)
			}
			return
		}
		if it.flushed != nil {
			if failed > 0 {
				it.flushed <- fmt.Errorf("%d requests failed, first: %w", failed, first)
			} else {
				it.flushed <- nil
			}
			failed, first = 0, nil
			continue
		}
		q.c.m.queueLength.Dec()
		if err := q.c.Send(q.workCtx, it.series); err != nil {
			// Send already logged rejections; log the give-up on Close here.
			if !errors.Is(err, ErrRejected) {
				q.c.cfg.logger.Warn("remote write request dropped", "url", q.c.logURL, "err", err)
			}
			if failed == 0 {
				first = err
			}
			failed++
		}
	}
}

// Enqueue splits series into requests (see WithMaxSamplesPerRequest and
// WithWorkers) and queues them, blocking while the queue is full. The queue
// keeps references to series and their slices until they are sent: the caller
// must not modify them afterwards.
//
// When ctx ends (or Close is called) while Enqueue is blocked, it returns an
// error wrapping ctx's error (or ErrClosed) that says how many of the batch's
// requests were queued; those will still be sent, the others will not.
func (q *Queue) Enqueue(ctx context.Context, series []prompb.TimeSeries) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return fmt.Errorf("remotewrite: enqueue to %s: %w", q.c.logURL, ErrClosed)
	}
	q.enqWG.Add(1)
	q.mu.Unlock()
	defer q.enqWG.Done()

	reqs, shardOf := q.split(series)
	for i, r := range reqs {
		select {
		case q.shards[shardOf[i]] <- item{series: r}:
			q.c.m.queueLength.Inc()
		case <-ctx.Done():
			return fmt.Errorf("remotewrite: enqueue to %s: %d of %d requests queued: %w", q.c.logURL, i, len(reqs), ctx.Err())
		case <-q.closing:
			return fmt.Errorf("remotewrite: enqueue to %s: %d of %d requests queued: %w", q.c.logURL, i, len(reqs), ErrClosed)
		}
	}
	return nil
}

// Flush returns once every request enqueued before the call has been accepted
// or has failed permanently. It returns an error when ctx ends first (wrapping
// ctx's error), and otherwise an error describing the requests that failed
// since the previous Flush (wrapping the first failure's error, for example
// ErrRejected), or nil when none did. Flush waits for a free place in each
// worker's queue, so it too is subject to backpressure.
func (q *Queue) Flush(ctx context.Context) error {
	markers := make([]chan error, len(q.shards))
	for i, ch := range q.shards {
		markers[i] = make(chan error, 1) // buffered: the worker never waits for a Flush that gave up
		select {
		case ch <- item{flushed: markers[i]}:
		case <-ctx.Done():
			return fmt.Errorf("remotewrite: flush %s: %w", q.c.logURL, ctx.Err())
		case <-q.stopped:
			return fmt.Errorf("remotewrite: flush %s: %w", q.c.logURL, ErrClosed)
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
			return fmt.Errorf("remotewrite: flush %s: %w", q.c.logURL, ctx.Err())
		case <-q.stopped:
			return fmt.Errorf("remotewrite: flush %s: %w", q.c.logURL, ErrClosed)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remotewrite: flush %s: %w", q.c.logURL, errors.Join(errs...))
	}
	return nil
}

// Close refuses further Enqueue calls, flushes, and stops the workers. When
// ctx ends before the flush completes, the requests still queued or in flight
// are dropped (and logged) and the error wraps ctx's error. Close returns
// ErrClosed when called again.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return fmt.Errorf("remotewrite: close %s: %w", q.c.logURL, ErrClosed)
	}
	q.closed = true
	close(q.closing)
	q.mu.Unlock()

	// Enqueue calls in progress return promptly now; wait for them so that
	// the flush below sees everything they queued.
	enqDone := make(chan struct{})
	go func() { q.enqWG.Wait(); close(enqDone) }()
	var err error
	select {
	case <-enqDone:
		err = q.Flush(ctx)
	case <-ctx.Done():
		err = fmt.Errorf("remotewrite: close %s: %w", q.c.logURL, ctx.Err())
	}

	q.cancelWork()
	q.workersWG.Wait()
	close(q.stopped)
	<-enqDone // prompt: closing is closed, so no Enqueue blocks any more

	dropped := 0
	for _, ch := range q.shards {
		for len(ch) > 0 {
			if it := <-ch; it.flushed == nil {
				q.c.m.queueLength.Dec()
				dropped++
			}
		}
	}
	if dropped > 0 {
		q.c.cfg.logger.Warn("remote write queue closed with requests unsent", "url", q.c.logURL, "requests", dropped)
	}
	return err
}
