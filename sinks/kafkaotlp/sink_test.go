package kafkaotlp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/prompb"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/sinks/sendqueue"
)

const topic = "weir_rollups"

func cluster(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func newSink(t *testing.T, brokers []string, opts ...Opt) *Sink {
	t.Helper()
	s, err := New(brokers, topic, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// consume reads n records of the topic from the start and decodes each.
func consume(t *testing.T, brokers []string, n int) []pmetric.Metrics {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []pmetric.Metrics
	var u pmetric.ProtoUnmarshaler
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			md, err := u.UnmarshalMetrics(r.Value)
			if err != nil {
				t.Fatalf("record %d/%d does not decode as OTLP MetricsData: %v", r.Partition, r.Offset, err)
			}
			out = append(out, md)
		})
	}
	return out
}

// windows builds n series like one closed window of a p99 rollup: each with
// a sample and a trace-linked exemplar.
func windows(n int, at int64) []prompb.TimeSeries {
	out := make([]prompb.TimeSeries, n)
	for i := range out {
		out[i] = prompb.TimeSeries{
			Labels: lbls("__name__", "span_duration_seconds", "quantile", "0.99",
				"service_name", fmt.Sprintf("svc-%03d", i), "span_name", "GET /items/{id}"),
			Samples: []prompb.Sample{{Value: float64(i) / 100, Timestamp: at}},
			Exemplars: []prompb.Exemplar{{
				Labels:    lbls("span_id", fmt.Sprintf("%016x", i+1), "trace_id", fmt.Sprintf("%032x", 1000+i)),
				Value:     float64(i)/100 + 0.0001,
				Timestamp: at - 3000,
			}},
		}
	}
	return out
}

// expected is what flatten prints for series, computed from the prompb form.
func expected(series []prompb.TimeSeries) []string {
	var out []string
	for _, ts := range series {
		name := metricName(&ts)
		var attrs []string
		for _, l := range ts.Labels {
			if l.Name != "__name__" {
				attrs = append(attrs, l.Name+"="+l.Value)
			}
		}
		slices.Sort(attrs)
		for i, s := range ts.Samples {
			line := fmt.Sprintf("%s{%s} @%d %v", name, strings.Join(attrs, ","), s.Timestamp, s.Value)
			if i == len(ts.Samples)-1 {
				for _, e := range ts.Exemplars {
					var tid, sid string
					for _, l := range e.Labels {
						switch l.Name {
						case "trace_id":
							tid = l.Value
						case "span_id":
							sid = l.Value
						}
					}
					line += fmt.Sprintf(" | ex trace=%s span=%s v=%v @%d ", tid, sid, e.Value, e.Timestamp)
				}
			}
			out = append(out, line)
		}
	}
	slices.Sort(out)
	return out
}

func flattenAll(mds []pmetric.Metrics) []string {
	var out []string
	for _, md := range mds {
		out = append(out, flatten(md)...)
	}
	slices.Sort(out)
	return out
}

func TestSinkWritesWhatAConsumerDecodes(t *testing.T) {
	brokers := cluster(t)
	reg := prometheus.NewRegistry()
	s := newSink(t, brokers, WithRegisterer(reg), WithName("p99"), WithMaxPointsPerRecord(40))
	in := append(windows(100, 1_700_000_010_000), windows(30, 1_700_000_020_000)...)
	ctx := context.Background()
	if err := s.Enqueue(ctx, in[:100]); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, in[100:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// 100 series in records of ≤40 points: 40+40+20, then 30.
	mds := consume(t, brokers, 4)
	if got, want := flattenAll(mds), expected(in); !slices.Equal(got, want) {
		t.Fatalf("consumer read\n%s\nwant\n%s", strings.Join(first(got), "\n"), strings.Join(first(want), "\n"))
	}
	for _, md := range mds {
		if md.DataPointCount() > 40 {
			t.Errorf("a record holds %d points, more than the 40 allowed", md.DataPointCount())
		}
		if n := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().Len(); n != 1 {
			t.Errorf("a record holds %d metrics for one metric name", n)
		}
	}
	if got := testutil.ToFloat64(s.m.points); got != 130 {
		t.Errorf("points_total %v, want 130", got)
	}
	if got := testutil.ToFloat64(s.m.exemplars); got != 130 {
		t.Errorf("exemplars_total %v, want 130", got)
	}
	if got := testutil.ToFloat64(s.m.records.WithLabelValues("ok")); got != 4 {
		t.Errorf("records_total{result=ok} %v, want 4", got)
	}
	if n, err := testutil.GatherAndCount(reg, "weir_kafka_sink_points_total"); err != nil || n != 1 {
		t.Errorf("registered weir_kafka_sink_points_total: %d, %v", n, err)
	}
}

func first(s []string) []string {
	if len(s) > 5 {
		return append(s[:5:5], "...")
	}
	return s
}

func TestSinkSplitsRecordsBySize(t *testing.T) {
	brokers := cluster(t)
	huge := prompb.TimeSeries{
		Labels:  lbls("__name__", "huge", "blob", strings.Repeat("x", 5000)),
		Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}},
	}
	s := newSink(t, brokers, WithMaxRecordBytes(4096))
	in := windows(200, 1_700_000_010_000) // ≈140 bytes a point: several records of ≤4 KiB
	if err := s.Enqueue(context.Background(), append(slices.Clone(in[:100]), append([]prompb.TimeSeries{huge}, in[100:]...)...)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	records := int(testutil.ToFloat64(s.m.records.WithLabelValues("ok")))
	if records < 5 {
		t.Fatalf("%d records for ~28 KB of points with a 4 KiB limit", records)
	}
	mds := consume(t, brokers, records)
	if got, want := flattenAll(mds), expected(in); !slices.Equal(got, want) {
		t.Fatalf("consumer read %d points, want %d (the huge series dropped, all others intact)", len(got), len(want))
	}
	var m pmetric.ProtoMarshaler
	for _, md := range mds {
		if size := m.MetricsSize(md); size > 4096 {
			t.Errorf("a record of %d bytes, over the 4096 limit", size)
		}
	}
	if got := testutil.ToFloat64(s.m.dropped.WithLabelValues(reasonTooLarge)); got != 1 {
		t.Errorf("dropped_series_total{reason=too_large} %v, want 1", got)
	}
}

