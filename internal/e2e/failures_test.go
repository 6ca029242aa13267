package e2e

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/weirdev/weir/internal/testenv"
)

// scenario prepares a smaller fixed input on brokers and its reference.
func scenario(t *testing.T, brokers []string, prefix string, extra ...string) (dir string, rw *rwReceiver, want map[string]string, cfg func(name string, extra ...string) string) {
	t.Helper()
	spansTopic, metricsTopic := prefix+"_spans", prefix+"_metrics"
	return scenarioOf(t, brokers, prefix, genInput(t, spansTopic, metricsTopic, 6000, 200), extra...)
}

// scenarioOf is scenario with the input given.
func scenarioOf(t *testing.T, brokers []string, prefix string, in input, extra ...string) (dir string, rw *rwReceiver, want map[string]string, cfg func(name string, extra ...string) string) {
	t.Helper()
	spansTopic, metricsTopic := prefix+"_spans", prefix+"_metrics"
	produce(t, brokers, in, spansTopic, metricsTopic)
	dir, want = withRules(t, in, spansTopic, metricsTopic)
	rw = newReceiver(t)
	cfg = func(name string, more ...string) string {
		return writeConfig(t, dir, name, brokers, rw.URL, spansTopic, metricsTopic, 1, append(slices.Clone(extra), more...)...)
	}
	return dir, rw, want, cfg
}

// settle waits until the receiver holds at least n samples and stopped
// changing, or ctx ends.
func settle(ctx context.Context, rw *rwReceiver, n int) {
	stable, last := 0, -1
	waitFor(ctx, time.Second, func() bool {
		got, _ := rw.snapshot()
		if len(got) == last && len(got) >= n {
			stable++
		} else {
			stable = 0
		}
		last = len(got)
		return stable >= 5
	})
}

// TestBrokerRestart restarts the (only) broker in the middle of the run:
// weir reconnects and the output still equals the reference.
func TestBrokerRestart(t *testing.T) {
	k := testenv.StartKafka(t, 1)
	_, rw, want, cfg := scenario(t, k.Brokers(), "br")
	a, b := startWeir(t, "a", cfg("a")), startWeir(t, "b", cfg("b"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	waitFor(ctx, 50*time.Millisecond, func() bool { got, _ := rw.snapshot(); return len(got) > len(want)/10 || exited(a, b) })
	if exited(a, b) {
		t.Fatal("a weir process exited")
	}
	got, _ := rw.snapshot()
	t.Logf("restarting the broker at %d/%d samples", len(got), len(want))
	k.Restart(t, 1, false)
	settle(ctx, rw, len(want))
	if got, _ := rw.snapshot(); len(got) < len(want) {
		logProgress(t, context.Background(), a, b)
	}
	a.stop(t)
	b.stop(t)
	got, conflicts := rw.snapshot()
	testenv.CompareOutput(t, want, got, conflicts)
}

// TestSinkUnavailable makes the remote-write receiver answer 503 for 60 s in
// the middle of the run: nothing is lost, the output catches up, and the
// process' memory stays bounded because consumption pauses.
func TestSinkUnavailable(t *testing.T) {
	brokers := testenv.Kafka(t, 1)
	_, rw, want, cfg := scenario(t, brokers, "sink503")
	rw.failWith.Store(http.StatusServiceUnavailable)
	a := startWeir(t, "a", cfg("a"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var peak int64
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && !exited(a) {
		if rss := rssBytes(a.cmd.Process.Pid); rss > peak {
			peak = rss
		}
		time.Sleep(time.Second)
	}
	if exited(a) {
		t.Fatal("weir exited while the sink was down")
	}
	refused := rw.requests.Load()
	rw.failWith.Store(0)
	settle(ctx, rw, len(want))
	a.stop(t)
	got, conflicts := rw.snapshot()
	testenv.CompareOutput(t, want, got, conflicts)
	if refused == 0 {
		t.Fatal("the receiver was never asked while failing: the test did not exercise the outage")
	}
	t.Logf("%d requests refused during the outage; peak RSS %d MiB", refused, peak>>20)
	if peak > 1<<30 {
		t.Errorf("peak RSS %d MiB during the outage: memory is not bounded", peak>>20)
	}
}

// TestSinkUnauthorized makes the remote-write receiver answer 401 for 60 s,
// as with an expired token: weir reports a configuration fault, drops
// nothing and commits nothing meanwhile, and once the receiver accepts again
// the output equals the reference.
func TestSinkUnauthorized(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t, 1)
	_, rw, want, cfg := scenario(t, brokers, "sink401")
	rw.failWith.Store(http.StatusUnauthorized)
	a := startWeir(t, "a", cfg("a"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	addr := a.httpAddr(ctx)
	if addr == "" {
		t.Fatal("weir logged no HTTP address")
	}
	metric := func(name string, labels ...string) float64 {
		m, err := scrape(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := m.sum(name, labels...)
		return v
	}
	end := time.Now().Add(60 * time.Second)
	faulted, notReady := false, false
	waitFor(ctx, time.Second, func() bool {
		if exited(a) {
			return true
		}
		faulted = faulted || metric("weir_remote_write_config_fault") == 1
		if code, _ := httpGet(ctx, "http://"+addr+"/-/ready"); code == http.StatusServiceUnavailable && rw.requests.Load() > 0 {
			notReady = true
		}
		return time.Now().After(end)
	})
	if exited(a) {
		t.Fatal("weir exited while the sink refused its credentials")
	}
	if !faulted {
		t.Error("weir_remote_write_config_fault never showed the fault")
	}
	if !notReady {
		t.Error("/-/ready never answered 503 while remote write refused the credentials")
	}
	if n := metric("weir_remote_write_dropped_samples_total"); n != 0 {
		t.Errorf("%v samples dropped during the fault, want 0", n)
	}
	refused := rw.requests.Load()
	rw.failWith.Store(0)
	settle(ctx, rw, len(want))
	if n := metric("weir_remote_write_config_fault"); n != 0 {
		t.Errorf("weir_remote_write_config_fault = %v once accepted, want 0", n)
	}
	if n := metric("weir_remote_write_dropped_samples_total"); n != 0 {
		t.Errorf("%v samples dropped, want 0", n)
	}
	a.stop(t)
	got, conflicts := rw.snapshot()
	testenv.CompareOutput(t, want, got, conflicts)
	if refused == 0 {
		t.Fatal("the receiver was never asked while refusing: the test did not exercise the fault")
	}
	t.Logf("%d requests refused with 401", refused)
}

// rssBytes reads a process' resident set size (0 once it has exited).
func rssBytes(pid int) int64 {
	v, _ := procField(pid, "VmRSS")
	return v
}
