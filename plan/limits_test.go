package plan

import (
	"testing"
	"time"

	"github.com/weirdev/weir/rules"
)

func TestTenantLimitsShedLowPriorityFirst(t *testing.T) {
	set, err := rules.Parse("limits.yaml", []byte(`
rollup:
  - name: low
    match: low_metric
    output: low_out
    aggregations: [sum]
    policies: [10s:2d]
    priority: 1
  - name: high
    match: high_metric
    output: high_out
    aggregations: [sum]
    policies: [10s:2d]
    priority: 10
limits:
  default: {samples_per_second: 100, burst: 1s}
  tenants:
    big: {samples_per_second: 1000000, burst: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	var l tenantLimits
	l.use(set)
	now := time.Unix(1000, 0)
	admitted := map[int]int{}
	// 300 points of each priority arrive at once, interleaved: more than
	// the bucket's 100 tokens.
	for range 300 {
		for _, prio := range []int{1, 10} {
			if l.admit("small", prio, now) {
				admitted[prio]++
			}
		}
	}
	// Priorities in use: 0 (unruled), 1, 10. Priority 1 keeps a third of the
	// bucket in reserve for higher ones, priority 10 may drain it.
	if admitted[1] > 67 || admitted[10] < 33 || admitted[1]+admitted[10] != 100 {
		t.Fatalf("admitted %v: want 100 in all, priority 1 stopping at the reserve", admitted)
	}
	if admitted[10] <= admitted[1]/2 {
		t.Errorf("high priority got %d against low %d", admitted[10], admitted[1])
	}
	// Tokens refill with time: half a second later, 50 more.
	n := 0
	for range 100 {
		if l.admit("small", 10, now.Add(500*time.Millisecond)) {
			n++
		}
	}
	if n != 50 {
		t.Errorf("after 500ms at 100/s: %d admitted, want 50", n)
	}
	// Another tenant has its own bucket and limit.
	for i := range 1000 {
		if !l.admit("big", 1, now) {
			t.Fatalf("tenant big refused point %d", i)
		}
	}
}

// A pipeline that is one of n over the same input enforces 1/n of each
// limit, so that the process admits what the rule says.
func TestTenantLimitsShare(t *testing.T) {
	set, err := rules.Parse("limits.yaml", []byte(`
limits:
  default: {samples_per_second: 100, burst: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		share float64
		want  int
	}{{0, 100}, {1, 100}, {0.25, 25}} {
		l := tenantLimits{share: tc.share}
		l.use(set)
		n := 0
		for range 300 {
			if l.admit("t", 0, now) {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("share %v: %d admitted at once, want %d", tc.share, n, tc.want)
		}
		n = 0
		for range 300 {
			if l.admit("t", 0, now.Add(time.Second)) {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("share %v: %d admitted a second later, want %d", tc.share, n, tc.want)
		}
	}
}
