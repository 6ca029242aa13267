package sendqueue

import (
	"errors"
	"fmt"
	"sync"
)

// Tally collects the failures of deliveries between two flushes, for sinks
// whose Flush reports what failed since the previous one. It is safe for
// concurrent use; the zero value is ready.
type Tally struct {
	mu        sync.Mutex
	n         int
	first     error // the first failure
	transient error // the first failure that is not permanent
}

// Add records a failure; nil is ignored.
func (t *Tally) Add(err error) {
	if err == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	if t.first == nil {
		t.first = err
	}
	if t.transient == nil && !errors.Is(err, ErrPermanent) {
		t.transient = err
	}
}

// Take returns the failures recorded since the previous Take, and forgets
// them: nil when there were none, else an error counting them that wraps
// the first one that is not permanent, or the first one when all are. So
// the error wraps ErrPermanent only when every failure was permanent: a
// caller that moves on past permanent failures never moves past a
// transient one.
func (t *Tally) Take() error {
	t.mu.Lock()
	n, first, transient := t.n, t.first, t.transient
	t.n, t.first, t.transient = 0, nil, nil
	t.mu.Unlock()
	switch {
	case n == 0:
		return nil
	case n == 1:
		return first
	case transient != nil:
		return fmt.Errorf("%d deliveries failed, for example: %w", n, transient)
	default:
		return fmt.Errorf("%d deliveries failed for good, the first: %w", n, first)
	}
}
