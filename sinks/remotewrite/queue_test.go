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

	"github.com/weirdev/weir/sinks/sendqueue"
)

// gatedReceiver holds every request until release is called, and reports
// each request's arrival on arrived.
func gatedReceiver(t *testing.T) (rc *receiver, arrived chan int, release func()) {
	t.Helper()
	arrived = make(chan int, 100)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	rc = newReceiver(t, func(n int, _ *received, _ http.ResponseWriter) int {
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

func TestEnqueueBlocksWhenFull(t *testing.T) {
	rc, arrived, release := gatedReceiver(t)
	// One request of one sample per shard may wait.
	c := newClient(t, rc.url(), WithCapacity(1), WithMaxSamplesPerSend(1))
	bg := context.Background()
	if err := c.Enqueue(bg, []prompb.TimeSeries{series("b1", 1, 1, false)}); err != nil {
		t.Fatal(err)
	}
	<-arrived // b1 is in flight and held by the receiver: the shard's one place is free
	if err := c.Enqueue(bg, []prompb.TimeSeries{series("b2", 1, 1, false)}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(c.m.queueLength); n != 1 {
		t.Errorf("queue_length = %v, want 1", n)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	err := c.Enqueue(ctx, []prompb.TimeSeries{series("b3", 1, 1, false)})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "0 of 1 requests queued") {
		t.Fatalf("Enqueue into a full queue: err = %v, want Canceled with 0 of 1 queued", err)
	}
	release()
	if err := c.Close(bg); err != nil {
		t.Fatal(err)
	}
	if got := names(rc.requests()); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Errorf("receiver got %v, want [b1 b2]", got)
	}
	if n := testutil.ToFloat64(c.m.queueLength); n != 0 {
		t.Errorf("queue_length after close = %v, want 0", n)
	}
}

func TestFlushWaitsForEarlierRequests(t *testing.T) {
	rc, arrived, release := gatedReceiver(t)
	c := newClient(t, rc.url(), WithBatchSendDeadline(0))
	bg := context.Background()
	for i := range 3 {
		if err := c.Enqueue(bg, []prompb.TimeSeries{series(fmt.Sprint("b", i), 1, 1, false)}); err != nil {
			t.Fatal(err)
		}
	}
	<-arrived
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(bg) }()
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

// TestSplitsBatches sends a batch of many small series and one huge series
// through a client capped at 10 items per request.
func TestSplitsBatches(t *testing.T) {
	rc := newReceiver(t, nil)
	c := newClient(t, rc.url(), WithMaxSamplesPerSend(10), WithBatchSendDeadline(0))
	var many []prompb.TimeSeries
	for i := range 25 {
		many = append(many, series(fmt.Sprint("s", i), 1, 1, false))
	}
	huge := series("huge", 100, 25, true) // 25 samples + 1 exemplar
	if err := c.Enqueue(context.Background(), many); err != nil {
		t.Fatal(err)
	}
	if err := write(c, huge); err != nil {
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

// TestBatchSendDeadlineMerges: small batches enqueued one after the other
// leave in full requests, and Flush sends the rest at once.
func TestBatchSendDeadlineMerges(t *testing.T) {
	rc := newReceiver(t, nil)
	c := newClient(t, rc.url(), WithMaxSamplesPerSend(4), WithBatchSendDeadline(time.Hour))
	for i := range 10 {
		if err := c.Enqueue(context.Background(), []prompb.TimeSeries{series(fmt.Sprint("s", i), 1, 1, false)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, r := range rc.requests() {
		sizes = append(sizes, weightOf(r.req.Timeseries))
	}
	if want := []int{4, 4, 2}; !slices.Equal(sizes, want) {
		t.Errorf("request sizes = %v, want %v", sizes, want)
	}
	want := []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"}
	if got := names(rc.requests()); !slices.Equal(got, want) {
		t.Errorf("series arrived as %v, want %v", got, want)
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
			reqs := chunk(tc.in, tc.max, "t")
			var sizes []int
			got := map[string][]prompb.Sample{}
			for _, r := range reqs {
				if r.weight != weightOf(r.series) || r.tenant != "t" {
					t.Errorf("request weight %d tenant %q, want %d and t", r.weight, r.tenant, weightOf(r.series))
				}
				sizes = append(sizes, r.weight)
				for _, ts := range r.series {
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

// TestKeepsSeriesOrderAcrossShards sends rounds of samples through four
// shards with a receiver that answers after random short pauses, and checks
// that every series still receives its samples in order.
func TestKeepsSeriesOrderAcrossShards(t *testing.T) {
	rc := newReceiver(t, func(int, *received, http.ResponseWriter) int {
		time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
		return 0
	})
	c := newClient(t, rc.url(), WithShards(4), WithCapacity(20), WithMaxSamplesPerSend(5))
	bg := context.Background()
	const nSeries, rounds = 12, 10
	for r := range rounds {
		var batch []prompb.TimeSeries
		for s := range nSeries {
			batch = append(batch, series(fmt.Sprint("s", s), int64(r), 1, false))
		}
		if err := c.Enqueue(bg, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(bg); err != nil {
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

// TestTenantHeader: each tenant's series travel in requests of their own
// with the tenant as X-Scope-OrgID; series without a tenant go without it.
func TestTenantHeader(t *testing.T) {
	rc := newReceiver(t, nil)
	c := newClient(t, rc.url(), WithShards(3), WithTenantHeader("X-Scope-OrgID", "tenant"))
	withTenant := func(name, tenant string) prompb.TimeSeries {
		s := series(name, 1, 1, false)
		if tenant != "" {
			s.Labels = append(s.Labels, prompb.Label{Name: "tenant", Value: tenant})
		}
		return s
	}
	var batch []prompb.TimeSeries
	for i := range 30 {
		batch = append(batch, withTenant(fmt.Sprint("s", i), []string{"acme", "globex", ""}[i%3]))
	}
	if err := write(c, batch...); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, r := range rc.requests() {
		header := r.header.Get("X-Scope-OrgID")
		_, present := r.header["X-Scope-Orgid"]
		for _, ts := range r.req.Timeseries {
			seen++
			tenant := ""
			for _, l := range ts.Labels {
				if l.Name == "tenant" {
					tenant = l.Value
				}
			}
			if tenant != header || (tenant == "") == present {
				t.Errorf("series %s of tenant %q sent with X-Scope-OrgID %q (present %v)", ts.Labels[0].Value, tenant, header, present)
			}
		}
	}
	if seen != len(batch) {
		t.Errorf("receiver got %d series, want %d", seen, len(batch))
	}
}

func TestCloseRefusesMore(t *testing.T) {
	rc := newReceiver(t, nil)
	c := newClient(t, rc.url())
	bg := context.Background()
	for i := range 5 {
		if err := c.Enqueue(bg, []prompb.TimeSeries{series(fmt.Sprint("b", i), 1, 1, false)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(bg); err != nil {
		t.Fatal(err)
	}
	if got := len(names(rc.requests())); got != 5 {
		t.Errorf("receiver got %d series before Close returned, want 5", got)
	}
	if err := c.Enqueue(bg, []prompb.TimeSeries{series("late", 1, 1, false)}); !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("Enqueue after Close: err = %v, want ErrClosed", err)
	}
	if err := c.Flush(bg); !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("Flush after Close: err = %v, want ErrClosed", err)
	}
	if err := c.Close(bg); !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("second Close: err = %v, want ErrClosed", err)
	}
}

// TestCloseGivesUp closes a client whose receiver never answers: Close
// returns when its context ends, wakes a blocked Enqueue, and counts what is
// left as unsent.
func TestCloseGivesUp(t *testing.T) {
	rc, arrived, _ := gatedReceiver(t)
	c := newClient(t, rc.url(), WithCapacity(1), WithMaxSamplesPerSend(1))
	bg := context.Background()
	for _, name := range []string{"inflight", "queued"} {
		if err := c.Enqueue(bg, []prompb.TimeSeries{series(name, 1, 1, false)}); err != nil {
			t.Fatal(err)
		}
		if name == "inflight" {
			<-arrived
		}
	}
	blocked := make(chan error, 1)
	go func() { blocked <- c.Enqueue(bg, []prompb.TimeSeries{series("blocked", 1, 1, false)}) }()

	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := c.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close: err = %v, want Canceled", err)
	}
	if err := <-blocked; !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("Enqueue blocked during Close: err = %v, want ErrClosed", err)
	}
	if n := testutil.ToFloat64(c.m.queueLength); n != 0 {
		t.Errorf("queue_length after Close = %v, want 0", n)
	}
	if n := testutil.ToFloat64(c.m.droppedSamples.WithLabelValues(reasonClosed)); n != 2 {
		t.Errorf("dropped_samples{reason=closed} = %v, want 2 (in flight and queued)", n)
	}
}
