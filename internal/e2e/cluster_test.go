package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/pipeline/pipelinetest"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/receiver"
	"github.com/weirdev/weir/rules"
)

const e2eRules = `
rollup:
  - name: span-red
    match: '{__name__="span_duration_seconds"}'
    output: span_duration_seconds
    by: [service_name, span_name, span_kind, status_code]
    aggregations: [count, sum, max, p50, p90, p99, p999]
    policies: [10s:2d]
  - name: gauge-by-job
    match: e2e_gauge
    output: 'e2e_gauge:by_job'
    by: [job]
    aggregations: [sum, count, min, max, last, p50, p99]
    policies: [10s:2d]
`

const (
	partitions  = 16
	metricBatch = 1000 // points per metrics record
)

type input struct {
	spans, points int
	records       []*kgo.Record
	// cutoff (Unix ms): samples stamped at or before it are of the data; later
	// ones are of the end markers, which move every partition's watermark
	// past the data so that its windows close without waiting for idleness.
	cutoff int64
}

// genInput builds the fixed input: loadgen traces (kafkaexporter-shaped,
// keyed by trace ID) and gauge batches, event times over the last minutes.
// The records are in event-time order, as live producers write them: within
// a partition no record is older than the allowed lateness behind one
// before it, so no point is late however the polls split a partition. (The
// reference folds whole partitions before closing any window; the cluster
// advances watermarks at every transaction.)
func genInput(t testing.TB, spansTopic, metricsTopic string, traces, metricBatchN int) input {
	t.Helper()
	var in input
	var times []time.Time // Event time of each data record, to order them.
	stamp := func(t time.Time) {
		for len(times) < len(in.records) {
			times = append(times, t)
		}
	}
	g := loadgen.New(loadgen.WithSeed(2026))
	base := time.Now().Add(-10 * time.Minute).Truncate(10 * time.Second)
	for i := range traces {
		td := g.NextTrace(base.Add(time.Duration(i) * 10 * time.Millisecond))
		in.spans += td.SpanCount()
		rs, err := receiver.TraceRecords(spansTopic, td)
		if err != nil {
			t.Fatal(err)
		}
		in.records = append(in.records, rs...)
		stamp(base.Add(time.Duration(i) * 10 * time.Millisecond))
		// The SDK metrics of the app every simulated second: cumulative
		// sums and histograms, whose deltas must survive replays exactly.
		if i%100 == 99 {
			rec, err := receiver.MetricsRecord(metricsTopic, g.Metrics(base.Add(time.Duration(i)*10*time.Millisecond)))
			if err != nil {
				t.Fatal(err)
			}
			rec.Partition = int32(i / 100 % partitions)
			in.records = append(in.records, rec)
			stamp(base.Add(time.Duration(i) * 10 * time.Millisecond))
		}
	}
	for r := range metricBatchN {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "e2e")
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("e2e_gauge")
		dps := m.SetEmptyGauge().DataPoints()
		at := base.Add(time.Duration(r) * 250 * time.Millisecond)
		for s := range metricBatch / 10 {
			for j := range 10 {
				dp := dps.AppendEmpty()
				dp.Attributes().PutStr("job", fmt.Sprintf("job-%d", s%10))
				dp.Attributes().PutStr("instance", fmt.Sprintf("i-%d", s))
				dp.SetTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Duration(j) * 20 * time.Millisecond)))
				dp.SetDoubleValue(float64((r*7+s*13+j*3)%1000) / 10)
				in.points++
			}
		}
		b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		in.records = append(in.records, &kgo.Record{Topic: metricsTopic, Partition: int32(r % partitions), Value: b})
		stamp(at)
	}
	order := make([]int, len(in.records))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return times[order[a]].Before(times[order[b]]) })
	sorted := make([]*kgo.Record, len(order))
	for i, j := range order {
		// Stamped as a live producer stamps them: at their event time.
		in.records[j].Timestamp = times[j]
		sorted[i] = in.records[j]
	}
	in.records = sorted
	end := base.Add(time.Duration(max(traces*10, metricBatchN*250+200)) * time.Millisecond)
	in.cutoff = end.Truncate(10 * time.Second).Add(20 * time.Second).UnixMilli()
	marker := end.Add(2 * time.Minute)
	// One late-stamped gauge per metrics partition, one trace per spans partition.
	for p := range partitions {
		md := pmetric.NewMetrics()
		m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("e2e_marker")
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(marker))
		dp.SetDoubleValue(1)
		b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		in.records = append(in.records, &kgo.Record{Topic: metricsTopic, Partition: int32(p), Value: b})
	}
	covered := map[int]bool{}
	for len(covered) < partitions {
		td := g.NextTrace(marker)
		rs, err := receiver.TraceRecords(spansTopic, td)
		if err != nil {
			t.Fatal(err)
		}
		if p := keyPartition(rs[0].Key); !covered[p] {
			covered[p] = true
			in.spans += td.SpanCount()
			in.records = append(in.records, rs...)
		}
	}
	return in
}

