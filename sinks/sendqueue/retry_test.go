package sendqueue

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetryUntilAccepted(t *testing.T) {
	b := Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond}
	fails := []error{errors.New("503"), errors.New("connection refused"), errors.New("503")}
	var waits []time.Duration
	calls := 0
	err := b.Retry(context.Background(), func() error {
		calls++
		if calls <= len(fails) {
			return fails[calls-1]
		}
		return nil
	}, func(err error, wait time.Duration) {
		if err != fails[len(waits)] {
			t.Errorf("notify %d got %v, want %v", len(waits), err, fails[len(waits)])
		}
		waits = append(waits, wait)
	})
	if err != nil || calls != 4 || len(waits) != 3 {
		t.Fatalf("Retry: err %v after %d calls and %d waits, want nil after 4 and 3", err, calls, len(waits))
	}
}

func TestRetryStopsAtPermanent(t *testing.T) {
	b := Backoff{Min: time.Hour, Max: time.Hour}
	cause := errors.New("400 out of order sample")
	calls := 0
	err := b.Retry(context.Background(), func() error {
		calls++
		return Permanent(cause)
	}, nil)
	if calls != 1 || !errors.Is(err, ErrPermanent) || !errors.Is(err, cause) || err.Error() != cause.Error() {
		t.Fatalf("Retry of a permanent error: %v after %d calls, want the cause, marked permanent, after 1", err, calls)
	}
}

// TestRetryHonoursRetryAfter has a backoff of an hour: the retry comes within
// the test only if the server's wait of zero is obeyed.
func TestRetryHonoursRetryAfter(t *testing.T) {
	b := Backoff{Min: time.Hour, Max: time.Hour}
	calls := 0
	var wait time.Duration = -1
	err := b.Retry(context.Background(), func() error {
		calls++
		if calls == 1 {
			return RetryAfter(errors.New("429"), 0)
		}
		return nil
	}, func(_ error, w time.Duration) { wait = w })
	if err != nil || calls != 2 || wait != 0 {
		t.Fatalf("Retry after RetryAfter(0): err %v, %d calls, wait %v; want nil, 2, 0", err, calls, wait)
	}
}

func TestRetryGivesUpWhenContextEnds(t *testing.T) {
	b := Backoff{Min: time.Hour, Max: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	last := errors.New("connection refused")
	err := b.Retry(ctx, func() error { return last }, func(error, time.Duration) { cancel() })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, last) || errors.Is(err, ErrPermanent) {
		t.Fatalf("Retry cancelled while waiting: %v, want context.Canceled and the last error, not permanent", err)
	}
}

func TestBackoffStaysInBounds(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	for range 50 {
		p := b.policy()
		p.Reset()
		for i := range 10 {
			nominal := min(b.Min<<i, b.Max)
			d := p.NextBackOff()
			if d < nominal/2 || d > b.Max || d > nominal*3/2 {
				t.Fatalf("wait %d = %v: want within [%v, %v] and at most %v", i, d, nominal/2, nominal*3/2, b.Max)
			}
		}
	}
}

func TestBackoffValidate(t *testing.T) {
	for _, tc := range []struct {
		b  Backoff
		ok bool
	}{
		{Backoff{time.Millisecond, time.Second}, true},
		{Backoff{time.Second, time.Second}, true},
		{Backoff{0, time.Second}, false},
		{Backoff{time.Second, time.Millisecond}, false},
	} {
		if err := tc.b.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tc.b, err, tc.ok)
		}
	}
}

func TestTallyTake(t *testing.T) {
	perm := Permanent(errors.New("413"))
	trans := errors.New("503")
	for _, tc := range []struct {
		name          string
		add           []error
		wantNil       bool
		wantPermanent bool
		wantIs        error
	}{
		{"none", nil, true, false, nil},
		{"nil ignored", []error{nil}, true, false, nil},
		{"one permanent", []error{perm}, false, true, perm},
		{"permanent then transient", []error{perm, trans}, false, false, trans},
		{"transient then permanent", []error{trans, perm}, false, false, trans},
		{"two permanent", []error{perm, perm}, false, true, perm},
	} {
		var tl Tally
		for _, e := range tc.add {
			tl.Add(e)
		}
		err := tl.Take()
		if (err == nil) != tc.wantNil || errors.Is(err, ErrPermanent) != tc.wantPermanent || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
			t.Errorf("%s: Take() = %v", tc.name, err)
		}
		if err := tl.Take(); err != nil {
			t.Errorf("%s: second Take() = %v, want nil", tc.name, err)
		}
	}
}
