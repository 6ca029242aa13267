package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/receiver"
	"github.com/weirdev/weir/sample"
	"github.com/weirdev/weir/tailsampling"
)

// Tail-sampling scenario. Windows are 10 s; a window closes about 1 s
// (allowed lateness) after the newest span of its partitions passes its end,
// and its keep decisions reach the span buffers within a poll or two. The
// held-back part of a trace is produced tsLateBy after the rest: later than
// the decision, well within the decision wait.
//
// Except at the end of the traffic: the last window's partitions see no newer
// span, and the held-back parts that still fall in that window keep them
// busy (not idle) for up to tsLateBy more; the window closes an idle timeout
// after the last of them. A trace seen when that window opened is then
// decided up to window + tsLateBy + idle timeout = 30 s later, plus the
// round trips: the decision wait (45 s) must exceed that, or its exemplar
// decision arrives after the trace was dropped (a late decision).
const (
	tsRules = `
rollup:
  - name: span-red
    match: '{__name__="span_duration_seconds"}'
    output: span_duration_seconds
    by: [service_name, span_name, span_kind, status_code]
    aggregations: [count, sum, max, p50, p90, p99, p999]
    policies: [10s:2d]
`
	tsPartitions    = 8
	tsTrafficFor    = 20 * time.Second
	tsTick          = 100 * time.Millisecond
	tsTracesPerTick = 15
	tsHeldShare     = 0.3
	tsLateBy        = 15 * time.Second
	tsBaselineRate  = 0.1
	// tsDecisionWait is how far the second pass over the spans stays
	// behind: it covers the window, the held-back parts and the round trips
	// (see above).
	tsDecisionWait = 45 * time.Second
	tsErrorRate    = 0.03
)

// tsTrace is what the test generated for one trace.
type tsTrace struct {
	spans  []string // span IDs, lowercase hex
	hasErr bool
	held   bool // one record was produced tsLateBy after the others
}

// TestTailSamplingJaeger runs generated traffic through the real broker and
// two `weir run` processes into a real Jaeger, and checks the tail-sampling
// promises of DESIGN.md against what Jaeger holds:
//   - every exemplar written to remote write links to a trace Jaeger has
//     whole: all its spans, those produced after the keep decision included;
//   - every trace with an error span is there, whole;
//   - of the other traces, the share kept is the baseline rate (within 5σ of
//     a binomial), and they are exactly those Baseline selects;
//   - no span is stored twice (counted on Jaeger's raw v3 API, since the
//     /api/traces view removes identical spans).
//
// In "stable" both processes own their partitions before the traffic starts.
// In "rebalance" the second joins in the middle of it, taking over
// partitions whose traces the first holds undecided: nothing may be lost,
// but a trace read by both owners (the new one replays from the committed
// offset) may be exported by both, so there spans stored twice are counted,
// not failed on.
func TestTailSamplingJaeger(t *testing.T) {
	brokers := testenv.Kafka(t, 1)
	otlpAddr, queryURL := testenv.Jaeger(t)
	t.Run("stable", func(t *testing.T) {
		t.Parallel()
		tailSampling(t, brokers, otlpAddr, queryURL, false)
	})
	t.Run("rebalance", func(t *testing.T) {
		t.Parallel()
		tailSampling(t, brokers, otlpAddr, queryURL, true)
	})
}

