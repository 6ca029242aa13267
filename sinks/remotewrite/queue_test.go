package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/prompb"
)

// gatedReceiver holds every request until release is called, and reports
// each request's arrival on arrived.
func gatedReceiver(t *testing.T) (rc *receiver, arrived chan int, release func()) {
	t.Helper()
	arrived = make(chan int, 100)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	rc = newReceiver(t, func(n int, _ http.ResponseWriter) int {
		arrived <- n
		<-gate
		return 0
	})
	t.Cleanup(release) // runs before the server's Close, which waits for handlers
	return rc, arrived, release
}

func names(reqs []received) []string {
	var out []string
	for _, r := range reqs {
		for _, ts := range r.req.Timeseries {
			out = append(out, ts.Labels[0].Value)
		}
	}
	return out
}

func TestQueueEnqueueBlocksWhenFull(t *testing.T) {
	rc, arrived, release := gatedReceiver(t)
	c := newClient(t, rc.url())
	q := NewQueue(c, WithCapacity(1))
	bg := context.Background()

	if err := q.Enqueue(bg, []prompb.TimeSeries{series("b1", 1, 1, false)}); err != nil {
		t.Fatal(err)
	}
	<-arrived // b1 is in flight and held by the receiver: the queue's one place is free
	if err := q.Enqueue(bg, []prompb.TimeSeries{series("b2", 1, 1, false)}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(c.m.queueLength); n != 1 {
		t.Errorf("queue_length = %v, want 1", n)
	}
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	err := q.Enqueue(ctx, []prompb.TimeSeries{series("b3", 1, 1, false)})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "0 of 1 requests queued") {
		t.Fatalf("Enqueue into a full queue: err = %v, want DeadlineExceeded with 0 of 1 queued", err)
	}

	release()
	if err := q.Close(bg); err != nil {
		t.Fatal(err)
	}
	if got := names(rc.requests()); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Errorf("receiver got %v, want [b1 b2]", got)
	}
	if n := testutil.ToFloat64(c.m.queueLength); n != 0 {
		t.Errorf("queue_length after close = %v, want 0", n)
	}
}

func TestQueueFlushWaitsForEarlierRequests(t *testing.T) {
	rc, arrived, release := gatedReceiver(t)
	c := newClient(t, rc.url())
	q := NewQueue(c, WithCapacity(8))
	defer q.Close(context.Background())
	bg := context.Background()
	for i := range 3 {
		if err := q.Enqueue(bg, []prompb.TimeSeries{series(fmt.Sprint("b", i), 1, 1, false)}); err != nil {
			t.Fatal(err)
		}
	}
	<-arrived
	flushed := make(chan error, 1)
	go func() { flushed <- q.Flush(bg) }()
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned (%v) while requests were held by the receiver", err)
	default:
	}
	release()
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if got := names(rc.requests()); !slices.Equal(got, []string{"b0", "b1", "b2"}) {
		t.Errorf("after Flush the receiver has %v, want [b0 b1 b2]", got)
	}
}

func TestQueueFlushHonoursContext(t *testing.T) {
	rc, arrived, _ := gatedReceiver(t)
	q := NewQueue(newClient(t, rc.url()))
	if err := q.Enqueue(context.Background(), []prompb.TimeSeries{series("b", 1, 1, false)}); err != nil {
		t.Fatal(err)
	}
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with a held request: err = %v, want DeadlineExceeded", err)
	}
}

