package sendqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// ErrPermanent is wrapped by the error of a delivery that retrying cannot
// fix: what it concerns was dropped, and the sink counted it under a reason.
// A caller that gets it from Flush may move on (retrying would drop the same
// again); any other Flush error means something is still undelivered.
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as one that retrying cannot fix: Backoff.Retry returns
// it at once, and errors.Is(err, ErrPermanent) reports true. Nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &backoff.PermanentError{Err: permanent{err}}
}

type permanent struct{ err error }

func (p permanent) Error() string        { return p.err.Error() }
func (p permanent) Unwrap() error        { return p.err }
func (p permanent) Is(target error) bool { return target == ErrPermanent }

// RetryAfter marks err as retryable after d, as a server asked (an HTTP
// Retry-After header, a gRPC RetryInfo): Backoff.Retry waits d instead of
// its own backoff before the next attempt.
func RetryAfter(err error, d time.Duration) error {
	return &retryAfter{err: err, after: backoff.RetryAfterError{Duration: max(d, 0)}}
}

type retryAfter struct {
	err   error
	after backoff.RetryAfterError
}

func (r *retryAfter) Error() string   { return r.err.Error() }
func (r *retryAfter) Unwrap() []error { return []error{r.err, &r.after} }

// Backoff is the wait between attempts: Min first, then doubling up to Max,
// each wait jittered by up to half either way (and never above Max) so that
// many senders failing together do not retry in lockstep.
type Backoff struct {
	Min, Max time.Duration
}

// Validate refuses a Backoff that Retry cannot use.
func (b Backoff) Validate() error {
	if b.Min <= 0 || b.Max < b.Min {
		return fmt.Errorf("backoff min %v max %v: need 0 < min <= max", b.Min, b.Max)
	}
	return nil
}

// capped keeps the jittered wait within Max: the library caps the interval
// before jitter only.
type capped struct {
	*backoff.ExponentialBackOff
	max time.Duration
}

func (c capped) NextBackOff() time.Duration { return min(c.ExponentialBackOff.NextBackOff(), c.max) }

func (b Backoff) policy() backoff.BackOff {
	return capped{&backoff.ExponentialBackOff{
		InitialInterval:     b.Min,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         b.Max,
	}, b.Max}
}

// Retry calls attempt until it returns nil or a permanent error (see
// Permanent), or ctx ends; there is no other limit. Before each wait it
// calls notify, when not nil, with the attempt's error and the wait.
//
// The error is nil, the permanent error as attempt returned it, or, when ctx
// ended first, an error wrapping ctx's error and the last attempt's error
// (the one before, when ctx cut the last one short).
func (b Backoff) Retry(ctx context.Context, attempt func() error, notify func(err error, wait time.Duration)) error {
	var cur, last error
	op := func() (struct{}, error) {
		cur = attempt()
		// An attempt cut short by ctx says less than the one before it.
		if cur != nil && (last == nil || ctx.Err() == nil) {
			last = cur
		}
		return struct{}{}, cur
	}
	opts := []backoff.RetryOption{backoff.WithBackOff(b.policy()), backoff.WithMaxElapsedTime(0)}
	if notify != nil {
		opts = append(opts, backoff.WithNotify(notify))
	}
	_, err := backoff.Retry(ctx, op, opts...)
	switch {
	case err == nil:
		return nil
	case errors.Is(cur, ErrPermanent):
		return cur
	default:
		cause := context.Cause(ctx)
		if cause == nil {
			cause = err
		}
		return fmt.Errorf("gave up: %w; last error: %w", cause, last)
	}
}
