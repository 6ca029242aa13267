package aggregator

import "testing"

// A target's next window starts with room for most of the previous one's
// buckets, so that filling it alike does not regrow its tables.
func TestWindowSizedLikePrevious(t *testing.T) {
	a := newAgg(t)
	tg := target("lat", 1, Spec{Agg: Quantile, Q: 0.99})
	p := a.Partition(0, t0)
	now := t0
	fill := func(start int64) *window {
		for i := range 200 {
			v := 0.001 * float64(1+i*i) // 200 distinct buckets
			if r := p.Add(obs(start+int64(i), v, byte(1+i%250)), tg, now); r != "" {
				t.Fatalf("point %d dropped: %s", i, r)
			}
		}
		return &p.open[winKey{tg.Key, start}].w
	}
	first := fill(0)
	if n := len(first.sk.keys); n < 150 {
		t.Fatalf("first window has %d buckets, want 150+", n)
	}
	if r := p.Add(obs(10_000, 0.001, 1), tg, now); r != "" {
		t.Fatalf("dropped: %s", r)
	}
	second := p.open[winKey{tg.Key, 10_000}].w
	if got, want := cap(second.sk.keys), len(first.sk.keys)*7/8; got < want {
		t.Errorf("second window's keys have capacity %d after one point, want %d (7/8 of the first's %d buckets)", got, want, len(first.sk.keys))
	}
	if got := cap(second.sk.cands); got < len(first.sk.keys)*7/8 {
		t.Errorf("second window's candidates have capacity %d, want the keys' %d", got, cap(second.sk.keys))
	}
}