func TestSinkCountsDroppedSeriesWithoutFailing(t *testing.T) {
	s := newSink(t, cluster(t))
	in := []prompb.TimeSeries{
		{Labels: lbls("job", "a"), Samples: []prompb.Sample{{Value: 1, Timestamp: 1}}},
		{Labels: lbls("__name__", "nh"), Histograms: []prompb.Histogram{{Timestamp: 1}}},
	}
	if err := s.Enqueue(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for reason, want := range map[string]float64{reasonNoName: 1, reasonHistogram: 1} {
		if got := testutil.ToFloat64(s.m.dropped.WithLabelValues(reason)); got != want {
			t.Errorf("dropped_series_total{reason=%s} %v, want %v", reason, got, want)
		}
	}
	if got := testutil.ToFloat64(s.m.records.WithLabelValues("ok")); got != 0 {
		t.Errorf("%v records produced for nothing to write", got)
	}
}

func TestSinkResourceAttributes(t *testing.T) {
	brokers := cluster(t)
	s := newSink(t, brokers, WithResourceAttributes(map[string]string{"service.name": "weir"}))
	if err := s.Enqueue(context.Background(), windows(1, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	md := consume(t, brokers, 1)[0]
	if v, ok := md.ResourceMetrics().At(0).Resource().Attributes().Get("service.name"); !ok || v.Str() != "weir" {
		t.Errorf("resource service.name = %v, %v; want weir", v.AsString(), ok)
	}
}

func TestFlushReportsFailedRecords(t *testing.T) {
	brokers := cluster(t)
	s, err := New(brokers, "no_such_topic", WithClientOpts(kgo.UnknownTopicRetries(0)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if err := s.Enqueue(context.Background(), windows(3, 1000)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = s.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), "topic no_such_topic: records failed") || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush: %v; want 1 failed record of topic no_such_topic", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Errorf("second Flush reports %v; failures are reported once", err)
	}
	if got := testutil.ToFloat64(s.m.records.WithLabelValues("error")); got != 1 {
		t.Errorf("records_total{result=error} %v, want 1", got)
	}
}

func TestEnqueueAfterCancelAndClose(t *testing.T) {
	s := newSink(t, cluster(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Enqueue(ctx, windows(2, 1000)); !errors.Is(err, context.Canceled) {
		t.Errorf("Enqueue with a canceled context: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Enqueue(context.Background(), windows(2, 1000)); !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("Enqueue after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(context.Background()); !errors.Is(err, sendqueue.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	brokers := []string{"127.0.0.1:1"}
	for _, tt := range []struct {
		name    string
		brokers []string
		topic   string
		opts    []Opt
		want    string
	}{
		{"no brokers", nil, topic, nil, `topic "weir_rollups": no brokers`},
		{"no topic", brokers, "", nil, "empty topic"},
		{"points", brokers, topic, []Opt{WithMaxPointsPerRecord(0)}, "max points per record 0"},
		{"bytes", brokers, topic, []Opt{WithMaxRecordBytes(100)}, "max record bytes 100"},
		{"logger", brokers, topic, []Opt{WithLogger(nil)}, "logger is nil"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.brokers, tt.topic, tt.opts...)
			if err == nil {
				s.Close(context.Background())
				t.Fatal("New accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
	reg := prometheus.NewRegistry()
	a, err := New(brokers, topic, WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	if b, err := New(brokers, topic, WithRegisterer(reg)); err == nil || !strings.Contains(err.Error(), "distinct WithName") {
		if b != nil {
			b.Close(context.Background())
		}
		t.Errorf("second sink with the same topic and name on one registerer: %v", err)
	}
}
