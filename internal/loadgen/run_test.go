package loadgen

import (
	"context"
	"encoding/hex"
	"hash/fnv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/receiver"
)

// waitRun waits for Run to return; a Run that does not return after its
// context is done is the failure this guards against, not slowness.
func waitRun(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

func TestRunPublishesLikeKafkaexporter(t *testing.T) {
	const partitions = 4
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, "otlp_spans", "otlp_metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), receiver.PartitionerOpt())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("otlp_spans", "otlp_metrics"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()

	g := New(WithSeed(99), WithTraceRate(2000), WithMetricsInterval(20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, prod, "otlp_spans", "otlp_metrics") }()

	// The reference partitioner: sarama's FNV-1a hash partitioner as
	// franz-go's SaramaCompatHasher reproduces it, on hash/fnv.
	hasher := kgo.SaramaCompatHasher(func(b []byte) uint32 { h := fnv.New32a(); h.Write(b); return h.Sum32() })
	u := ptrace.ProtoUnmarshaler{}
	mu := pmetric.ProtoUnmarshaler{}
	spanRecs, metricRecs := 0, 0
	perPartition := map[int32]int{}
	tracePartition := map[string]int32{}
	pollCtx, pollCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pollCancel()
	for spanRecs < 400 || metricRecs < 3 {
		fs := cons.PollFetches(pollCtx)
		if pollCtx.Err() != nil {
			t.Fatalf("gave up waiting: %d span records, %d metrics records consumed", spanRecs, metricRecs)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Headers) != 0 {
				t.Fatalf("%s record with %d headers, want none", r.Topic, len(r.Headers))
			}
			switch r.Topic {
			case "otlp_metrics":
				metricRecs++
				if r.Key != nil {
					t.Fatalf("metrics record with key %q, want nil", r.Key)
				}
				md, err := mu.UnmarshalMetrics(r.Value)
				if err != nil || md.DataPointCount() == 0 {
					t.Fatalf("metrics record: %d points, err %v", md.DataPointCount(), err)
				}
			case "otlp_spans":
				spanRecs++
				td, err := u.UnmarshalTraces(r.Value)
				if err != nil {
					t.Fatalf("span record at %d/%d: %v", r.Partition, r.Offset, err)
				}
				if td.ResourceSpans().Len() != 1 || td.ResourceSpans().At(0).ScopeSpans().Len() != 1 {
					t.Fatalf("span record holds %d resources, want 1 (one record per service)", td.ResourceSpans().Len())
				}
				spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
				for k := 0; k < spans.Len(); k++ {
					id := spans.At(k).TraceID()
					if string(r.Key) != hex.EncodeToString(id[:]) {
						t.Fatalf("record keyed %q holds a span of trace %x", r.Key, id)
					}
				}
				if want := int32(hasher(r.Key, partitions)); r.Partition != want {
					t.Fatalf("record keyed %s in partition %d, the sarama-compatible hasher says %d", r.Key, r.Partition, want)
				}
				if p, ok := tracePartition[string(r.Key)]; ok && p != r.Partition {
					t.Fatalf("trace %s in partitions %d and %d", r.Key, p, r.Partition)
				}
				tracePartition[string(r.Key)] = r.Partition
				perPartition[r.Partition]++
			}
		})
	}
	cancel()
	waitRun(t, done)

	if len(perPartition) != partitions {
		t.Fatalf("span records in partitions %v, want all %d used", perPartition, partitions)
	}
	if len(tracePartition) >= spanRecs {
		t.Fatalf("%d traces in %d records: want several service records per trace", len(tracePartition), spanRecs)
	}
}

// TestRunReturnsWhileProduceBlocks: with no reachable broker and a tiny
// buffer Produce blocks; cancelling still returns Run at once.
func TestRunReturnsWhileProduceBlocks(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.MaxBufferedRecords(8), receiver.PartitionerOpt())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var traces atomic.Int64
	g := New(WithTraceRate(5000), WithClock(func() time.Time { traces.Add(1); return time.Now() }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, cl, "otlp_spans", "otlp_metrics") }()
	for traces.Load() < 3 { // past the 8 buffered records
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	waitRun(t, done)
}

func TestRunBadArguments(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, tc := range []struct {
		name           string
		cl             *kgo.Client
		spans, metrics string
	}{
		{"nil client", nil, "s", "m"},
		{"no spans topic", cl, "", "m"},
		{"no metrics topic", cl, "s", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := New().Run(context.Background(), tc.cl, tc.spans, tc.metrics); err == nil {
				t.Fatal("Run accepted bad arguments")
			}
		})
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  func() Opt
	}{
		{"negative rate", func() Opt { return WithTraceRate(-1) }},
		{"error rate above 1", func() Opt { return WithErrorRate(1.5) }},
		{"zero interval", func() Opt { return WithMetricsInterval(0) }},
		{"nil clock", func() Opt { return WithClock(nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.opt()
		})
	}
}