func tailSampling(t *testing.T, brokers []string, otlpAddr, queryURL string, rebalance bool) {
	seed := uint64(time.Now().UnixNano())
	// Topics, groups and trace IDs of their own, so that a rerun against the
	// same broker and Jaeger does not meet the last run's.
	prefix := fmt.Sprintf("ts%x", seed&0xffffff)
	spansTopic, metricsTopic := prefix+"_spans", prefix+"_metrics"
	t.Logf("seed %d, topics %s, %s", seed, spansTopic, metricsTopic)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), receiver.PartitionerOpt(), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	createTopics(ctx, t, cl, tsPartitions, spansTopic, metricsTopic)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(tsRules), 0o644); err != nil {
		t.Fatal(err)
	}
	rw := newExemplarReceiver(t)
	cfg := func(name string) string {
		c := fmt.Sprintf(`listen: 127.0.0.1:0
kafka:
  brokers: [%s]
  group: %s
  metrics_topic: %s
  spans_topic: %s
  partials_topic: %s.partials
  decisions_topic: %s.decisions
  dead_letter_topic: %s.dlq
  state_topic: %s.state
  transactional_id: %s-%s
  session_timeout: 6s
rules: [rules.yaml]
aggregation:
  allowed_lateness: 1s
  idle_timeout: 5s
  close_timeout: 2m
tail_sampling:
  decision_wait: %s
  baseline_rate: %v
remote_write:
  - url: %s
traces:
  endpoint: %s
  insecure: true
`, strings.Join(brokers, ", "), prefix, metricsTopic, spansTopic, prefix, prefix, prefix, prefix, prefix, name,
			tsDecisionWait, tsBaselineRate, rw.URL, otlpAddr)
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	procs := []*proc{startWeir(t, "a", cfg("a"))}
	if !rebalance {
		procs = append(procs, startWeir(t, "b", cfg("b")))
	}
	// The traffic starts once the processes own partitions.
	joinedGroup := func() {
		t.Helper()
		var addrs []string
		for _, p := range procs {
			addr := p.httpAddr(ctx)
			if addr == "" {
				t.Fatalf("%s did not start", p.name)
			}
			addrs = append(addrs, addr)
		}
		if !waitFor(ctx, 200*time.Millisecond, func() bool {
			return everyProc(ctx, addrs, func(m metricsText) bool {
				n, _ := m.sum("weir_stage1_rebalances_total")
				return n >= 1
			}) || exited(procs...)
		}) || exited(procs...) {
			t.Fatal("the weir processes did not join the group")
		}
	}
	joinedGroup()
	gen := produceTailSamplingTraffic(ctx, t, cl, spansTopic, seed, func(elapsed time.Duration) {
		if rebalance && len(procs) == 1 && elapsed >= tsTrafficFor/2 {
			procs = append(procs, startWeir(t, "b", cfg("b")))
		}
	})
	t.Logf("produced %d traces, %d with an error span, %d with a part held back %v", len(gen),
		countTraces(gen, func(tr *tsTrace) bool { return tr.hasErr }), countTraces(gen, func(tr *tsTrace) bool { return tr.held }), tsLateBy)
	joinedGroup()
	var addrs []string
	for _, p := range procs {
		addrs = append(addrs, p.httpAddr(ctx))
	}

	// Done when every window closed and the second pass read every spans
	// record: the last were written at the end of the traffic, and are due
	// a decision wait later.
	trafficEnd := time.Now()
	settled := 0
	if !waitFor(ctx, time.Second, func() bool {
		if time.Since(trafficEnd) > tsDecisionWait+5*time.Second && everyProc(ctx, addrs, func(m metricsText) bool {
			open, ok := m.sum("weir_stage2_open_windows")
			return ok && open == 0
		}) {
			settled++
		} else {
			settled = 0
		}
		return settled >= 3 || exited(procs...)
	}) || exited(procs...) {
		t.Fatal("the weir processes did not settle: windows still open")
	}
	var late, unresolved, evicted float64
	for _, a := range addrs {
		m, err := scrape(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := m.sum("weir_tailsampling_late_spans_total", `decision="keep"`)
		u, _ := m.sum("weir_exemplar_traces_unresolved_total")
		e, _ := m.sum("weir_tailsampling_keep_set_evicted_total")
		late, unresolved, evicted = late+l, unresolved+u, evicted+e
	}
	for _, p := range procs {
		p.stop(t) // flushes the exporters
	}
	t.Logf("late spans exported after their keep decision: %v; unresolved exemplar decisions: %v; evicted: %v", late, unresolved, evicted)

	ids := make([]string, 0, len(gen))
	for id := range gen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	got, err := getJaegerTraces(ctx, queryURL, ids)
	if err != nil {
		t.Fatal(err)
	}
	checkTailSampling(t, gen, rw.exemplarTraces(), got, rebalance)
	if late == 0 {
		t.Error("no span arrived after its trace's keep decision: the decision cache was not exercised")
	}
}

// checkTailSampling compares what Jaeger holds with what was generated.
func checkTailSampling(t *testing.T, gen map[string]*tsTrace, exemplarIDs map[string]int, got map[string]jaegerTrace, dupsAllowed bool) {
	t.Helper()
	dups := 0
	whole := func(id string, why string) bool {
		want, tr := gen[id].spans, got[id]
		switch {
		case !tr.Found:
			t.Errorf("%s trace %s: not in Jaeger", why, id)
		case !sameSet(tr.Spans, want):
			t.Errorf("%s trace %s (part held back: %v): /api/traces has %d spans %v, generated %d %v",
				why, id, gen[id].held, len(tr.Spans), tr.Spans, len(want), want)
		case !sameSet(tr.RawSpans, want):
			t.Errorf("%s trace %s: Jaeger stored spans %v, generated %v", why, id, tr.RawSpans, want)
		case len(tr.RawSpans) != len(want):
			dups++
			if dupsAllowed {
				return true
			}
			t.Errorf("%s trace %s: Jaeger stored %d spans for %d generated (exported twice?)", why, id, len(tr.RawSpans), len(want))
		default:
			return true
		}
		return false
	}
	defer func() {
		if dups > 0 {
			t.Logf("%d kept traces have spans stored more than once", dups)
		}
	}()

	if len(exemplarIDs) == 0 {
		t.Fatal("no exemplar was written to remote write")
	}
	heldExemplars, okExemplars := 0, 0
	for id := range exemplarIDs {
		if gen[id] == nil {
			t.Errorf("exemplar trace %s was not generated by the test", id)
			continue
		}
		if whole(id, "exemplar") {
			okExemplars++
		}
		if gen[id].held {
			heldExemplars++
		}
	}
	t.Logf("%d distinct exemplar traces, %d whole in Jaeger; %d of them had a part produced %v late",
		len(exemplarIDs), okExemplars, heldExemplars, tsLateBy)
	if heldExemplars == 0 {
		t.Error("no exemplar trace had a part produced late: late spans were not tested")
	}

	errs := 0
	var others, kept, baseline, keptOutside, missedBaseline int
	for id, tr := range gen {
		if _, ok := exemplarIDs[id]; ok {
			continue
		}
		if tr.hasErr {
			errs++
			whole(id, "error")
			continue
		}
		others++
		in := tailsampling.Baseline(parseTraceID(t, id), tsBaselineRate)
		if in {
			baseline++
		}
		if got[id].Found {
			kept++
			whole(id, "baseline")
			if !in {
				keptOutside++
			}
		} else if in {
			missedBaseline++
		}
	}
	// Kept traces are a binomial sample of the others at the baseline rate:
	// their number lies within 5σ of its mean but by a chance of 6e-7.
	mean := float64(others) * tsBaselineRate
	sigma := math.Sqrt(mean * (1 - tsBaselineRate))
	t.Logf("error traces (not exemplars): %d; other traces: %d, kept %d (%.2f%%; baseline rate %.0f%%, 5σ bound %.0f±%.0f); Baseline selects %d",
		errs, others, kept, 100*float64(kept)/float64(others), 100*tsBaselineRate, mean, 5*sigma, baseline)
	if math.Abs(float64(kept)-mean) > 5*sigma {
		t.Errorf("%d of %d other traces kept: outside %.0f±%.0f (5σ of the baseline rate %v)", kept, others, mean, 5*sigma, tsBaselineRate)
	}
	// The baseline is a function of the trace ID: the kept others are
	// exactly those it selects.
	if keptOutside > 0 || missedBaseline > 0 {
		t.Errorf("other traces: %d kept that the baseline does not select, %d selected but not kept", keptOutside, missedBaseline)
	}
}

// produceTailSamplingTraffic produces loadgen traces, event times now, for
// tsTrafficFor; a share of the traces of several records has its last record
// held back and produced tsLateBy later. It calls onTick with the time
// elapsed before each batch, and returns what it produced, by trace ID.
func produceTailSamplingTraffic(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, seed uint64, onTick func(time.Duration)) map[string]*tsTrace {
	t.Helper()
	g := loadgen.New(loadgen.WithSeed(seed), loadgen.WithErrorRate(tsErrorRate))
	rng := rand.New(rand.NewPCG(seed, 0x1a7e))
	type delayed struct {
		due time.Time
		rec *kgo.Record
	}
	var held []delayed
	gen := map[string]*tsTrace{}
	end := time.Now().Add(tsTrafficFor)
	tick := time.NewTicker(tsTick)
	defer tick.Stop()
	for now := time.Now(); now.Before(end) || len(held) > 0; now = <-tick.C {
		onTick(tsTrafficFor - time.Until(end))
		var recs []*kgo.Record
		for range tsTracesPerTick {
			if !now.Before(end) {
				break
			}
			td := g.NextTrace(now)
			id, tr := describeTrace(td)
			if gen[id] != nil {
				t.Fatalf("loadgen repeated trace ID %s", id)
			}
			gen[id] = tr
			rs, err := receiver.TraceRecords(topic, td)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) > 1 && rng.Float64() < tsHeldShare {
				tr.held = true
				held = append(held, delayed{now.Add(tsLateBy), rs[len(rs)-1]})
				rs = rs[:len(rs)-1]
			}
			recs = append(recs, rs...)
		}
		for len(held) > 0 && !held[0].due.After(now) {
			recs = append(recs, held[0].rec)
			held = held[1:]
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	return gen
}

// describeTrace returns the trace ID of td (one trace) and its spans.
func describeTrace(td ptrace.Traces) (string, *tsTrace) {
	tr := &tsTrace{}
	var id string
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				s := spans.At(k)
				id = s.TraceID().String()
				tr.spans = append(tr.spans, s.SpanID().String())
				tr.hasErr = tr.hasErr || s.Status().Code() == ptrace.StatusCodeError
			}
		}
	}
	return id, tr
}

