package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/weirdev/weir/internal/testenv"
)

// quotaRules are e2eRules under a limit the input passes by far, with a
// pool for checkout's span series that its share covers and one for
// cart's that it does not. The other series have no pool and priority 0.
const quotaRules = e2eRules + `
limits:
  default:
    samples_per_second: 400
    burst: 20s
    pools:
      - {name: checkout, match: '{service_name="checkout"}', share: 0.6, priority: 10}
      - {name: cart, match: '{service_name="cart"}', share: 0.02, priority: 1}
`

// TestQuotaPoolsAcrossKill: on the real broker, a tenant far over its
// limit sheds its low-priority pool while the high-priority pool's output
// equals the unlimited reference exactly, and the whole output equals the
// single-process reference under the limit, across a SIGKILL of one of two
// processes and its restart.
func TestQuotaPoolsAcrossKill(t *testing.T) {
	brokers := testenv.Kafka(t, 1)
	spansTopic, metricsTopic := "quota_spans", "quota_metrics"
	in := genInput(t, spansTopic, metricsTopic, 6000, 200)
	t.Logf("input: %d points, %d spans in %d records", in.points, in.spans, len(in.records))
	produce(t, brokers, in, spansTopic, metricsTopic)
	_, unlimited := withRules(t, in, spansTopic, metricsTopic)
	dir, want := withRulesOf(t, quotaRules, in, spansTopic, metricsTopic)

	// The reference itself: checkout whole, cart and the rest shed.
	of := func(out map[string]string, service string) map[string]string {
		m := map[string]string{}
		for k, v := range out {
			if strings.Contains(k, "{service_name "+service+" ") {
				m[k] = v
			}
		}
		return m
	}
	for _, tc := range []struct {
		service string
		whole   bool
	}{{"checkout", true}, {"cart", false}, {"frontend", false}} {
		got, all := of(want, tc.service), of(unlimited, tc.service)
		if len(all) == 0 {
			t.Fatalf("no output series of %s: the test's matchers miss the input", tc.service)
		}
		same := len(got) == len(all)
		for k, v := range all {
			if got[k] != v && same {
				t.Logf("%s: %s = %s, unlimited %s", tc.service, k, got[k], v)
			}
			same = same && got[k] == v
		}
		if same != tc.whole {
			t.Fatalf("under the limit, %s's output (%d samples) equal to the unlimited one (%d samples): %v, want %v", tc.service, len(got), len(all), same, tc.whole)
		}
		t.Logf("%s: %d of %d samples under the limit", tc.service, len(got), len(all))
	}

	rw := newReceiver(t)
	cfg := func(name string) string {
		return writeConfig(t, dir, name, brokers, rw.URL, spansTopic, metricsTopic, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	a, b := startWeir(t, "a", cfg("a")), startWeir(t, "b", cfg("b"))
	// b dies once a quarter of the metrics input is committed (see
	// TestClusterExactlyOnce): its partitions' counts are rebuilt by
	// the next reader.
	consumed := consumedShare(t, ctx, brokers, in, spansTopic, metricsTopic)
	waitFor(ctx, 100*time.Millisecond, func() bool { return consumed() >= 0.25 || exited(a, b) })
	if exited(a, b) {
		t.Fatal("a weir process exited")
	}
	b.kill()
	got, _ := rw.snapshot()
	t.Logf("b killed with %.0f%% of the metrics input committed, %d of %d samples written", 100*consumed(), len(got), len(want))
	b = startWeir(t, "b2", cfg("b"))
	settle(ctx, rw, len(want))
	// The shed points were counted, by pool: cart's, never checkout's.
	if addr := a.httpAddr(ctx); addr == "" {
		t.Error("a logged no HTTP address")
	} else if m, err := scrape(ctx, addr); err != nil {
		t.Error(err)
	} else {
		if n, _ := m.sum("weir_limits_shed_points_total", `pool="cart"`); n == 0 {
			t.Error("a shed no point of the cart pool")
		}
		if n, _ := m.sum("weir_limits_shed_points_total", `pool="checkout"`); n != 0 {
			t.Errorf("a shed %v points of the checkout pool", n)
		}
	}
	a.stop(t)
	b.stop(t)
	got, conflicts := rw.snapshot()
	testenv.CompareOutput(t, want, got, conflicts)
}
