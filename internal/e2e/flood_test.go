package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/internal/loadgen"
	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/receiver"
)

// Flood scenario: a flood of spans, none decided within the test (the
// decision wait is longer) and none kept by the baseline: weir holds no
// span in memory (the spans topic is the buffer), so what it holds does not
// depend on the flood's size.
const (
	// floodWire is how many OTLP bytes are produced.
	floodWire = 256 << 20
	// floodBound is what the process may hold whatever the flood: its idle
	// footprint (~30 MiB), the records of a poll and their decoded spans, the
	// second pass's read-ahead of records not due (a fetch per partition)
	// and the Go heap's headroom over all that is live (the GC lets the heap
	// grow to twice the live heap before it collects, more while it runs
	// behind on two busy cores). Measured on 2 cores with the in-memory span
	// buffer weir had before: peaks of 148 MiB with a bound of 1 MiB.
	floodBound = 256 << 20
	// floodGrowth is how much the live heap may still grow once the flood
	// is full: far less than the input.
	floodGrowth = 32 << 20
)

// TestTailSamplingFlood floods one `weir run` through the real broker with
// 256 MiB of spans, none decided within the test. The process' peak
// resident memory (VmHWM) stays under a fixed bound, far under what the
// flood would take if it were held, and its live heap stops growing once the
// first quarter is in; no keep decision is evicted.
func TestTailSamplingFlood(t *testing.T) {
	brokers := testenv.Kafka(t, 1)
	prefix := fmt.Sprintf("flood%x", time.Now().UnixNano()&0xffffff)
	spansTopic, metricsTopic := prefix+"_spans", prefix+"_metrics"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), receiver.PartitionerOpt(),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createTopics(ctx, t, cl, 4, spansTopic, metricsTopic)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(tsRules), 0o644); err != nil {
		t.Fatal(err)
	}
	rw := newExemplarReceiver(t)
	config := filepath.Join(dir, "flood.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`listen: 127.0.0.1:0
kafka:
  brokers: [%s]
  group: %s
  metrics_topic: %s
  spans_topic: %s
  partials_topic: %s.partials
  decisions_topic: %s.decisions
  dead_letter_topic: %s.dlq
  state_topic: %s.state
rules: [rules.yaml]
aggregation:
  allowed_lateness: 1s
  idle_timeout: 5s
tail_sampling:
  decision_wait: 10m
  baseline_rate: 0
remote_write:
  - url: %s
`, strings.Join(brokers, ", "), prefix, metricsTopic, spansTopic, prefix, prefix, prefix, prefix, rw.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startWeir(t, "flood", config)
	addr := p.httpAddr(ctx)
	if addr == "" {
		t.Fatal("weir did not start")
	}
	pid := p.cmd.Process.Pid
	if !waitFor(ctx, 200*time.Millisecond, func() bool {
		return everyProc(ctx, []string{addr}, func(m metricsText) bool {
			n, _ := m.sum("weir_stage1_rebalances_total")
			return n >= 1
		}) || exited(p)
	}) || exited(p) {
		t.Fatal("weir did not join the group")
	}
	idle := procStatus(t, pid, "VmRSS")

	// Template traces, copied under new trace IDs: patching the ID in place
	// is much cheaper than generating.
	g := loadgen.New(loadgen.WithSeed(uint64(time.Now().UnixNano())), loadgen.WithErrorRate(0))
	var tmpl []*kgo.Record
	var tmplBytes, tmplSpans int
	for range 500 {
		td := g.NextTrace(time.Now())
		tmplSpans += td.SpanCount()
		rs, err := receiver.TraceRecords(spansTopic, td)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			tmplBytes += len(r.Value)
		}
		tmpl = append(tmpl, rs...)
	}
	var traces, wire, round int
	// flood produces wire bytes more and waits until weir took them in:
	// stage 1 has read every spans record.
	flood := func(bytes int) metricsText {
		t.Helper()
		start, traces0 := time.Now(), traces
		for end := wire + bytes; wire < end; round++ {
			traces += floodRound(t, ctx, cl, tmpl, round)
			wire += tmplBytes
		}
		var m metricsText
		if !waitFor(ctx, 250*time.Millisecond, func() bool {
			var err error
			if m, err = scrape(ctx, addr); err != nil {
				return exited(p)
			}
			lag, ok := m.sum("weir_stage1_lag", `topic="`+spansTopic+`"`)
			return ok && lag == 0 && time.Since(start) > 2*time.Second || exited(p)
		}) || exited(p) {
			t.Fatalf("weir did not take in the flood (exited: %v); last metrics:\n%s", exited(p), m)
		}
		n := traces - traces0
		t.Logf("flood of %d traces (%d MiB, %d spans) taken in within %v: %.0f spans/s", n, bytes>>20,
			n*tmplSpans/500, time.Since(start).Round(time.Millisecond), float64(n*tmplSpans/500)/time.Since(start).Seconds())
		return m
	}

	// After the first quarter, the rest must not make the process grow.
	flood(floodWire / 4)
	quarter, liveQuarter := procStatus(t, pid, "VmHWM"), liveHeap(t, addr)
	m := flood(floodWire - floodWire/4)
	peak, liveEnd := procStatus(t, pid, "VmHWM"), liveHeap(t, addr)
	p.stop(t)

	evicted, _ := m.sum("weir_tailsampling_keep_set_evicted_total")
	t.Logf("%d traces, %d MiB of OTLP; RSS idle %d MiB; peak after the first quarter %d MiB, at the end %d MiB (bound %d MiB)",
		traces, wire>>20, idle>>20, quarter>>20, peak>>20, floodBound>>20)
	if evicted > 0 {
		t.Errorf("%v keep decisions evicted", evicted)
	}
	if peak > floodBound {
		t.Errorf("peak RSS %d MiB: above the bound, %d MiB", peak>>20, floodBound>>20)
	}
	// Flat is judged on the live heap once weir took everything in (after a
	// GC, nothing fetched and not handled): the peak RSS also holds the
	// backlog of records fetched ahead and the GC's headroom over it, which
	// vary with timing (after the first quarter: 85 to 170 MiB measured).
	t.Logf("live heap after a GC: %d MiB after the first quarter, %d MiB at the end", liveQuarter>>20, liveEnd>>20)
	if grew := liveEnd - liveQuarter; grew > floodGrowth {
		t.Errorf("the live heap grew by %d MiB over the last three quarters of the flood (%d MiB of OTLP): memory is not flat",
			grew>>20, (floodWire-floodWire/4)>>20)
	}
}

// floodRound produces the template records once under trace IDs of round,
// and returns the number of traces.
func floodRound(t *testing.T, ctx context.Context, cl *kgo.Client, tmpl []*kgo.Record, round int) int {
	t.Helper()
	recs := make([]*kgo.Record, 0, len(tmpl))
	traces := 0
	var prev []byte
	old, id := make([]byte, 16), make([]byte, 16)
	for _, r := range tmpl {
		if _, err := hex.Decode(old, r.Key); err != nil {
			t.Fatal(err)
		}
		copy(id, old)
		id[0], id[1], id[2], id[3] = byte(round), byte(round>>8), 0xf1, 0x00
		if !bytes.Equal(r.Key, prev) {
			traces++
			prev = r.Key
		}
		recs = append(recs, &kgo.Record{Topic: r.Topic, Key: []byte(hex.EncodeToString(id)), Value: bytes.ReplaceAll(r.Value, old, id)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return traces
}

// procStatus reads a memory field (VmRSS, VmHWM) of /proc/PID/status, in
// bytes, failing the test when it cannot.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	v, err := procField(pid, field)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// liveHeap returns the Go heap the weir serving addr holds after a garbage
// collection (HeapAlloc, read through /debug/pprof/heap?gc=1).
func liveHeap(t *testing.T, addr string) int64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("heap profile: %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("heap profile of %s has no HeapAlloc line", addr)
	return 0
}

// procField reads a memory field (VmRSS, VmHWM) of /proc/PID/status, in bytes.
func procField(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}
