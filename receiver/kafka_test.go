package receiver

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TestKafka: through a real franz-go client (ProducerOpts) on kfake, the
// answer comes after the records are in the topic, and each trace sits in
// the partition kafkaexporter's partitioner gives its key.
func TestKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, "spans"), kfake.SeedTopics(2, "metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(append(ProducerOpts(), kgo.SeedBrokers(c.ListenAddrs()...))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r, err := New(cl, Config{HTTP: "127.0.0.1:0", SpansTopic: "spans", MetricsTopic: "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	body, _ := ptraceotlp.NewExportRequestFromTraces(twoServices()).MarshalProto()
	if resp, b := post(t, "http://"+r.HTTPAddr()+TracesPath, contentProto, nil, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	// Acknowledged means written: the records are there to read at once.
	rd, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("spans"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	var got []*kgo.Record
	for len(got) < 3 && rctx.Err() == nil {
		rd.PollFetches(rctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	if len(got) != 3 {
		t.Fatalf("read %d records, want 3", len(got))
	}
	for _, rec := range got {
		if want := int32(saramaPartition(rec.Key, 8)); rec.Partition != want {
			t.Errorf("record keyed %s in partition %d, kafkaexporter's partitioner gives %d", rec.Key, rec.Partition, want)
		}
	}
}

// saramaPartition is sarama's hash partitioning of key over n partitions.
func saramaPartition(key []byte, n int32) int32 {
	p := int32(fnv1a32(key)) % n
	if p < 0 {
		p = -p
	}
	return p
}
