package kafkaotlp

import (
	"context"
	"log/slog"
	"testing"
)

// BenchmarkEncode measures the conversion and marshaling of one stage-2
// flush: 1,000 quantile series with exemplars, into records.
func BenchmarkEncode(b *testing.B) {
	in := windows(1000, 1_700_000_010_000)
	s := &Sink{topic: topic, cfg: defaultConfig(), m: newMetrics(topic, ""), log: slog.New(slog.DiscardHandler)}
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int
	for b.Loop() {
		for _, r := range s.encode(in) {
			bytes += len(r.value)
		}
	}
	b.ReportMetric(float64(b.N*len(in))/b.Elapsed().Seconds(), "series/s")
	b.ReportMetric(float64(bytes)/float64(b.N*len(in)), "B/series")
}

// BenchmarkEnqueueFlush adds the producer and the acknowledgements of an
// in-process broker (kfake).
func BenchmarkEnqueueFlush(b *testing.B) {
	in := windows(1000, 1_700_000_010_000)
	s, err := New(cluster(b), topic)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Enqueue(ctx, in); err != nil {
			b.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(in))/b.Elapsed().Seconds(), "series/s")
}