func TestQueueFlushReportsRejections(t *testing.T) {
	var reject sync.Map
	rc := newReceiver(t, func(n int, _ http.ResponseWriter) int {
		if _, ok := reject.Load(n); ok {
			return http.StatusBadRequest
		}
		return 0
	})
	reject.Store(0, true)
	reject.Store(1, true)
	c := newClient(t, rc.url())
	q := NewQueue(c)
	defer q.Close(context.Background())
	bg := context.Background()
	for i := range 3 {
		if err := q.Enqueue(bg, []prompb.TimeSeries{series(fmt.Sprint("b", i), 1, 1, false)}); err != nil {
			t.Fatal(err)
		}
	}
	err := q.Flush(bg)
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "2 requests failed") {
		t.Fatalf("Flush after two rejections: err = %v, want ErrRejected and 2 requests failed", err)
	}
	if err := q.Flush(bg); err != nil {
		t.Errorf("second Flush reports %v, want nil (failures were already reported)", err)
	}
	if n := testutil.ToFloat64(c.m.rejectedSamples); n != 2 {
		t.Errorf("rejected_samples_total = %v, want 2", n)
	}
	if got := len(rc.requests()); got != 3 {
		t.Errorf("receiver got %d requests, want 3 (rejections are not retried)", got)
	}
}

