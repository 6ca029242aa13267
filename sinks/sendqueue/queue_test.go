package sendqueue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recorder is a send function for tests: it records what it sent, in order,
// and fails the items listed in fail.
type recorder struct {
	mu        sync.Mutex
	sent      []string
	discarded []string
	fail      map[string]error
	gate      chan struct{} // when not nil, each send waits for a value or for ctx
	arrived   chan string   // when not nil, each send reports its item first
}

func (r *recorder) send(ctx context.Context, item string) error {
	if r.arrived != nil {
		r.arrived <- item
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return fmt.Errorf("send %s: %w", item, ctx.Err())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail[item]; err != nil {
		return err
	}
	r.sent = append(r.sent, item)
	return nil
}

func (r *recorder) discard(item string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.discarded = append(r.discarded, item)
}

func (r *recorder) snapshot() (sent, discarded []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent), slices.Clone(r.discarded)
}

func newQueue(t *testing.T, r *recorder, cfg Config[string]) *Queue[string] {
	t.Helper()
	cfg.Send, cfg.Discard = r.send, r.discard
	q, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close(context.Background()) })
	return q
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	send := func(context.Context, string) error { return nil }
	merge := func(a, b string) (string, bool) { return a + b, true }
	for _, tc := range []struct {
		name string
		cfg  Config[string]
	}{
		{"no send", Config[string]{Shards: 1, Capacity: 1}},
		{"no shards", Config[string]{Send: send, Capacity: 1}},
		{"no capacity", Config[string]{Send: send, Shards: 1}},
		{"merge without full", Config[string]{Send: send, Shards: 1, Capacity: 1, Merge: merge, BatchDeadline: time.Second}},
		{"merge without deadline", Config[string]{Send: send, Shards: 1, Capacity: 1, Merge: merge, Full: func(string) bool { return false }}},
	} {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

func TestPutBlocksWhenFull(t *testing.T) {
	r := &recorder{gate: make(chan struct{}), arrived: make(chan string, 10)}
	length := prometheus.NewGauge(prometheus.GaugeOpts{Name: "length"})
	q := newQueue(t, r, Config[string]{Shards: 1, Capacity: 1, Length: length})
	bg := context.Background()
	if err := q.Put(bg, 0, "a"); err != nil {
		t.Fatal(err)
	}
	<-r.arrived // a is being sent: the shard's one place is free
	if err := q.Put(bg, 0, "b"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(length); n != 1 {
		t.Errorf("length = %v, want 1", n)
	}
	ctx, cancel := context.WithCancel(bg)
	put := make(chan error, 1)
	go func() { put <- q.Put(ctx, 0, "c") }()
	select {
	case err := <-put:
		t.Fatalf("Put into a full shard returned %v", err)
	case <-time.After(20 * time.Millisecond): // a check that Put blocks, not a wait for an outcome
	}
	cancel()
	if err := <-put; !errors.Is(err, context.Canceled) {
		t.Fatalf("Put cancelled while blocked: %v, want context.Canceled", err)
	}
	close(r.gate)
	if err := q.Close(bg); err != nil {
		t.Fatal(err)
	}
	if sent, _ := r.snapshot(); !slices.Equal(sent, []string{"a", "b"}) {
		t.Errorf("sent %v, want [a b]", sent)
	}
	if n := testutil.ToFloat64(length); n != 0 {
		t.Errorf("length after Close = %v, want 0", n)
	}
}

func TestFlushWaitsForEverythingPutBefore(t *testing.T) {
	r := &recorder{gate: make(chan struct{}), arrived: make(chan string, 10)}
	q := newQueue(t, r, Config[string]{Shards: 3, Capacity: 4})
	bg := context.Background()
	for i := range 6 {
		if err := q.Put(bg, i%3, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	<-r.arrived
	flushed := make(chan error, 1)
	go func() { flushed <- q.Flush(bg) }()
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned (%v) while items were unsent", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(r.gate)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	sent, _ := r.snapshot()
	slices.Sort(sent)
	if !slices.Equal(sent, []string{"0", "1", "2", "3", "4", "5"}) {
		t.Errorf("after Flush sent = %v, want all six", sent)
	}
}

func TestShardKeepsOrder(t *testing.T) {
	r := &recorder{}
	q := newQueue(t, r, Config[string]{Shards: 4, Capacity: 2})
	bg := context.Background()
	var want []string
	for i := range 200 {
		item := fmt.Sprintf("s%d-%03d", i%4, i)
		want = append(want, item)
		if err := q.Put(bg, i%4, item); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Flush(bg); err != nil {
		t.Fatal(err)
	}
	sent, _ := r.snapshot()
	for s := range 4 {
		prefix := fmt.Sprintf("s%d-", s)
		keep := func(items []string) []string {
			return slices.DeleteFunc(slices.Clone(items), func(x string) bool { return x[:len(prefix)] != prefix })
		}
		if got, w := keep(sent), keep(want); !slices.Equal(got, w) {
			t.Errorf("shard %d sent %v, want %v", s, got, w)
		}
	}
}

func TestFlushReportsFailuresOnce(t *testing.T) {
	transient := errors.New("503")
	r := &recorder{fail: map[string]error{
		"p1": Permanent(errors.New("400 out of order")),
		"p2": Permanent(errors.New("413")),
		"t":  transient,
	}}
	q := newQueue(t, r, Config[string]{Shards: 2, Capacity: 4})
	bg := context.Background()
	put := func(shard int, items ...string) {
		for _, it := range items {
			if err := q.Put(bg, shard, it); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(0, "a", "p1")
	put(1, "p2", "b")
	err := q.Flush(bg)
	if !errors.Is(err, ErrPermanent) {
		t.Errorf("Flush after permanent failures only: %v, want ErrPermanent", err)
	}
	if err := q.Flush(bg); err != nil {
		t.Errorf("second Flush reported the same failures again: %v", err)
	}
	put(0, "p1", "t")
	err = q.Flush(bg)
	if !errors.Is(err, transient) || errors.Is(err, ErrPermanent) {
		t.Errorf("Flush after a permanent and a transient failure: %v, want the transient one and not ErrPermanent", err)
	}
}

func TestFlushHonoursContext(t *testing.T) {
	r := &recorder{gate: make(chan struct{}), arrived: make(chan string, 1)}
	q := newQueue(t, r, Config[string]{Shards: 1, Capacity: 1})
	defer close(r.gate)
	if err := q.Put(context.Background(), 0, "a"); err != nil {
		t.Fatal(err)
	}
	<-r.arrived
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush with a held item and a cancelled context: %v, want context.Canceled", err)
	}
}

// concat merges strings up to three letters, as a sink merges requests up
// to its per-request cap.
func concat(held, next string) (string, bool) {
	if len(held)+len(next) > 3 {
		return "", false
	}
	return held + next, true
}

func full(s string) bool { return len(s) >= 3 }

func TestMergeBatchesUntilFullOrFlush(t *testing.T) {
	r := &recorder{}
	q := newQueue(t, r, Config[string]{Shards: 1, Capacity: 10, Merge: concat, Full: full, BatchDeadline: time.Hour})
	bg := context.Background()
	for _, it := range []string{"a", "b", "c", "d", "ef", "gh", "i"} {
		if err := q.Put(bg, 0, it); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Flush(bg); err != nil {
		t.Fatal(err)
	}
	// Each batch above filled up; a lone item waits for the flush marker.
	if err := q.Put(bg, 0, "j"); err != nil {
		t.Fatal(err)
	}
	if err := q.Flush(bg); err != nil {
		t.Fatal(err)
	}
	if sent, _ := r.snapshot(); !slices.Equal(sent, []string{"abc", "def", "ghi", "j"}) {
		t.Errorf("sent %v, want [abc def ghi j]", sent)
	}
}

func TestMergeDeadlineSendsAPartialBatch(t *testing.T) {
	r := &recorder{arrived: make(chan string, 1)}
	q := newQueue(t, r, Config[string]{Shards: 1, Capacity: 10, Merge: concat, Full: full, BatchDeadline: time.Millisecond})
	if err := q.Put(context.Background(), 0, "a"); err != nil {
		t.Fatal(err)
	}
	// No flush and no more items: only the deadline can send it.
	if got := <-r.arrived; got != "a" {
		t.Errorf("sent %q, want a", got)
	}
}

func TestCloseFlushesAndRefusesMore(t *testing.T) {
	r := &recorder{}
	q := newQueue(t, r, Config[string]{Shards: 2, Capacity: 4, Merge: concat, Full: full, BatchDeadline: time.Hour})
	bg := context.Background()
	for _, it := range []string{"a", "b"} {
		if err := q.Put(bg, 0, it); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(bg); err != nil {
		t.Fatal(err)
	}
	if sent, discarded := r.snapshot(); !slices.Equal(sent, []string{"ab"}) || len(discarded) != 0 {
		t.Errorf("after Close: sent %v discarded %v, want [ab] and none", sent, discarded)
	}
	if err := q.Put(bg, 0, "c"); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close: %v, want ErrClosed", err)
	}
	if err := q.Flush(bg); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
	if err := q.Close(bg); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

func TestCloseGivesUpWhenContextEnds(t *testing.T) {
	r := &recorder{gate: make(chan struct{}), arrived: make(chan string, 10), fail: map[string]error{}}
	length := prometheus.NewGauge(prometheus.GaugeOpts{Name: "length"})
	q := newQueue(t, r, Config[string]{Shards: 1, Capacity: 4, Length: length})
	bg := context.Background()
	for _, it := range []string{"a", "b", "c"} {
		if err := q.Put(bg, 0, it); err != nil {
			t.Fatal(err)
		}
	}
	<-r.arrived // a is in flight, b and c wait
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := q.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with a stuck send and a cancelled context: %v, want context.Canceled", err)
	}
	sent, discarded := r.snapshot()
	if len(sent) != 0 || !slices.Equal(discarded, []string{"b", "c"}) {
		t.Errorf("after giving up: sent %v discarded %v, want none sent and [b c] discarded (a's send saw its context end)", sent, discarded)
	}
	if n := testutil.ToFloat64(length); n != 0 {
		t.Errorf("length after Close = %v, want 0", n)
	}
}

func TestRegisterAllOrNone(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"})
	b := prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})
	if err := Register(reg, a, b); err != nil {
		t.Fatal(err)
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total", Help: "c"})
	b2 := prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})
	err := Register(reg, c, b2)
	if err == nil || !strings.Contains(err.Error(), "distinct WithName") {
		t.Fatalf("registering a duplicate: %v, want a hint at WithName", err)
	}
	if err := reg.Register(c); err != nil {
		t.Errorf("c stayed registered after the failed Register: %v", err)
	}
	if err := Register(nil, a); err != nil {
		t.Errorf("Register(nil) = %v", err)
	}
}
