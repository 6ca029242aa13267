package ingest

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sample"
)

const (
	spansTopic   = "otlp_spans"
	metricsTopic = "otlp_metrics"
	dlqTopic     = "weir.dlq"
)

func metricRecords(t *testing.T, enc Encoding, steps ...int) []*kgo.Record {
	var m pmetric.Marshaler = &pmetric.ProtoMarshaler{}
	if enc == EncodingJSON {
		m = &pmetric.JSONMarshaler{}
	}
	var out []*kgo.Record
	for _, s := range steps {
		v, err := m.MarshalMetrics(metricBatch(s))
		if err != nil {
			t.Fatal(err)
		}
		// One partition keeps the cumulative series in order, as a
		// collector's producer does for one batch stream.
		out = append(out, &kgo.Record{Topic: metricsTopic, Partition: 1, Value: v})
	}
	return out
}

func TestConsumerEndToEnd(t *testing.T) {
	traces := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	const spansPerTrace = 4
	for _, enc := range []Encoding{EncodingProto, EncodingJSON} {
		for _, perTrace := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/per_trace=%v", enc, perTrace), func(t *testing.T) {
				addrs := newCluster(t, spansTopic, metricsTopic, dlqTopic)
				var recs []*kgo.Record
				for _, r := range traceRecords(t, enc, traces, spansPerTrace, 3, perTrace) {
					recs = append(recs, &kgo.Record{Topic: spansTopic, Key: r.key, Value: r.value})
				}
				recs = append(recs, metricRecords(t, enc, 1, 2)...)
				produce(t, newClient(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner())), assignPartitions(recs)...)

				c, err := NewConsumer(append(testOpts(addrs), TracesEncoding(enc), MetricsEncoding(enc), Group("e2e"))...)
				if err != nil {
					t.Fatal(err)
				}
				h := newRecorder()
				run := start(t, c, h)
				run.waitFor(t, "all records", func() bool { m, tr := h.counts(); return m == 2 && tr == len(recs)-2 })
				if err := run.stop(t); err != nil {
					t.Fatalf("Run returned %v after cancel, want nil", err)
				}
				checkSources(t, h, recs)
				checkSpans(t, enc, h, len(traces)*spansPerTrace, perTrace)
				checkMetrics(t, h)
				if h.pollDones == 0 || !h.lostAfterDone || h.handledSinceDone != 0 {
					t.Errorf("PollDone calls %d, PartitionsLost after PollDone %v, handled after last PollDone %d",
						h.pollDones, h.lostAfterDone, h.handledSinceDone)
				}
				for _, topic := range []string{spansTopic, metricsTopic} {
					if got := slices.Sorted(slices.Values(h.lost[topic])); !slices.Equal(got, []int32{0, 1, 2}) {
						t.Errorf("PartitionsLost(%s) got partitions %v, want [0 1 2]", topic, got)
					}
				}
				checkCommitted(t, addrs, "e2e", recs)
			})
		}
	}
}

// assignPartitions spreads the records over partitions by key, as the
// exporter's hash partitioner would; unkeyed records keep their partition.
func assignPartitions(recs []*kgo.Record) []*kgo.Record {
	for i, r := range recs {
		if r.Key != nil {
			r.Partition = int32(i % 3)
		}
	}
	return recs
}

func checkSources(t *testing.T, h *recorder, recs []*kgo.Record) {
	t.Helper()
	var got []Source
	for _, m := range h.metrics {
		got = append(got, m.src)
	}
	for _, tr := range h.traces {
		got = append(got, tr.src)
	}
	for _, r := range recs {
		i := slices.IndexFunc(got, func(s Source) bool { return s.Topic == r.Topic && s.Partition == r.Partition && s.Offset == r.Offset })
		if i < 0 {
			t.Errorf("record %s/%d@%d not handled", r.Topic, r.Partition, r.Offset)
			continue
		}
		s := got[i]
		if !bytes.Equal(s.Key, r.Key) || !bytes.Equal(s.Value, r.Value) || !s.Time.Equal(r.Timestamp) || s.Tenant != "" {
			t.Errorf("record %s/%d@%d: source key %q time %v tenant %q, want key %q time %v, same value",
				r.Topic, r.Partition, r.Offset, s.Key, s.Time, s.Tenant, r.Key, r.Timestamp)
		}
	}
	if len(got) != len(recs) {
		t.Errorf("handled %d records, produced %d", len(got), len(recs))
	}
}

func checkSpans(t *testing.T, enc Encoding, h *recorder, wantSpans int, perTrace bool) {
	t.Helper()
	conv := NewSpanConverter()
	var points []sample.Point
	traceCalls := 0
	for _, tr := range h.traces {
		before := len(points)
		conv.Convert(tr.td, tr.src.Partition, tr.src.Tenant, collect(&points))
		for _, p := range points[before:] {
			if p.Exemplar.Partition != tr.src.Partition || !p.Exemplar.Valid() || p.Labels.Get("__name__") != SpanDurationMetric {
				t.Fatalf("span point %s", pointString(p))
			}
			if perTrace && hex.EncodeToString(p.Exemplar.TraceID[:]) != string(tr.src.Key) {
				t.Errorf("span of trace %s in the record keyed %s", p.Exemplar.TraceID, tr.src.Key)
			}
		}
		err := ForEachTrace(enc, tr.src.Value, tr.td, func(_ sample.TraceID, raw []byte, _ int, _ bool) {
			traceCalls++
			if perTrace && &raw[0] != &tr.src.Value[0] {
				t.Error("a one-trace record was re-marshaled")
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(points) != wantSpans {
		t.Errorf("%d span points, want %d", len(points), wantSpans)
	}
	if traceCalls != 12 {
		t.Errorf("ForEachTrace made %d calls over all records, want 12 traces", traceCalls)
	}
}

func checkMetrics(t *testing.T, h *recorder) {
	t.Helper()
	conv := NewMetricConverter()
	var points []sample.Point
	for _, m := range h.metrics {
		conv.Convert(m.md, m.src.Tenant, collect(&points))
	}
	var kinds []string
	for _, p := range points {
		kinds = append(kinds, p.Labels.Get("__name__")+":"+p.Kind.String())
	}
	want := []string{
		"process_memory_usage:gauge", "http_server_duration:histogram", // Step 1: the sum is a baseline.
		"process_memory_usage:gauge", "http_server_requests:delta", "http_server_duration:histogram",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("metric points %v, want %v", kinds, want)
	}
}

// checkCommitted checks that the group committed past every record.
func checkCommitted(t *testing.T, addrs []string, group string, recs []*kgo.Record) {
	t.Helper()
	offs, err := kadm.NewClient(newClient(t, addrs)).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32]int64{}
	for _, r := range recs {
		if want[r.Topic] == nil {
			want[r.Topic] = map[int32]int64{}
		}
		want[r.Topic][r.Partition] = max(want[r.Topic][r.Partition], r.Offset+1)
	}
	for topic, ps := range want {
		for p, at := range ps {
			o, ok := offs.Lookup(topic, p)
			if !ok || o.Err != nil || o.At != at {
				t.Errorf("committed %s/%d = %+v (found %v), want %d", topic, p, o, ok, at)
			}
		}
	}
}