// TestQueueSplitsBatches sends a batch of many small series and one huge
// series through a queue capped at 10 items per request.
func TestQueueSplitsBatches(t *testing.T) {
	rc := newReceiver(t, nil)
	q := NewQueue(newClient(t, rc.url()), WithMaxSamplesPerRequest(10))
	bg := context.Background()
	var many []prompb.TimeSeries
	for i := range 25 {
		many = append(many, series(fmt.Sprint("s", i), 1, 1, false))
	}
	huge := series("huge", 100, 25, true) // 25 samples + 1 exemplar
	if err := q.Enqueue(bg, many); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(bg, []prompb.TimeSeries{huge}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(bg); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	var sizes []int
	for _, r := range reqs {
		sizes = append(sizes, weightOf(r.req.Timeseries))
	}
	if want := []int{10, 10, 5, 10, 10, 6}; !slices.Equal(sizes, want) {
		t.Fatalf("request sizes = %v, want %v", sizes, want)
	}
	if got, want := names(reqs[:3]), names([]received{{req: prompb.WriteRequest{Timeseries: many}}}); !slices.Equal(got, want) {
		t.Errorf("small series arrived as %v, want %v", got, want)
	}
	var samples []prompb.Sample
	var exemplars []prompb.Exemplar
	for _, r := range reqs[3:] {
		ts := r.req.Timeseries
		if len(ts) != 1 || !labelsEqual(ts[0].Labels, huge.Labels) {
			t.Fatalf("piece of the huge series = %+v", ts)
		}
		samples = append(samples, ts[0].Samples...)
		exemplars = append(exemplars, ts[0].Exemplars...)
	}
	if !samplesEqual(samples, huge.Samples) {
		t.Errorf("reassembled samples = %v, want %v", samples, huge.Samples)
	}
	if len(exemplars) != 1 || exemplars[0].Value != huge.Exemplars[0].Value {
		t.Errorf("reassembled exemplars = %+v, want %+v", exemplars, huge.Exemplars)
	}
}

func weightOf(ts []prompb.TimeSeries) int {
	n := 0
	for i := range ts {
		n += weight(&ts[i])
	}
	return n
}

func TestChunk(t *testing.T) {
	mk := func(samples ...int) []prompb.TimeSeries {
		var out []prompb.TimeSeries
		for i, n := range samples {
			out = append(out, series(fmt.Sprint("s", i), 0, n, false))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		in    []prompb.TimeSeries
		max   int
		sizes []int
	}{
		{name: "empty", in: nil, max: 3, sizes: nil},
		{name: "fits", in: mk(1, 2), max: 3, sizes: []int{3}},
		{name: "series not cut when it fits a fresh request", in: mk(2, 2, 2), max: 3, sizes: []int{2, 2, 2}},
		{name: "exact fill", in: mk(1, 2, 3), max: 3, sizes: []int{3, 3}},
		{name: "big series fills the rest then continues", in: mk(1, 7), max: 3, sizes: []int{3, 3, 2}},
		{name: "empty series counts one", in: mk(0, 0, 0, 0), max: 3, sizes: []int{3, 1}},
		{name: "max one", in: mk(2, 1), max: 1, sizes: []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reqs := chunk(tc.in, tc.max, nil)
			var sizes []int
			got := map[string][]prompb.Sample{}
			for _, r := range reqs {
				sizes = append(sizes, weightOf(r))
				for _, ts := range r {
					got[ts.Labels[0].Value] = append(got[ts.Labels[0].Value], ts.Samples...)
				}
			}
			if !slices.Equal(sizes, tc.sizes) {
				t.Errorf("sizes = %v, want %v", sizes, tc.sizes)
			}
			for _, ts := range tc.in {
				if !samplesEqual(got[ts.Labels[0].Value], ts.Samples) {
					t.Errorf("%s: samples %v, want %v", ts.Labels[0].Value, got[ts.Labels[0].Value], ts.Samples)
				}
			}
		})
	}
}

// TestQueueKeepsSeriesOrderAcrossWorkers sends rounds of samples through four
// workers with a receiver that answers after random short pauses, and checks
// that every series still receives its samples in order.
func TestQueueKeepsSeriesOrderAcrossWorkers(t *testing.T) {
	rc := newReceiver(t, func(int, http.ResponseWriter) int {
		time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
		return 0
	})
	q := NewQueue(newClient(t, rc.url()), WithWorkers(4), WithCapacity(4), WithMaxSamplesPerRequest(5))
	bg := context.Background()
	const nSeries, rounds = 12, 10
	for r := range rounds {
		var batch []prompb.TimeSeries
		for s := range nSeries {
			batch = append(batch, series(fmt.Sprint("s", s), int64(r), 1, false))
		}
		if err := q.Enqueue(bg, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(bg); err != nil {
		t.Fatal(err)
	}
	got := map[string][]int64{}
	for _, r := range rc.requests() {
		for _, ts := range r.req.Timeseries {
			for _, s := range ts.Samples {
				got[ts.Labels[0].Value] = append(got[ts.Labels[0].Value], s.Timestamp)
			}
		}
	}
	want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for s := range nSeries {
		name := fmt.Sprint("s", s)
		if !slices.Equal(got[name], want) {
			t.Errorf("%s timestamps arrived as %v, want %v", name, got[name], want)
		}
	}
}

func TestQueueClose(t *testing.T) {
	rc := newReceiver(t, nil)
	q := NewQueue(newClient(t, rc.url()))
	bg := context.Background()
	for i := range 5 {
		if err := q.Enqueue(bg, []prompb.TimeSeries{series(fmt.Sprint("b", i), 1, 1, false)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(bg); err != nil {
		t.Fatal(err)
	}
	if got := len(rc.requests()); got != 5 {
		t.Errorf("receiver got %d requests before Close returned, want 5", got)
	}
	if err := q.Enqueue(bg, []prompb.TimeSeries{series("late", 1, 1, false)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close: err = %v, want ErrClosed", err)
	}
	if err := q.Flush(bg); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: err = %v, want ErrClosed", err)
	}
	if err := q.Close(bg); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: err = %v, want ErrClosed", err)
	}
}

// TestQueueCloseGivesUpAtDeadline closes a queue whose receiver never answers:
// Close must return at its deadline, wake a blocked Enqueue, and drop what is
// left.
func TestQueueCloseGivesUpAtDeadline(t *testing.T) {
	rc, arrived, _ := gatedReceiver(t)
	c := newClient(t, rc.url())
	q := NewQueue(c, WithCapacity(1))
	bg := context.Background()
	for _, name := range []string{"inflight", "queued"} {
		if err := q.Enqueue(bg, []prompb.TimeSeries{series(name, 1, 1, false)}); err != nil {
			t.Fatal(err)
		}
		if name == "inflight" {
			<-arrived
		}
	}
	blocked := make(chan error, 1)
	go func() { blocked <- q.Enqueue(bg, []prompb.TimeSeries{series("blocked", 1, 1, false)}) }()

	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: err = %v, want DeadlineExceeded", err)
	}
	if err := <-blocked; !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue blocked during Close: err = %v, want ErrClosed", err)
	}
	if n := testutil.ToFloat64(c.m.queueLength); n != 0 {
		t.Errorf("queue_length after Close = %v, want 0", n)
	}
}
