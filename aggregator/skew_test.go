package aggregator

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestClockSkewedPointHoldsNoOneLate: one point nine minutes ahead of its
// record's timestamp (within max future) among correct ones must not close
// the windows of the points after it; it waits in its own window, which
// closes once the records' time reaches it.
func TestClockSkewedPointHoldsNoOneLate(t *testing.T) {
	a := newAgg(t, AllowedLateness(2*time.Second), MaxFuture(10*time.Minute))
	tg := redTarget(1)
	p := a.Partition(0, t0)
	ms := t0.UnixMilli()
	var handed []Partial
	off := int64(0)
	add := func(rec time.Time, eventMs int64) {
		p.SetRecord(off, rec)
		off++
		if r := p.Add(obs(eventMs, 0.1, 1), tg, t0); r != "" {
			t.Errorf("point at %+d ms (record at %+d ms) dropped: %s", eventMs-ms, rec.UnixMilli()-ms, r)
		}
	}
	add(t0, ms)
	add(t0, ms+9*60_000) // the skewed clock
	p.Advance(t0, func(pt Partial) { handed = append(handed, pt) })
	if got := p.TakeSkew(); got != 9*time.Minute {
		t.Errorf("skew = %v, want 9m", got)
	}
	for i := range 1000 {
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		add(at, at.UnixMilli())
		if i%100 == 0 {
			p.Advance(at, func(pt Partial) { handed = append(handed, pt) })
		}
	}
	for _, pt := range handed {
		if pt.Start+pt.Target.Resolution > ms+9*60_000 {
			t.Errorf("window [%d, +%d) handed on before the records' time reached it", pt.Start-ms, pt.Target.Resolution)
		}
	}
	if got := testutilDropped(a, ReasonWindowClosed); got != 0 {
		t.Errorf("%v points dropped as window_closed, want 0", got)
	}
}

func testutilDropped(a *Aggregator, reason string) float64 {
	return testutil.ToFloat64(a.m.dropped.WithLabelValues(reason))
}
