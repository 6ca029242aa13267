package cluster

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Records that do not decode reach the dead-letter topic, whatever their
// size: one just under the broker's max message size (above franz-go's
// default batch size) whole, one above it cut with its original size in a
// header, each with headers naming the error and where it was read; the
// good records around them are aggregated.
func TestDeadLetters(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, DefaultSpansTopic, DefaultMetricsTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(8<<20), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	garbage := func(n int) []byte { return bytes.Repeat([]byte{0xff}, n) }
	sizes := []int{1_020_000, 3 << 20, 10}
	var recs []*kgo.Record
	for i, n := range sizes {
		topic := DefaultMetricsTopic
		if i == 1 {
			topic = DefaultSpansTopic
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: garbage(n)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, brokers, newCapture(), "dlq")
	defer n.stop(t)

	got := map[string]*kgo.Record{}
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(DefaultDeadLetterTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(16<<20), kgo.FetchMaxPartitionBytes(16<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(got) < len(sizes) && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[string(r.Key)] = r })
	}
	header := func(r *kgo.Record, k string) string {
		for _, h := range r.Headers {
			if h.Key == k {
				return string(h.Value)
			}
		}
		return ""
	}
	for i, size := range sizes {
		r := got[strconv.Itoa(i)]
		if r == nil {
			t.Fatalf("dead letter of record %d (%d bytes) missing; got %d of %d", i, size, len(got), len(sizes))
		}
		if header(r, HeaderError) == "" || header(r, HeaderTopic) != recs[i].Topic || header(r, HeaderOffset) == "" {
			t.Errorf("record %d: headers %v", i, r.Headers)
		}
		switch whole := size < defaultMaxMessageBytes-recordOverhead; {
		case whole && len(r.Value) != size:
			t.Errorf("record %d: %d bytes stored of %d", i, len(r.Value), size)
		case !whole && (header(r, HeaderSize) != strconv.Itoa(size) || len(r.Value) >= size || len(r.Value) < size/4):
			t.Errorf("record %d (%d bytes): stored %d bytes, %s=%q", i, size, len(r.Value), HeaderSize, header(r, HeaderSize))
		}
	}
}
