package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdev/weir/internal/testenv"
)

// TestBackToBackTransactionsCommit: on the real broker, transactions that
// each consume one record and produce one or none, begun as soon as the previous
// ended (as a stage does with a backlog, after a broker restart), all
// commit. Kafka's KIP-890 transactions refuse, as abortable, the offset
// commit of a transaction begun within a few milliseconds of the previous
// end (measured in TestBrokerRestart's logs: 24 of 40 such transactions
// aborted, against 2 of 340 begun later), and every abort makes a stage
// replay its input.
func TestBackToBackTransactionsCommit(t *testing.T) {
	brokers := testenv.Kafka(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 40
	in, out := "txn-in", "txn-out"
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(in))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, -1, nil, in, out); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	clients, err := NewClients(brokers, Security{}, log)
	if err != nil {
		t.Fatal(err)
	}
	noop := func(context.Context, *kgo.Client, map[string][]int32) {}
	tx, err := openTxn(Config{Client: clients, Logger: log}, topology{dlqMaxBytes: 1 << 20}, "test", "txn-group", "txn-test", noop, noop, in)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.close(ctx)
	committed, tries := 0, 0
	for done := 0; done < n; {
		fs := tx.sess.PollRecords(ctx, 1)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d records consumed: %v", done, n, ctx.Err())
		}
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		if err := tx.begin("test"); err != nil {
			t.Fatal(err)
		}
		if done%2 == 0 {
			// Half produce nothing: their offset commit is the
			// transaction's first request, as in a stage's transaction
			// that only moves its offsets on.
			tx.produce(&kgo.Record{Topic: out, Value: recs[0].Value})
		}
		tries++
		ok, err := tx.end(ctx, "test", func(*kmsg.TxnOffsetCommitRequest) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Logf("record %d: the transaction aborted (produced: %v)", done, done%2 == 0)
		}
		if ok {
			committed++
			done += len(recs)
		}
		if tx.endFailed {
			t.Fatal("a transaction's end failed")
		}
	}
	if committed != n || tries != n {
		t.Errorf("%d records took %d transactions: %d aborted", n, tries, tries-n)
	}
}
