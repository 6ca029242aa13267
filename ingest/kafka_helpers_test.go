package ingest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// recorder is a Handler that keeps what it is given.
type recorder struct {
	mu        sync.Mutex
	metrics   []gotMetrics
	traces    []gotTraces
	pollDones int
	// handledSinceDone counts records handed over since the last PollDone;
	// PollDone must always follow them.
	handledSinceDone int
	lost             map[string][]int32
	lostAfterDone    bool // Every PartitionsLost came with nothing pending.
	pollErr          error
}

type gotMetrics struct {
	src Source
	md  pmetric.Metrics
}

type gotTraces struct {
	src Source
	td  ptrace.Traces
}

func newRecorder() *recorder { return &recorder{lost: map[string][]int32{}, lostAfterDone: true} }

func (r *recorder) HandleMetrics(src Source, md pmetric.Metrics) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics = append(r.metrics, gotMetrics{src, md})
	r.handledSinceDone++
}

func (r *recorder) HandleTraces(src Source, td ptrace.Traces) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.traces = append(r.traces, gotTraces{src, td})
	r.handledSinceDone++
}

func (r *recorder) PollDone(context.Context, time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pollDones++
	if r.pollErr != nil {
		return r.pollErr
	}
	r.handledSinceDone = 0
	return nil
}

func (r *recorder) PartitionsLost(_ context.Context, topic string, ps []int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lost[topic] = append(r.lost[topic], ps...)
	r.lostAfterDone = r.lostAfterDone && r.handledSinceDone == 0
}

func (r *recorder) counts() (metrics, traces int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.metrics), len(r.traces)
}

// newCluster starts a one-broker kfake cluster on 127.0.0.1 with the given
// topics of three partitions each.
func newCluster(t *testing.T, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func newClient(t *testing.T, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes records synchronously and returns them with their
// partitions and offsets set.
func produce(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// testOpts are Consumer options for a fast test against addrs.
func testOpts(addrs []string) []Opt {
	return []Opt{
		Brokers(addrs...),
		PollInterval(50 * time.Millisecond),
		ClientOpts(kgo.FetchMaxWait(100*time.Millisecond), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())),
	}
}

// running is a Consumer.Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, c *Consumer, h Handler) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// stop cancels Run and returns its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // For the cleanup.
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was canceled")
		return nil
	}
}

// waitFor polls cond until it holds, failing the test if Run returns first or
// after a generous bound: a deadlock guard, not a timing assertion.
func (r *running) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("Run returned %v while waiting for %s", err, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readAll returns every record of topic, read with a direct consumer.
func readAll(t *testing.T, addrs []string, topic string, want int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addrs, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d records of %s, want %d", len(out), topic, want)
		}
		out = append(out, fs.Records()...)
	}
	return out
}