// withRules writes e2eRules to a new directory (the weir processes'
// rules.yaml) and returns it with in's reference output under them.
func withRules(t testing.TB, in input, spansTopic, metricsTopic string) (dir string, want map[string]string) {
	t.Helper()
	return withRulesOf(t, e2eRules, in, spansTopic, metricsTopic)
}

// withRulesOf is withRules with the rules src.
func withRulesOf(t testing.TB, src string, in input, spansTopic, metricsTopic string) (dir string, want map[string]string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load(filepath.Join(dir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, reference(t, in, set, spansTopic, metricsTopic)
}

// produce creates the input topics and produces in, with the client options
// opts (the security of a secure broker) besides the test's.
func produce(t testing.TB, brokers []string, in input, spansTopic, metricsTopic string, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), inputPartitioner(metricsTopic), kgo.ProducerBatchMaxBytes(4 << 20)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	if _, err := adm.CreateTopics(ctx, partitions, -1, nil, spansTopic, metricsTopic); err != nil { // the brokers' default replication
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, in.records...).FirstErr(); err != nil {
		t.Fatalf("produce input: %v", err)
	}
}

// inputPartitioner partitions spans records as kafkaexporter does (by
// their key) and metrics records where the test put them.
func inputPartitioner(metricsTopic string) kgo.Opt {
	return kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		if topic == metricsTopic {
			return func(r *kgo.Record, _ int) int { return int(r.Partition) }
		}
		return func(r *kgo.Record, n int) int { return receiver.KeyPartition(r.Key, n) }
	}))
}

