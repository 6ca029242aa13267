package testenv_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/internal/testenv"
)

// uniqueName returns a topic or group name of this test alone: the cluster
// is shared by the tests of the binary.
func uniqueName(t *testing.T, what string) string {
	b := make([]byte, 4)
	rand.Read(b)
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	return fmt.Sprintf("%s.%s.%s", name, what, hex.EncodeToString(b))
}

func createTopic(t *testing.T, ctx context.Context, brokers []string, topic string, partitions int32, rf int16, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
}

// consumeAll reads topic from the start until it has read want records.
func consumeAll(t *testing.T, ctx context.Context, brokers []string, topic string, want int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming %s: got %d of %d records: %v", topic, len(got), want, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetching %s/%d: %v", topic, p, err) })
		got = append(got, fs.Records()...)
	}
	return got
}

func TestKafkaProduceConsume(t *testing.T) {
	brokers := testenv.Kafka(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if len(brokers) != 1 || !strings.HasPrefix(brokers[0], "127.0.0.1:") {
		t.Fatalf("brokers = %v, want one on 127.0.0.1", brokers)
	}
	topic := uniqueName(t, "t")
	createTopic(t, ctx, brokers, topic, 3, 1)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("hello weir")}).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
	got := consumeAll(t, ctx, brokers, topic, 1)
	if len(got) != 1 || string(got[0].Key) != "k" || string(got[0].Value) != "hello weir" {
		t.Fatalf("consumed %d records, first %q=%q; want k=hello weir", len(got), got[0].Key, got[0].Value)
	}
}

// TestKafkaGroupTransactSession runs the consume-transform-produce loop that
// weir's stage 1 runs: records of an input topic are copied to an output
// topic and the input offsets committed in one transaction each poll. A
// read_committed consumer must see every record once, and an aborted
// transaction's records never.
func TestKafkaGroupTransactSession(t *testing.T) {
	brokers := testenv.Kafka(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in, out, group := uniqueName(t, "in"), uniqueName(t, "out"), uniqueName(t, "g")
	createTopic(t, ctx, brokers, in, 4, 1)
	createTopic(t, ctx, brokers, out, 4, 1)

	const n = 100
	p, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(in))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var want []string
	for i := range n {
		v := fmt.Sprintf("r%03d", i)
		want = append(want, v)
		if err := p.ProduceSync(ctx, &kgo.Record{Key: []byte(v), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("producing input: %v", err)
		}
	}

	s, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(brokers...),
		kgo.TransactionalID(uniqueName(t, "txn")),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DefaultProduceTopic(out),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for copied := 0; copied < n; {
		fs := s.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("transactional copy: %d of %d records: %v", copied, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetching %s/%d: %v", topic, p, err) })
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		if err := s.Begin(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		for _, r := range recs {
			s.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("transactional produce: %v", err)
				}
			})
		}
		committed, err := s.End(ctx, kgo.TryCommit)
		if err != nil || !committed {
			t.Fatalf("end transaction: committed=%v err=%v", committed, err)
		}
		copied += len(recs)
	}

	// An aborted transaction on the output topic must stay invisible.
	ap, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(uniqueName(t, "abort")), kgo.DefaultProduceTopic(out))
	if err != nil {
		t.Fatal(err)
	}
	defer ap.Close()
	if err := ap.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := ap.ProduceSync(ctx, &kgo.Record{Value: []byte("aborted")}).FirstErr(); err != nil {
		t.Fatalf("producing the aborted record: %v", err)
	}
	if err := ap.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatalf("abort: %v", err)
	}
	// A committed marker after the abort: once it is read, the aborted
	// record would have been read too, had it been visible.
	if err := p.ProduceSync(ctx, &kgo.Record{Topic: out, Partition: 0, Value: []byte("zzz-last")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want = append(want, "zzz-last")

	recs := consumeAll(t, ctx, brokers, out, n+1, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Value))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("read_committed output:\n got %v\nwant %v", got, want)
	}

	adm := kadm.NewClient(p)
	offs, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		t.Fatalf("fetching committed offsets of %s: %v", group, err)
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		t.Fatalf("group %s committed offsets summing to %d, want %d", group, total, n)
	}
}

// TestKafkaThreeNodes checks the failure-test setup on a private cluster:
// with one node of three stopped, a topic replicated three times still takes
// writes and transactions still commit (internal topics have min ISR 2), the
// node rejoins, and a node killed with -9 and restarted comes back too.
func TestKafkaThreeNodes(t *testing.T) {
	c := testenv.StartKafka(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	brokers := c.Brokers()
	if len(brokers) != 3 {
		t.Fatalf("brokers = %v, want 3", brokers)
	}
	topic := uniqueName(t, "t")
	createTopic(t, ctx, brokers, topic, 3, 3)

	// A controlled shutdown moves leadership at once; after a kill -9 the
	// cluster would first wait out broker.session.timeout.ms (15 s).
	c.StopNode(t, 2, false)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers[0], brokers[2]), kgo.DefaultProduceTopic(topic),
		kgo.TransactionalID(uniqueName(t, "txn")))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatalf("producing with node 2 down: %v", err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("committing with node 2 down: %v", err)
	}

	c.StartNode(t, 2)
	waitBrokers(t, ctx, brokers, 3)

	// kill -9 and start at once: the new incarnation's registration fences
	// the old one without waiting for its session to time out.
	c.Restart(t, 3, true)
	waitBrokers(t, ctx, brokers, 3)

	// Node 2 missed the writes while it was down: read them from it alone.
	recs := consumeAll(t, ctx, []string{brokers[1]}, topic, 10, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if len(recs) != 10 {
		t.Fatalf("read %d committed records, want 10", len(recs))
	}
}

// waitBrokers waits until the cluster's metadata lists n brokers: a node
// that just started is registered with the controller first and reaches the
// other brokers' metadata caches a moment later. Each try uses a new client:
// kadm's BrokerMetadata answers from the client's metadata cache.
func waitBrokers(t *testing.T, ctx context.Context, brokers []string, n int) {
	t.Helper()
	for {
		got, err := countBrokers(ctx, brokers)
		if got == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d brokers in the metadata: last %d, err %v", n, got, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func countBrokers(ctx context.Context, brokers []string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	return len(md.Brokers), err
}
