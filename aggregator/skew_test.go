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

// TestBehindPartitionIsNotIdle: a partition whose consumer stalled (or was
// just assigned it) with records still to read must not follow wall time
// when it sends nothing: its backlog would all be late.
func TestBehindPartitionIsNotIdle(t *testing.T) {
	a := newAgg(t, AllowedLateness(time.Second), IdleTimeout(5*time.Second))
	p := a.Partition(0, t0)
	p.SetBehind(true)
	later := t0.Add(time.Minute)
	if wm := p.Advance(later, func(Partial) {}); wm > t0.UnixMilli() {
		t.Fatalf("a partition behind its input moved its watermark to %v", time.UnixMilli(wm).Sub(t0))
	}
	p.SetRecord(0, t0)
	if r := p.Add(obs(t0.UnixMilli()+100, 1, 0), redTarget(1), later); r != "" {
		t.Fatalf("backlog point dropped: %s", r)
	}
	p.SetBehind(false)
	if wm := p.Advance(later.Add(6*time.Second), func(Partial) {}); wm < later.UnixMilli() {
		t.Fatalf("caught up and idle, the watermark stayed at %v", time.UnixMilli(wm).Sub(t0))
	}
}