// reference is the single in-process computation of the same input
// (pipelinetest.Local), partition by partition in offset order as Kafka
// delivers them, each record with its timestamp.
func reference(t testing.TB, in input, set *rules.Set, spansTopic, metricsTopic string) map[string]string {
	t.Helper()
	r := newReceiverSink()
	l, err := pipelinetest.New(pipeline.Config{Plan: plan.Config{Rules: set},
		Series: map[string]pipeline.SeriesSink{"": r}})
	if err != nil {
		t.Fatal(err)
	}
	l.W.Plan.SetInputPartitions(partitions, partitions) // as cluster.Run tells it, for the limits
	type tp struct {
		spans bool
		part  int32
	}
	byPart := map[tp][]*kgo.Record{}
	for _, rec := range in.records {
		k := tp{rec.Topic == spansTopic, rec.Partition}
		if k.spans {
			k.part = int32(keyPartition(rec.Key))
		}
		byPart[k] = append(byPart[k], rec)
	}
	for k, recs := range byPart {
		for i, rec := range recs {
			if err := l.Handle(pipeline.Record{Spans: k.spans, Partition: k.part, Offset: int64(i), Time: rec.Timestamp, Key: rec.Key, Value: rec.Value}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r.got
}

func keyPartition(key []byte) int { return receiver.KeyPartition(key, partitions) }

// writeConfig writes the config of process name; workers is its
// kafka.workers (0: the default, 1). Every timeout and bound is weir's
// shipped default: fault tests run at the settings users get. The
// transactional ID is the process name under the test's spans topic: tests
// share the package's broker, and two tests' processes of one name would
// fence each other's transactions.
func writeConfig(t testing.TB, dir, name string, brokers []string, rw, spansTopic, metricsTopic string, workers int, extra ...string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
kafka:
  brokers: [%s]
  group: e2e-%s
  metrics_topic: %s
  spans_topic: %s
  partials_topic: %s.partials
  decisions_topic: %s.decisions
  dead_letter_topic: %s.dlq
  state_topic: %s.state
  transactional_id: %s-%s
  workers: %d
rules: [rules.yaml]
remote_write:
  - url: %s
`, strings.Join(brokers, ", "), spansTopic, metricsTopic, spansTopic, spansTopic, spansTopic, spansTopic, spansTopic, spansTopic, name, workers, rw) + strings.Join(extra, "\n")
	p := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClusterExactlyOnce is the test of record: three `weir run` processes
// on a real Kafka broker consume a fixed input (≥1M points, ≥200k spans, 16
// partitions); one, running two workers, is killed with SIGKILL mid-run and
// restarted, a fourth with two workers joins to force a rebalance. The
// remote-write output equals the single process reference exactly.
func TestClusterExactlyOnce(t *testing.T) {
	brokers := testenv.Kafka(t, 1)
	spansTopic, metricsTopic := "eo_spans", "eo_metrics"
	in := genInput(t, spansTopic, metricsTopic, 26_000, 1000) // ≈ 200k spans, 1M points
	if in.points < 1_000_000 || in.spans < 200_000 {
		t.Fatalf("input too small: %d points, %d spans", in.points, in.spans)
	}
	t.Logf("input: %d points, %d spans in %d records", in.points, in.spans, len(in.records))
	produce(t, brokers, in, spansTopic, metricsTopic)

	dir, want := withRules(t, in, spansTopic, metricsTopic)
	t.Logf("reference: %d samples", len(want))

	rw := newReceiver(t)
	// b and d run two workers each (kafka.workers): b's are killed with
	// it and fenced by their restarted namesakes.
	cfg := func(name string, workers int) string {
		return writeConfig(t, dir, name, brokers, rw.URL, spansTopic, metricsTopic, workers)
	}
	a := startWeir(t, "a", cfg("a", 1))
	b := startWeir(t, "b", cfg("b", 2))
	c := startWeir(t, "c", cfg("c", 1))

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	count := func() int { got, _ := rw.snapshot(); return len(got) }
	// b dies mid-run: at the first output or once a quarter of the input is
	// committed, whichever comes first. Windows close in bursts (when the
	// slowest partition's watermark passes them): waiting for some share of
	// the output could wait for nearly all of it. The metrics topic tells the
	// input's progress: a spans partition's commit stays at its oldest
	// undecided trace.
	consumed := consumedShare(t, ctx, brokers, in, spansTopic, metricsTopic)
	if !waitFor(ctx, 100*time.Millisecond, func() bool { return count() > 0 || consumed() >= 0.25 || exited(a, b, c) }) || exited(a, b, c) {
		t.Fatalf("no output and a quarter of the metrics input not committed: %.0f%% committed", 100*consumed())
	}
	b.kill()
	t.Logf("killed b with %.0f%% of the metrics input committed, %d/%d samples out", 100*consumed(), count(), len(want))
	time.Sleep(3 * time.Second)
	b = startWeir(t, "b2", cfg("b", 2))
	time.Sleep(3 * time.Second)
	d := startWeir(t, "d", cfg("d", 2))

	stable, last := 0, -1
	waitFor(ctx, time.Second, func() bool {
		n := count()
		if n == last && n >= len(want) {
			stable++
		} else {
			stable = 0
		}
		last = n
		return stable >= 5
	})
	// Both of d's workers joined the group as members of their own.
	if addr := d.httpAddr(ctx); addr == "" {
		t.Error("d logged no HTTP address")
	} else if m, err := scrape(ctx, addr); err != nil {
		t.Error(err)
	} else {
		for _, w := range []string{"0", "1"} {
			if n, _ := m.sum("weir_stage1_rebalances_total", `worker="`+w+`"`); n < 1 {
				t.Errorf("d's worker %s took part in no rebalance", w)
			}
		}
	}
	for _, p := range []*proc{a, b, c, d} {
		p.stop(t)
	}
	got, conflicts := rw.snapshot()
	testenv.CompareOutput(t, want, got, conflicts)
}

// consumedShare returns a function telling the share of in's metrics
// records the stage-1 group of writeConfig's processes has committed.
func consumedShare(t *testing.T, ctx context.Context, brokers []string, in input, spansTopic, metricsTopic string) func() float64 {
	n := 0
	for _, r := range in.records {
		if r.Topic == metricsTopic {
			n++
		}
	}
	return func() float64 { return committedShare(t, ctx, brokers, "e2e-"+spansTopic, metricsTopic, n) }
}

// committedShare returns the share of the n records of topic that stage-1
// group has committed (the commit point trails the oldest open window).
func committedShare(t *testing.T, ctx context.Context, brokers []string, group, topic string, n int) float64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil || resp.Error() != nil {
		return 0 // the group may not exist yet
	}
	var sum int64
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			sum += max(o.At, 0)
		}
	})
	return float64(sum) / float64(n)
}
