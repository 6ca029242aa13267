package aggregator

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// TestReopenAfterFlushAll: a window handed on by FlushAll and opened again by
// a later point starts empty; the open-window cache must not hand back the
// window that was already handed on.
func TestReopenAfterFlushAll(t *testing.T) {
	a := newAgg(t)
	tg := target("c", 1, Spec{Agg: Count, Labels: labels.FromStrings("__name__", "c_count")})
	p := a.Partition(0, t0)
	ms := t0.UnixMilli()
	p.Add(obs(ms, 1, 0), tg, t0)
	p.Add(obs(ms, 1, 0), tg, t0)
	var first, second []Partial
	p.FlushAll(func(pt Partial) { first = append(first, pt) })
	p.Add(obs(ms, 1, 0), tg, t0)
	p.FlushAll(func(pt Partial) { second = append(second, pt) })
	if len(first) != 1 || len(second) != 1 {
		t.Fatalf("partials: %d then %d, want 1 and 1", len(first), len(second))
	}
	if first[0].w.n != 2 || second[0].w.n != 1 || first[0].w == second[0].w {
		t.Fatalf("counts %v then %v (same window: %v), want 2 then 1 in distinct windows", first[0].w.n, second[0].w.n, first[0].w == second[0].w)
	}
}
