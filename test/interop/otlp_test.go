package interop

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// otlpWeirConfig is one `weir run` of TestCollectorOTLPToWeir: the same
// settings for both paths but their topics and groups, output to a Kafka
// sink only; the OTLP path's process also runs the receivers.
func otlpWeirConfig(brokers []string, name string, receivers bool) string {
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
kafka:
  brokers: [%s]
  group: %[2]s
  metrics_topic: %[2]s_metrics
  spans_topic: %[2]s_spans
  metrics_encoding: otlp_json
  traces_encoding: otlp_proto
  partials_topic: %[2]s.partials
  decisions_topic: %[2]s.decisions
  dead_letter_topic: %[2]s.dlq
  transactional_id: %[2]s
  session_timeout: 6s
rules: [rules.yaml]
aggregation:
  allowed_lateness: 10s
  idle_timeout: 5s
  close_timeout: 2m
tail_sampling:
  decision_wait: 60s
  baseline_rate: 0
kafka_sinks:
  - topic: %[2]s_rollups
unmatched:
  drop: true
`, strings.Join(brokers, ", "), name)
	if receivers {
		cfg += `receivers:
  otlp:
    protocols:
      grpc: {endpoint: 127.0.0.1:0}
      http: {endpoint: 127.0.0.1:0}
`
	}
	return cfg
}

var receiversRE = regexp.MustCompile(`msg="receivers listening".* otlp_grpc=(\S+) otlp_http=(\S+)`)

// receivers waits for the receivers' log line and returns their addresses.
func (w *weir) receivers(t *testing.T, ctx context.Context) (grpcAddr, httpAddr string) {
	t.Helper()
	if !waitFor(ctx, 100*time.Millisecond, func() bool {
		f, err := os.Open(w.log)
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := receiversRE.FindStringSubmatch(sc.Text()); m != nil {
				grpcAddr, httpAddr = m[1], m[2]
				return true
			}
		}
		return false
	}) {
		t.Fatalf("weir %s did not log its receivers: %v", w.name, context.Cause(ctx))
	}
	return grpcAddr, httpAddr
}

// TestCollectorOTLPToWeir: one workload reaches weir twice, through the
// collector's kafkaexporter (path ka) and through a collector's otlp
// (traces, gRPC) and otlphttp (metrics) exporters to `weir run`'s receivers
// (path otlp), each into its own topics and its own weir. The records in the
// input topics are the same (spans: byte for byte, in the same partitions
// under the same keys; metrics: the same data points), and so is weir's
// output: the same samples and exemplars in each path's Kafka sink.
func TestCollectorOTLPToWeir(t *testing.T) {
	start0 := time.Now()
	binc := make(chan string, 1)
	go func() { binc <- weirBinaryOrEmpty(t) }()
	brokers, err := startKafka(t)
	bin := <-binc
	if err != nil {
		t.Fatal(err)
	}
	if bin == "" {
		t.FailNow()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ctx, died := context.WithCancelCause(ctx)
	defer died(nil)

	paths := []string{"ka", "otlp"}
	topics := map[string]int32{}
	for _, p := range paths {
		topics[p+"_spans"], topics[p+"_metrics"], topics[p+"_rollups"] = 8, 2, 4
	}
	createTopics(t, ctx, brokers, topics)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rulesYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	procs := map[string]*weir{}
	for _, p := range paths {
		cfg := filepath.Join(dir, p+".yaml")
		if err := os.WriteFile(cfg, []byte(otlpWeirConfig(brokers, p, p == "otlp")), 0o644); err != nil {
			t.Fatal(err)
		}
		procs[p] = startWeir(t, bin, p, cfg, died)
	}
	for _, p := range paths {
		procs[p].addr(t, ctx)
		waitForGroups(t, ctx, brokers, 1, p, p+".partials")
	}
	grpcAddr, httpAddr := procs["otlp"].receivers(t, ctx)
	t.Logf("Kafka, both weirs and the receivers (gRPC %s, HTTP %s) ready in %.1fs", grpcAddr, httpAddr, time.Since(start0).Seconds())

	w := generate(2027, time.Now().Add(-45*time.Second).Truncate(time.Second), 1200, 30*time.Millisecond, 100)
	publish(t, ctx, brokers, w, "ka_spans", "ka_metrics")
	sendOTLP(t, ctx, grpcAddr, httpAddr, w)
	checkTraceRecords(t, ctx, brokers, w, "otlp_spans")

	// The input topics hold the same records.
	spans := map[string][]string{}
	points := map[string][]string{}
	for _, p := range paths {
		for _, r := range readTopic(t, ctx, brokers, p+"_spans") {
			spans[p] = append(spans[p], fmt.Sprintf("%d %s %s", r.Partition, r.Key, hex.EncodeToString(r.Value)))
		}
		for _, r := range readTopic(t, ctx, brokers, p+"_metrics") {
			points[p] = append(points[p], dataPoints(t, r)...)
		}
	}
	compareNamedSets(t, "spans records", "kafkaexporter", spans["ka"], "the receivers", spans["otlp"])
	if len(spans["ka"]) != w.records || len(spans["otlp"]) != w.records {
		t.Errorf("spans records: %d and %d, want %d each", len(spans["ka"]), len(spans["otlp"]), w.records)
	}
	compareNamedSets(t, "metric data points", "kafkaexporter", points["ka"], "the receivers", points["otlp"])
	if n := w.metrics.DataPointCount(); len(points["ka"]) != n || len(points["otlp"]) != n {
		t.Errorf("data points: %d and %d, want %d each", len(points["ka"]), len(points["otlp"]), n)
	}

	// weir's output is the same on both paths.
	// Each span cell has count, sum, p50 and p99: at least that much, then
	// nothing new for a while (readRollups); the OTLP path must reach what
	// the kafkaexporter path has.
	kaSamples, kaEx, _ := readRollups(t, ctx, brokers, "ka_rollups", "interop-otlp-ka", 4*len(w.windows))
	otlpSamples, otlpEx, _ := readRollups(t, ctx, brokers, "otlp_rollups", "interop-otlp-otlp", len(kaSamples))
	if len(otlpSamples) > len(kaSamples) {
		// The kafkaexporter path's last window closed (by its idle
		// timeout) after it was read: read it again, whole.
		kaSamples, kaEx, _ = readRollups(t, ctx, brokers, "ka_rollups", "interop-otlp-ka-again", len(otlpSamples))
	}
	compareNamedSets(t, "output samples", "the kafkaexporter path", kaSamples, "the OTLP path", otlpSamples)
	compareNamedSets(t, "output exemplars", "the kafkaexporter path", kaEx, "the OTLP path", otlpEx)
	t.Logf("both paths: %d records of spans, %d data points in; %d samples and %d exemplars out",
		len(spans["otlp"]), len(points["otlp"]), len(otlpSamples), len(otlpEx))

	m := scrape(t, ctx, procs["otlp"].addr(t, ctx))
	if got := m["weir_receiver_accepted_items_total"]; got != float64(w.nSpans+w.metrics.DataPointCount()) {
		t.Errorf("weir_receiver_accepted_items_total = %v, want %d spans and points", got, w.nSpans+w.metrics.DataPointCount())
	}
	for _, name := range []string{"weir_receiver_refused_items_total", "weir_dead_letters_total", "weir_aggregator_dropped_points_total"} {
		if m[name] != 0 {
			t.Errorf("%s = %v, want 0", name, m[name])
		}
	}
	for _, p := range paths {
		procs[p].stop(t)
	}
	t.Logf("total %.1fs", time.Since(start0).Seconds())
}

// sendOTLP sends the workload as a collector does with the otlp exporter
// (traces, gRPC with its default gzip) and the otlphttp exporter (metrics,
// protobuf), both made by their factories.
func sendOTLP(t *testing.T, ctx context.Context, grpcAddr, httpAddr string, w *workload) {
	t.Helper()
	host := componenttest.NewNopHost()
	gf := otlpexporter.NewFactory()
	gcfg := gf.CreateDefaultConfig().(*otlpexporter.Config)
	gcfg.ClientConfig.Endpoint = grpcAddr
	gcfg.ClientConfig.TLS.Insecure = true
	// No sending queue: each Consume waits for weir's answer (in order) and
	// returns its error, after the exporter's own retries.
	gcfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	hf := otlphttpexporter.NewFactory()
	hcfg := hf.CreateDefaultConfig().(*otlphttpexporter.Config)
	hcfg.ClientConfig.Endpoint = "http://" + httpAddr
	hcfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	for _, c := range []interface{ Validate() error }{gcfg, hcfg} {
		if err := c.Validate(); err != nil {
			t.Fatalf("exporter config: %v", err)
		}
	}
	te, err := gf.CreateTraces(ctx, exportertest.NewNopSettings(gf.Type()), gcfg)
	if err != nil {
		t.Fatal(err)
	}
	me, err := hf.CreateMetrics(ctx, exportertest.NewNopSettings(hf.Type()), hcfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []component.Component{te, me} {
		if err := c.Start(ctx, host); err != nil {
			t.Fatalf("exporter start: %v", err)
		}
	}
	start := time.Now()
	for i, td := range w.batches {
		if err := te.ConsumeTraces(ctx, td); err != nil {
			t.Fatalf("otlp ConsumeTraces batch %d: %v", i, err)
		}
	}
	if err := me.ConsumeMetrics(ctx, w.metrics); err != nil {
		t.Fatalf("otlphttp ConsumeMetrics: %v", err)
	}
	for _, c := range []component.Component{te, me} {
		if err := c.Shutdown(ctx); err != nil {
			t.Fatalf("exporter shutdown: %v", err)
		}
	}
	t.Logf("otlp and otlphttp exporters sent %d trace batches and %d gauge points in %.1fs",
		len(w.batches), w.metrics.DataPointCount(), time.Since(start).Seconds())
}

// readTopic returns every record of topic, up to its end offsets now.
func readTopic(t *testing.T, ctx context.Context, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		want += o.Offset
		parts[o.Partition] = kgo.NewOffset().AtStart()
	})
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts})
	var out []*kgo.Record
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s%s", len(out), want, topic, why(ctx))
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// dataPoints flattens an otlp_json metrics record into one line per point.
func dataPoints(t *testing.T, r *kgo.Record) []string {
	t.Helper()
	md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(r.Value)
	if err != nil {
		t.Fatalf("%s/%d@%d is not otlp_json: %v", r.Topic, r.Partition, r.Offset, err)
	}
	var out []string
	attrs := func(m pcommon.Map) string {
		var kv []string
		m.Range(func(k string, v pcommon.Value) bool { kv = append(kv, k+"="+v.AsString()); return true })
		sort.Strings(kv)
		return strings.Join(kv, ",")
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		res := attrs(rms.At(i).Resource().Attributes())
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Type() != pmetric.MetricTypeGauge {
					t.Fatalf("metric %s is a %s", m.Name(), m.Type())
				}
				dps := m.Gauge().DataPoints()
				for d := 0; d < dps.Len(); d++ {
					dp := dps.At(d)
					out = append(out, fmt.Sprintf("%s{%s}[%s] @%d %v", m.Name(), attrs(dp.Attributes()), res, dp.Timestamp(), dp.DoubleValue()))
				}
			}
		}
	}
	return out
}
