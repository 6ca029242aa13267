package aggregator

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/weirdev/weir/sample"
)

// TestReplayFromCommitPoint simulates a crash of a stage-1 owner: what it
// handed on before its last commit, plus what a new owner computes replaying
// from the committed offset with the committed watermark, equals what one
// uninterrupted owner computes.
func TestReplayFromCommitPoint(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	base := t0.UnixMilli() - t0.UnixMilli()%10_000
	// 400 records of 5 points each, event time roughly increasing with jitter.
	type record [5]*sample.Point
	recs := make([]record, 400)
	for i := range recs {
		for j := range recs[i] {
			recs[i][j] = obs(base+int64(i)*250+int64(r.IntN(3000)), float64(r.IntN(1000))/100, byte(r.IntN(250)+1))
		}
	}
	tg := redTarget(1)
	opts := []Opt{AllowedLateness(time.Second), IdleTimeout(time.Hour), MaxFuture(time.Hour * 1e4)}
	run := func(a *Aggregator, p *Partition, from, to int, out func(Partial)) {
		for i := from; i < to; i++ {
			p.SetRecord(int64(i), time.Time{})
			for _, pt := range recs[i] {
				p.Add(pt, tg, t0)
			}
			if i%7 == 0 {
				p.Advance(t0, out)
			}
		}
	}
	emitAll := func(parts []Partial) map[string]Series {
		a := newAgg(t, opts...)
		m := a.NewMerger()
		for _, pt := range parts {
			m.Merge(pt, -1)
		}
		out := map[string]Series{}
		(&local{a: a, m: m}).flush(func(s Series) { out[fmt.Sprint(s.Labels, s.T)] = s })
		return out
	}

	// Reference: one owner, start to end.
	ref := newAgg(t, opts...)
	var want []Partial
	rp := ref.Partition(0, t0)
	run(ref, rp, 0, len(recs), func(pt Partial) { want = append(want, pt) })
	rp.FlushAll(func(pt Partial) { want = append(want, pt) })

	for _, crashAt := range []int{1, 57, 200, 399} {
		// The first owner: its output up to the commit survives, the rest of
		// its work (after the commit) is lost with it.
		a := newAgg(t, opts...)
		p := a.Partition(0, t0)
		var committed []Partial
		run(a, p, 0, crashAt, func(pt Partial) { committed = append(committed, pt) })
		p.Advance(t0, func(pt Partial) { committed = append(committed, pt) })
		offset, flushed := p.CommitPoint(), p.Watermark()

		b := newAgg(t, opts...)
		q := b.Partition(0, t0)
		q.Restore(flushed)
		got := append([]Partial(nil), committed...)
		run(b, q, int(offset), len(recs), func(pt Partial) { got = append(got, pt) })
		q.FlushAll(func(pt Partial) { got = append(got, pt) })

		if w, g := emitAll(want), emitAll(got); !reflect.DeepEqual(w, g) {
			t.Fatalf("crash after record %d (replay from %d, flushed %d): output differs from the reference (%d vs %d series)", crashAt, offset, flushed, len(g), len(w))
		}
	}
}