func parseTraceID(t *testing.T, s string) sample.TraceID {
	t.Helper()
	var id sample.TraceID
	if n, err := hex.Decode(id[:], []byte(s)); err != nil || n != len(id) {
		t.Fatalf("trace ID %q is not 32 hex digits: %v", s, err)
	}
	return id
}

func sameSet(got, want []string) bool {
	if len(got) < len(want) {
		return false
	}
	g := slices.Clone(got)
	slices.Sort(g)
	g = slices.Compact(g)
	w := slices.Clone(want)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// createTopics creates the topics and waits until the broker's metadata lists
// all their partitions with a leader: weir refuses to start on input topics
// it cannot see.
func createTopics(ctx context.Context, t *testing.T, cl *kgo.Client, partitions int32, topics ...string) {
	t.Helper()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(ctx, partitions, 1, nil, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topics %v: %v", topics, err)
	}
	if !waitFor(ctx, 50*time.Millisecond, func() bool {
		md, err := adm.ListTopics(ctx, topics...)
		if err != nil {
			return false
		}
		for _, topic := range topics {
			d, ok := md[topic]
			if !ok || d.Err != nil || len(d.Partitions) != int(partitions) {
				return false
			}
			for _, p := range d.Partitions {
				if p.Err != nil || p.Leader < 0 {
					return false
				}
			}
		}
		return true
	}) {
		t.Fatalf("topics %v not listed with %d partitions each", topics, partitions)
	}
}

func countTraces(gen map[string]*tsTrace, f func(*tsTrace) bool) int {
	n := 0
	for _, tr := range gen {
		if f(tr) {
			n++
		}
	}
	return n
}

// everyProc reports whether cond holds for the metrics of every address.
func everyProc(ctx context.Context, addrs []string, cond func(metricsText) bool) bool {
	for _, a := range addrs {
		m, err := scrape(ctx, a)
		if err != nil || !cond(m) {
			return false
		}
	}
	return true
}

// exemplarReceiver is a remote-write endpoint that records the trace IDs
// its exemplars link to.
type exemplarReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	traces map[string]int // trace_id → exemplars linking to it
}

func newExemplarReceiver(t *testing.T) *exemplarReceiver {
	r := &exemplarReceiver{traces: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *exemplarReceiver) serve(w http.ResponseWriter, req *http.Request) {
	b, err := io.ReadAll(req.Body)
	if err == nil {
		b, err = snappy.Decode(nil, b)
	}
	var wr prompb.WriteRequest
	if err == nil {
		err = wr.Unmarshal(b)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, ts := range wr.Timeseries {
		for _, ex := range ts.Exemplars {
			for _, l := range ex.Labels {
				if l.Name == "trace_id" {
					r.traces[l.Value]++
				}
			}
		}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *exemplarReceiver) exemplarTraces() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.traces))
	for k, v := range r.traces {
		out[k] = v
	}
	return out
}
