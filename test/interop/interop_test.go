// Package interop tests weir against the OpenTelemetry Collector's own Kafka
// components and the real Kafka, Prometheus and Jaeger. It is a module of its
// own so that the collector's dependency tree never enters weir's go.mod.
package interop

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/kafkaexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kafkareceiver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/weirdev/weir/sinks/kafkaotlp"
)

const (
	spansTopic   = "interop_spans"
	metricsTopic = "interop_metrics"
	rollupsTopic = "interop_rollups"
	group        = "interop"
)

const rulesYAML = `
rollup:
  - name: span-red
    match: '{__name__="span_duration_seconds"}'
    output: span_duration_seconds
    by: [service_name, span_name, span_kind, status_code]
    aggregations: [count, sum, p50, p99]
    policies: [10s:2d]
  - name: queue-depth
    match: interop_queue_depth
    output: 'interop_queue_depth:by_job'
    by: [job]
    aggregations: [sum, count, max, p99]
    policies: [10s:2d]
`

// weirConfig is the configuration of one `weir run`: the collector's topics
// and encodings (traces otlp_proto, metrics otlp_json), windows closed by
// watermark (allowed lateness covers the exporter's batches), tail sampling
// without a baseline so that Jaeger gets only the traces weir decided to
// keep, remote write to Prometheus, and the Kafka sink.
func weirConfig(c components, name string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
kafka:
  brokers: [%s]
  group: %s
  metrics_topic: %s
  spans_topic: %s
  metrics_encoding: otlp_json
  traces_encoding: otlp_proto
  partials_topic: interop.partials
  decisions_topic: interop.decisions
  dead_letter_topic: interop.dlq
  state_topic: interop.state
  transactional_id: interop-%s
  session_timeout: 6s
rules: [rules.yaml]
aggregation:
  allowed_lateness: 10s
  idle_timeout: 5s
  close_timeout: 2m
tail_sampling:
  decision_wait: 60s
  baseline_rate: 0
remote_write:
  - url: %s/api/v1/write
kafka_sinks:
  - topic: %s
traces:
  endpoint: %s
  insecure: true
unmatched:
  drop: true
`, strings.Join(c.brokers, ", "), group, metricsTopic, spansTopic, name, c.promURL, rollupsTopic, c.jaegerOTLP)
}

// TestCollectorKafkaToPrometheusAndJaeger: the collector's kafkaexporter
// publishes a generated workload (traces otlp_proto partitioned by trace ID,
// metrics otlp_json) to a real broker; two `weir run` processes consume it;
// Prometheus gets the rollups with their p99 exemplars, Jaeger the traces
// those exemplars name, and the collector's kafkareceiver reads weir's Kafka
// sink and finds the very samples and exemplars Prometheus has.
func TestCollectorKafkaToPrometheusAndJaeger(t *testing.T) {
	start0 := time.Now()
	binc := make(chan string, 1)
	go func() { binc <- weirBinaryOrEmpty(t) }()
	c := start(t)
	bin := <-binc
	if bin == "" {
		t.FailNow()
	}
	t.Logf("components and weir binary ready in %.1fs: kafka %v, prometheus %s, jaeger %s", time.Since(start0).Seconds(), c.brokers, c.promURL, c.jaegerURL)
	// ctx ends on the test's deadline or when a weir process dies.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ctx, died := context.WithCancelCause(ctx)
	defer died(nil)

	createTopics(t, ctx, c.brokers, map[string]int32{spansTopic: 8, metricsTopic: 2, rollupsTopic: 4})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rulesYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	var procs []*weir
	var addrs []string
	for _, name := range []string{"a", "b"} {
		cfg := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(cfg, []byte(weirConfig(c, name)), 0o644); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, startWeir(t, bin, name, cfg, died))
	}
	for _, p := range procs {
		addrs = append(addrs, p.addr(t, ctx))
	}
	waitForGroups(t, ctx, c.brokers, 2, group, group+".partials")

	// The workload: 36 s of traffic ending 9 s ago, so that the windows
	// close by watermark and idle timeout without waiting for wall time.
	w := generate(2026, time.Now().Add(-45*time.Second).Truncate(time.Second), 1200, 30*time.Millisecond, 100)
	t.Logf("workload: %d traces, %d spans in %d batches, %d gauge points; %d span cells expect a p99 each",
		len(w.spans), w.nSpans, len(w.batches), w.metrics.DataPointCount(), len(w.windows))
	publish(t, ctx, c.brokers, w, spansTopic, metricsTopic)
	published := time.Now()

	// Prometheus: one p99 sample per cell, each with an exemplar.
	p99 := `span_duration_seconds{quantile="0.99"}`
	var n float64
	if !waitFor(ctx, time.Second, func() bool {
		n = promScalar(t, ctx, c.promURL, fmt.Sprintf(`sum(count_over_time(%s[1h]))`, p99))
		return n >= float64(len(w.windows))
	}) {
		t.Fatalf("Prometheus has %v p99 samples, want %d%s", n, len(w.windows), why(ctx))
	}
	t.Logf("Prometheus has all %v p99 samples %.1fs after publishing", n, time.Since(published).Seconds())
	if n != float64(len(w.windows)) {
		t.Errorf("Prometheus has %v p99 samples, want %d (one per service, span, status and window)", n, len(w.windows))
	}
	exemplars := queryExemplars(t, ctx, c.promURL, p99, w.from.Add(-time.Minute), time.Now().Add(time.Minute))
	if len(exemplars) != len(w.windows) {
		t.Errorf("Prometheus has %d p99 exemplars, want %d (one per p99 sample)", len(exemplars), len(w.windows))
	}
	traceIDs := map[string]bool{}
	for _, e := range exemplars {
		durs, ok := w.durations[e.traceID]
		switch {
		case !ok:
			t.Errorf("exemplar %s names trace %s, which the workload does not have", e.key, e.traceID)
		case !slices.Contains(durs, int64(math.Round(e.value*1e6))):
			t.Errorf("exemplar %s: value %v s is no span duration of trace %s (%v µs)", e.key, e.value, e.traceID, durs)
		}
		traceIDs[e.traceID] = true
	}

	// Jaeger: every exemplar's trace opens, whole.
	checkJaeger(t, ctx, c.jaegerURL, traceIDs, w.spans)

	// The gauge rollup of the otlp_json metrics adds up exactly.
	for _, agg := range []struct {
		suffix string
		want   map[string]float64
	}{{"count", toFloat(w.jobCount)}, {"sum", w.jobSum}} {
		q := fmt.Sprintf(`sum by (job) (sum_over_time({__name__="interop_queue_depth:by_job_%s"}[1h]))`, agg.suffix)
		var got map[string]float64
		// Wait until every job has at least its total (windows still
		// closing add to it), then it must be exact.
		if !waitFor(ctx, time.Second, func() bool { got = promVector(t, ctx, c.promURL, q); return reached(got, agg.want) }) {
			t.Fatalf("%s = %v, want %v%s", q, got, agg.want, why(ctx))
		}
		if !mapsEqual(got, agg.want) {
			t.Errorf("%s = %v, want %v", q, got, agg.want)
		}
	}

	// weir's Kafka sink, read by the collector's kafkareceiver, holds what
	// Prometheus holds: the same samples and the same exemplars.
	selector := `{__name__=~"span_duration_seconds.*|interop_queue_depth:by_job.*"}`
	promSamples := promRange(t, ctx, c.promURL, selector)
	promEx := queryExemplars(t, ctx, c.promURL, selector, w.from.Add(-time.Minute), time.Now().Add(time.Minute))
	kafkaSamples, kafkaEx, scopes := readRollups(t, ctx, c.brokers, rollupsTopic, "interop-kafkareceiver", len(promSamples))
	compareSets(t, "samples", promSamples, kafkaSamples)
	var pe []string
	for _, e := range promEx {
		pe = append(pe, e.key)
	}
	compareSets(t, "exemplars", pe, kafkaEx)
	if len(scopes) != 1 || !scopes[kafkaotlp.ScopeName] {
		t.Errorf("scopes of the records: %v, want only %s", scopes, kafkaotlp.ScopeName)
	}
	t.Logf("Kafka sink: %d samples and %d exemplars, the same as Prometheus", len(promSamples), len(promEx))

	for i, addr := range addrs {
		m := scrape(t, ctx, addr)
		for _, name := range []string{"weir_dead_letters_total", "weir_aggregator_dropped_points_total", "weir_kafka_sink_dropped_series_total"} {
			if m[name] != 0 {
				t.Errorf("weir %s: %s = %v, want 0", procs[i].name, name, m[name])
			}
		}
		t.Logf("weir %s: %v points aggregated, %v samples and %v exemplars out, %v points to Kafka, %v traces exported",
			procs[i].name, m["weir_aggregator_points_total"], m["weir_pipeline_output_samples_total"],
			m["weir_exemplars_emitted_total"], m["weir_kafka_sink_points_total"], m["weir_pipeline_exported_traces_total"])
	}
	for _, p := range procs {
		p.stop(t)
	}
	t.Logf("total %.1fs", time.Since(start0).Seconds())
}

// weirBinaryOrEmpty builds weir from a goroutine: it reports an error with
// t.Error and returns "", on which the test stops in its own goroutine.
func weirBinaryOrEmpty(t *testing.T) string {
	bin, err := buildWeir(t)
	if err != nil {
		t.Error(err)
		return ""
	}
	return bin
}

func createTopics(t *testing.T, ctx context.Context, brokers []string, topics map[string]int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var names []string
	for name, parts := range topics {
		r, err := adm.CreateTopic(ctx, parts, 1, nil, name)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", name, err)
		}
		names = append(names, name)
	}
	// Creation is asynchronous: wait until the metadata shows every
	// partition with a leader, as weir expects of its input at start.
	var state string
	if !waitFor(ctx, 100*time.Millisecond, func() bool {
		md, err := adm.ListTopics(ctx, names...)
		if err != nil {
			state = err.Error()
			return false
		}
		for _, name := range names {
			d := md[name]
			if d.Err != nil || int32(len(d.Partitions)) != topics[name] {
				state = fmt.Sprintf("%s: %d partitions, %v", name, len(d.Partitions), d.Err)
				return false
			}
			for _, p := range d.Partitions {
				if p.Leader < 0 || p.Err != nil {
					state = fmt.Sprintf("%s/%d: leader %d, %v", name, p.Partition, p.Leader, p.Err)
					return false
				}
			}
		}
		return true
	}) {
		t.Fatalf("topics not ready: %s%s", state, why(ctx))
	}
}

// waitForGroups waits until each group has n members and is stable, so that
// both processes share the partitions before any record arrives.
func waitForGroups(t *testing.T, ctx context.Context, brokers []string, n int, groups ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var state string
	if !waitFor(ctx, 200*time.Millisecond, func() bool {
		ds, err := adm.DescribeGroups(ctx, groups...)
		if err != nil {
			state = err.Error()
			return false
		}
		state = ""
		ok := true
		for _, g := range groups {
			d := ds[g]
			state += fmt.Sprintf("%s: %s with %d members; ", g, d.State, len(d.Members))
			ok = ok && d.Err == nil && d.State == "Stable" && len(d.Members) == n
		}
		return ok
	}) {
		t.Fatalf("consumer groups not stable with %d members: %s%s", n, state, why(ctx))
	}
	t.Logf("groups stable: %s", state)
}

// publish sends the workload through the collector's own kafkaexporter,
// made by its factory as a collector would: traces as otlp_proto with
// partition_traces_by_id to spans, metrics as otlp_json to metrics.
func publish(t *testing.T, ctx context.Context, brokers []string, w *workload, spans, metrics string) {
	t.Helper()
	f := kafkaexporter.NewFactory()
	newCfg := func(configure func(*kafkaexporter.Config)) *kafkaexporter.Config {
		cfg := f.CreateDefaultConfig().(*kafkaexporter.Config)
		cfg.ClientConfig.Brokers = brokers
		// One queue consumer keeps the batches in event-time order, so that
		// the expected windows do not depend on the exporter's scheduling.
		cfg.QueueBatchConfig.Get().NumConsumers = 1
		configure(cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatalf("kafkaexporter config: %v", err)
		}
		return cfg
	}
	tcfg := newCfg(func(c *kafkaexporter.Config) {
		c.Traces.Topic, c.Traces.Encoding, c.PartitionTracesByID = spans, "otlp_proto", true
	})
	mcfg := newCfg(func(c *kafkaexporter.Config) {
		c.Metrics.Topic, c.Metrics.Encoding = metrics, "otlp_json"
	})
	set := exportertest.NewNopSettings(f.Type())
	te, err := f.CreateTraces(ctx, set, tcfg)
	if err != nil {
		t.Fatal(err)
	}
	me, err := f.CreateMetrics(ctx, set, mcfg)
	if err != nil {
		t.Fatal(err)
	}
	host := componenttest.NewNopHost()
	for _, c := range []component.Component{te, me} {
		if err := c.Start(ctx, host); err != nil {
			t.Fatalf("kafkaexporter start: %v", err)
		}
	}
	start := time.Now()
	for i, td := range w.batches {
		if err := te.ConsumeTraces(ctx, td); err != nil {
			t.Fatalf("kafkaexporter ConsumeTraces batch %d: %v", i, err)
		}
	}
	if err := me.ConsumeMetrics(ctx, w.metrics); err != nil {
		t.Fatalf("kafkaexporter ConsumeMetrics: %v", err)
	}
	// Shutdown drains the sending queues.
	for _, c := range []component.Component{te, me} {
		if err := c.Shutdown(ctx); err != nil {
			t.Fatalf("kafkaexporter shutdown: %v", err)
		}
	}
	t.Logf("kafkaexporter published %d trace batches and %d gauge points in %.1fs",
		len(w.batches), w.metrics.DataPointCount(), time.Since(start).Seconds())

	checkTraceRecords(t, ctx, brokers, w, spans)
}

// checkTraceRecords reads the spans topic back: with partition_traces_by_id
// the exporter writes one record per trace and resource (and scope), keyed
// by the lowercase hex trace ID, so every trace sits whole in one partition,
// as weir's tail sampling relies on.
func checkTraceRecords(t *testing.T, ctx context.Context, brokers []string, w *workload, spansTopic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, spansTopic)
	if err != nil {
		t.Fatal(err)
	}
	var records int64
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		records += o.Offset
		parts[o.Partition] = kgo.NewOffset().AtStart()
	})
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{spansTopic: parts})
	partitionOf := map[string]int32{}
	spans := map[string]int{}
	var read int64
	var u ptrace.ProtoUnmarshaler
	for read < records {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s%s", read, records, spansTopic, why(ctx))
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			td, err := u.UnmarshalTraces(r.Value)
			if err != nil {
				t.Fatalf("%s/%d@%d is not otlp_proto: %v", spansTopic, r.Partition, r.Offset, err)
			}
			key := string(r.Key)
			if p, ok := partitionOf[key]; ok && p != r.Partition {
				t.Errorf("trace %s in partitions %d and %d", key, p, r.Partition)
			}
			partitionOf[key] = r.Partition
			eachSpan(td, func(sp ptrace.Span) {
				if id := sp.TraceID().String(); id != key {
					t.Errorf("record keyed %q holds a span of trace %s", key, id)
				}
				spans[key]++
			})
		})
	}
	if records != int64(w.records) || !maps.Equal(spans, w.spans) {
		t.Errorf("%s holds %d records with %d traces, want %d records (one per trace and service) with the %d traces generated",
			spansTopic, records, len(spans), w.records, len(w.spans))
	}
}

func eachSpan(td ptrace.Traces, f func(ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j).Spans()
			for k := 0; k < ss.Len(); k++ {
				f(ss.At(k))
			}
		}
	}
}

// exemplar is one exemplar as Prometheus (or the Kafka sink) has it.
type exemplar struct {
	key     string // series | trace span value ts
	traceID string
	value   float64
}

type promExemplars struct {
	Data []struct {
		SeriesLabels map[string]string `json:"seriesLabels"`
		Exemplars    []struct {
			Labels    map[string]string `json:"labels"`
			Value     string            `json:"value"`
			Timestamp float64           `json:"timestamp"`
		} `json:"exemplars"`
	} `json:"data"`
}

func queryExemplars(t *testing.T, ctx context.Context, base, query string, from, to time.Time) []exemplar {
	t.Helper()
	var r promExemplars
	q := url.Values{"query": {query}, "start": {unix(from)}, "end": {unix(to)}}
	if _, err := getJSON(ctx, base, "/api/v1/query_exemplars", q, &r); err != nil {
		t.Fatal(err)
	}
	var out []exemplar
	for _, s := range r.Data {
		series := seriesKey(s.SeriesLabels)
		for _, e := range s.Exemplars {
			v, err := strconv.ParseFloat(e.Value, 64)
			if err != nil {
				t.Fatalf("exemplar value %q: %v", e.Value, err)
			}
			ts := int64(math.Round(e.Timestamp * 1000))
			out = append(out, exemplar{key: exemplarKey(series, e.Labels["trace_id"], e.Labels["span_id"], v, ts),
				traceID: e.Labels["trace_id"], value: v})
		}
	}
	return out
}

func exemplarKey(series, traceID, spanID string, v float64, ts int64) string {
	return fmt.Sprintf("%s | trace=%s span=%s %s @%d", series, traceID, spanID, strconv.FormatFloat(v, 'g', -1, 64), ts)
}

// seriesKey prints labels as name{k="v",...}, sorted, as both sides must.
func seriesKey(ls map[string]string) string {
	var kv []string
	for k, v := range ls {
		if k != "__name__" {
			kv = append(kv, fmt.Sprintf("%s=%q", k, v))
		}
	}
	sort.Strings(kv)
	return ls["__name__"] + "{" + strings.Join(kv, ",") + "}"
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }

type promQuery struct {
	Data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func promQueryAt(t *testing.T, ctx context.Context, base, query string) promQuery {
	t.Helper()
	var r promQuery
	q := url.Values{"query": {query}, "time": {unix(time.Now().Add(time.Minute))}}
	if _, err := getJSON(ctx, base, "/api/v1/query", q, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func promScalar(t *testing.T, ctx context.Context, base, query string) float64 {
	t.Helper()
	var sum float64
	for _, v := range promVector(t, ctx, base, query) {
		sum += v
	}
	return sum
}

// promVector returns an instant vector by its labels (without __name__).
func promVector(t *testing.T, ctx context.Context, base, query string) map[string]float64 {
	t.Helper()
	r := promQueryAt(t, ctx, base, query)
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		out[s.Metric["job"]] = parseValue(t, s.Value[1])
	}
	return out
}

// promRange returns every raw sample of a range-vector query as
// "series @ms value".
func promRange(t *testing.T, ctx context.Context, base, selector string) []string {
	t.Helper()
	r := promQueryAt(t, ctx, base, selector+"[1h]")
	var out []string
	for _, s := range r.Data.Result {
		series := seriesKey(s.Metric)
		for _, v := range s.Values {
			ts, ok := v[0].(float64)
			if !ok {
				t.Fatalf("sample timestamp %v is not a number", v[0])
			}
			out = append(out, sampleKey(series, int64(math.Round(ts*1000)), parseValue(t, v[1])))
		}
	}
	return out
}

func sampleKey(series string, ms int64, v float64) string {
	return fmt.Sprintf("%s @%d %s", series, ms, strconv.FormatFloat(v, 'g', -1, 64))
}

func parseValue(t *testing.T, v any) float64 {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("sample value %v is not a string", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("sample value %q: %v", s, err)
	}
	return f
}

// readRollups reads weir's Kafka sink topic with the collector's own
// kafkareceiver (made by its factory, otlp_proto, consumer group group)
// until it has at least want data points and nothing new arrives for a
// while.
func readRollups(t *testing.T, ctx context.Context, brokers []string, rollupsTopic, group string, want int) (samples, exemplars []string, scopes map[string]bool) {
	t.Helper()
	f := kafkareceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*kafkareceiver.Config)
	cfg.ClientConfig.Brokers = brokers
	cfg.Metrics.Topics = []string{rollupsTopic}
	cfg.Metrics.Encoding = "otlp_proto"
	cfg.ConsumerConfig.GroupID = group
	cfg.ConsumerConfig.InitialOffset = "earliest"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("kafkareceiver config: %v", err)
	}
	sink := new(consumertest.MetricsSink)
	r, err := f.CreateMetrics(ctx, receivertest.NewNopSettings(f.Type()), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatalf("kafkareceiver start: %v", err)
	}
	defer func() {
		if err := r.Shutdown(context.Background()); err != nil {
			t.Errorf("kafkareceiver shutdown: %v", err)
		}
	}()
	last, stable := -1, 0
	if !waitFor(ctx, 500*time.Millisecond, func() bool {
		n := sink.DataPointCount()
		if n == last && n >= want {
			stable++
		} else {
			stable = 0
		}
		last = n
		return stable >= 4
	}) {
		t.Fatalf("kafkareceiver read %d data points from %s, want at least %d%s", sink.DataPointCount(), rollupsTopic, want, why(ctx))
	}
	scopes = map[string]bool{}
	seen := map[string]bool{}
	for _, md := range sink.AllMetrics() {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				scopes[sms.At(j).Scope().Name()] = true
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					if m.Type() != pmetric.MetricTypeGauge {
						t.Errorf("metric %s is a %s, want Gauge", m.Name(), m.Type())
						continue
					}
					dps := m.Gauge().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						ls := map[string]string{"__name__": m.Name()}
						dp.Attributes().Range(func(k string, v pcommon.Value) bool {
							ls[k] = v.AsString()
							return true
						})
						series := seriesKey(ls)
						s := sampleKey(series, int64(dp.Timestamp())/1e6, dp.DoubleValue())
						if seen[s] {
							continue // at least once: a replay writes the same sample again
						}
						seen[s] = true
						samples = append(samples, s)
						es := dp.Exemplars()
						for e := 0; e < es.Len(); e++ {
							ex := es.At(e)
							exemplars = append(exemplars, exemplarKey(series, ex.TraceID().String(), ex.SpanID().String(),
								ex.DoubleValue(), int64(ex.Timestamp())/1e6))
						}
					}
				}
			}
		}
	}
	return samples, exemplars, scopes
}

func compareSets(t *testing.T, what string, prom, kafka []string) {
	t.Helper()
	compareNamedSets(t, what, "Prometheus", prom, "the Kafka sink", kafka)
}

// compareNamedSets fails unless a and b hold the same strings, and some.
func compareNamedSets(t *testing.T, what, aName string, prom []string, bName string, kafka []string) {
	t.Helper()
	p, k := toSet(prom), toSet(kafka)
	var onlyP, onlyK []string
	for s := range p {
		if !k[s] {
			onlyP = append(onlyP, s)
		}
	}
	for s := range k {
		if !p[s] {
			onlyK = append(onlyK, s)
		}
	}
	sort.Strings(onlyP)
	sort.Strings(onlyK)
	if len(onlyP)+len(onlyK) > 0 || len(p) == 0 {
		t.Errorf("%s: %s has %d, %s %d; only in %s %d %v; only in %s %d %v",
			what, aName, len(p), bName, len(k), aName, len(onlyP), head(onlyP), bName, len(onlyK), head(onlyK))
	}
}

func toSet(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, x := range s {
		m[x] = true
	}
	return m
}

func head(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

// jaegerTrace is the part of Jaeger's /api/traces/{id} answer checked here.
type jaegerTrace struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			SpanID   string `json:"spanID"`
			Duration int64  `json:"duration"` // µs
		} `json:"spans"`
	} `json:"data"`
}

// checkJaeger waits until every trace opens in Jaeger with all its spans.
func checkJaeger(t *testing.T, ctx context.Context, base string, ids map[string]bool, spans map[string]int) {
	t.Helper()
	start := time.Now()
	missing := map[string]string{}
	for id := range ids {
		missing[id] = "not asked yet"
	}
	waitFor(ctx, time.Second, func() bool {
		for id := range missing {
			var tr jaegerTrace
			code, err := getJSON(ctx, base, "/api/traces/"+id, nil, &tr)
			switch {
			case err != nil:
				missing[id] = fmt.Sprintf("%d: %v", code, err)
			case len(tr.Data) != 1 || tr.Data[0].TraceID != id:
				missing[id] = fmt.Sprintf("answer holds %d traces", len(tr.Data))
			case len(tr.Data[0].Spans) != spans[id]:
				missing[id] = fmt.Sprintf("%d of %d spans", len(tr.Data[0].Spans), spans[id])
			default:
				delete(missing, id)
			}
		}
		return len(missing) == 0
	})
	if len(missing) > 0 {
		var ex []string
		for id, why := range missing {
			ex = append(ex, id+": "+why)
		}
		sort.Strings(ex)
		t.Fatalf("%d of %d exemplar traces do not open whole in Jaeger: %v%s", len(missing), len(ids), head(ex), why(ctx))
	}
	t.Logf("all %d exemplar traces open in Jaeger with all their spans (%.1fs)", len(ids), time.Since(start).Seconds())
}

// scrape reads weir's /metrics and sums each metric over its labels.
func scrape(t *testing.T, ctx context.Context, addr string) map[string]float64 {
	t.Helper()
	body, err := getText(ctx, "http://"+addr+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[name] += v
		}
	}
	return out
}

func toFloat(m map[string]int) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(v)
	}
	return out
}

// reached reports whether got has every key of want with at least its value.
func reached(got, want map[string]float64) bool {
	for k, v := range want {
		if got[k] < v {
			return false
		}
	}
	return true
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// why says why ctx ended, when it did: a weir process that died, or the
// test's deadline.
func why(ctx context.Context) string {
	if err := context.Cause(ctx); err != nil {
		return " (" + err.Error() + ")"
	}
	return ""
}
