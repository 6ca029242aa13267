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

// TestReplayKeepsIdleClock: a partition dropped and created again (an
// aborted transaction replays it) that reads again only records it read
// before has been idle since it first read them. Were the replay to restart
// the idle timeout, aborts more frequent than it would never let the last
// windows of a quiet input close. A record past those read before is new
// data, and restarts it.
func TestReplayKeepsIdleClock(t *testing.T) {
	a := newAgg(t, AllowedLateness(time.Second), IdleTimeout(5*time.Second))
	tg := redTarget(1)
	ms := t0.UnixMilli()
	read := func(p *Partition, off int64, now time.Time) {
		p.SetRecord(off, t0)
		if r := p.Add(obs(ms+off*100, 1, 0), tg, now); r != "" {
			t.Fatalf("record %d: point dropped: %s", off, r)
		}
	}
	p := a.Partition(0, t0)
	for off := range int64(3) {
		read(p, off, t0)
	}
	// Aborts at 2 s and 4 s: the records are read again each time.
	for _, at := range []time.Duration{2 * time.Second, 4 * time.Second} {
		a.DropPartition(0)
		p = a.Partition(0, t0.Add(at))
		for off := range int64(3) {
			read(p, off, t0.Add(at))
		}
		if wm := p.Advance(t0.Add(at), func(Partial) {}); wm > ms+200 {
			t.Fatalf("replayed at %v, the watermark went to %+d ms before the idle timeout", at, wm-ms)
		}
	}
	if wm := p.Advance(t0.Add(5*time.Second), func(Partial) {}); wm < t0.Add(4*time.Second).UnixMilli() {
		t.Fatalf("idle for the timeout since its records were first read, the watermark stayed at %+d ms", wm-ms)
	}

	// Dropped again, the partition reads one record it had not read: new
	// data at 6 s, idle at 11 s and not before.
	a.DropPartition(0)
	p = a.Partition(0, t0.Add(6*time.Second))
	for off := range int64(4) {
		read(p, off, t0.Add(6*time.Second))
	}
	if wm := p.Advance(t0.Add(10*time.Second), func(Partial) {}); wm > ms+300 {
		t.Fatalf("a new record read at 6 s, the watermark went to %+d ms at 10 s", wm-ms)
	}
	if wm := p.Advance(t0.Add(11*time.Second), func(Partial) {}); wm < t0.Add(10*time.Second).UnixMilli() {
		t.Fatalf("idle since 6 s, the watermark stayed at %+d ms at 11 s", wm-ms)
	}
}
