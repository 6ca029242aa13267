package otlptrace

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// item is either a batch or, when flushed is not nil, a flush marker: the
// worker reaching it has finished everything queued before it, and hands
// over the failures it saw since the previous marker.
type item struct {
	td      ptrace.Traces
	flushed chan error
}

func (e *Exporter) work() {
	defer close(e.stopped)
	var failed int
	var first error
	for {
		var it item
		select {
		case it = <-e.queue:
		case <-e.workCtx.Done():
			return
		}
		if e.workCtx.Err() != nil {
			// Close gave up and select picked the queue over Done: leave
			// the batch to Close's accounting of what was dropped.
			if it.flushed == nil {
				e.m.queueLength.Dec()
				e.m.failed.WithLabelValues(reasonDropped).Add(float64(it.td.SpanCount()))
			}
			return
		}
		if it.flushed != nil {
			if failed > 0 {
				it.flushed <- fmt.Errorf("%d batches failed, first: %w", failed, first)
			} else {
				it.flushed <- nil
			}
			failed, first = 0, nil
			continue
		}
		e.m.queueLength.Dec()
		if err := e.export(e.workCtx, it.td); err != nil {
			if failed == 0 {
				first = err
			}
			failed++
		}
	}
}

// Enqueue queues td for the worker, blocking while the queue is full (see
// WithQueueSize) until ctx ends (the error wraps ctx's error) or Close is
// called (ErrClosed). The exporter takes td over: the caller must not modify
// it afterwards. The worker exports batches in order, with Export's retries.
func (e *Exporter) Enqueue(ctx context.Context, td ptrace.Traces) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return fmt.Errorf("otlptrace: enqueue to %s: %w", e.endpoint, ErrClosed)
	}
	e.enqWG.Add(1)
	e.mu.Unlock()
	defer e.enqWG.Done()

	select {
	case e.queue <- item{td: td}:
		e.m.queueLength.Inc()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("otlptrace: enqueue %d spans to %s: %w", td.SpanCount(), e.endpoint, ctx.Err())
	case <-e.closing:
		return fmt.Errorf("otlptrace: enqueue %d spans to %s: %w", td.SpanCount(), e.endpoint, ErrClosed)
	}
}

// Flush returns once every batch enqueued before the call has been accepted
// or has failed permanently. It returns an error when ctx ends first (wrapping
// ctx's error), and otherwise an error describing the batches that failed
// since the previous Flush (wrapping the first failure's error), or nil.
// Flush waits for a free place in the queue, so it too is subject to
// backpressure.
func (e *Exporter) Flush(ctx context.Context) error {
	marker := make(chan error, 1) // buffered: the worker never waits for a Flush that gave up
	select {
	case e.queue <- item{flushed: marker}:
	case <-ctx.Done():
		return fmt.Errorf("otlptrace: flush %s: %w", e.endpoint, ctx.Err())
	case <-e.stopped:
		return fmt.Errorf("otlptrace: flush %s: %w", e.endpoint, ErrClosed)
	}
	select {
	case err := <-marker:
		if err != nil {
			return fmt.Errorf("otlptrace: flush %s: %w", e.endpoint, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("otlptrace: flush %s: %w", e.endpoint, ctx.Err())
	case <-e.stopped:
		return fmt.Errorf("otlptrace: flush %s: %w", e.endpoint, ErrClosed)
	}
}

// Close refuses further Export and Enqueue calls, flushes the queue, stops the
// worker and closes the connection. When ctx ends before the flush completes,
// the batches still queued or in flight are dropped (counted with reason
// "dropped" or "gave_up", and logged) and the error wraps ctx's error. An
// Export call running when Close closes the connection fails. Close returns
// ErrClosed when called again.
func (e *Exporter) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return fmt.Errorf("otlptrace: close %s: %w", e.endpoint, ErrClosed)
	}
	e.closed = true
	close(e.closing)
	e.mu.Unlock()

	// Enqueue calls in progress return promptly now; wait for them so that
	// the flush below sees everything they queued.
	enqDone := make(chan struct{})
	go func() { e.enqWG.Wait(); close(enqDone) }()
	var err error
	select {
	case <-enqDone:
		err = e.Flush(ctx)
	case <-ctx.Done():
		err = fmt.Errorf("otlptrace: close %s: %w", e.endpoint, ctx.Err())
	}

	e.cancelWork()
	<-e.stopped
	<-enqDone

	dropped := 0
	for len(e.queue) > 0 {
		if it := <-e.queue; it.flushed == nil {
			e.m.queueLength.Dec()
			n := it.td.SpanCount()
			e.m.failed.WithLabelValues(reasonDropped).Add(float64(n))
			dropped += n
		}
	}
	if dropped > 0 {
		e.cfg.logger.Warn("OTLP exporter closed with spans unsent", "endpoint", e.endpoint, "spans", dropped)
	}
	if cerr := e.conn.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("otlptrace: close %s: %w", e.endpoint, cerr)
	}
	return err
}
