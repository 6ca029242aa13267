package aggregator

import (
	"reflect"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

// partials builds the handed-on partial windows of a few targets covering
// every kind of state a window holds.
func partials(tb testing.TB, a *Aggregator) []Partial {
	tb.Helper()
	red := redTarget(1)
	hist := target("h", 2, Spec{Agg: Buckets, Labels: labels.FromStrings("__name__", "h_bucket")}, Spec{Agg: Sum}, Spec{Agg: Count})
	gauge := target("g", 3, Spec{Agg: Last}, Spec{Agg: Min}, Spec{Agg: Max}, Spec{Agg: Increase})
	// Specs named by their target's labels; "A" sorts before __name__, and
	// a label named quantile is replaced by the quantile's.
	named := &Target{Key: 4, Resolution: 10_000, Route: "10s:2d",
		Labels: labels.FromStrings("A", "up", "__name__", "d", "quantile", "user", "zz", "1"),
		Specs:  []Spec{{Agg: Quantile, Q: 0.99, Name: "d"}, {Agg: Sum, Name: "d_sum"}, {Agg: Max, Name: "d_max"}}}
	named.Init()
	p := a.Partition(5, t0)
	ms := t0.UnixMilli()
	for i, v := range []float64{0.01, 0.2, 0.2, 3, -1, 0} {
		p.Add(obs(ms+int64(i), v, byte(i+1)), red, t0)
		p.Add(obs(ms+int64(i), v, byte(i+1)), named, t0)
		p.Add(&sample.Point{Kind: sample.Delta, T: ms + int64(i), V: v}, gauge, t0)
	}
	p.Add(&sample.Point{Kind: sample.Histogram, T: ms, Hist: &sample.BucketHistogram{
		Bounds: []float64{0.1, 1}, Counts: []uint64{1, 0, 4}, Sum: 12, Count: 5,
		Exemplars: []sample.Exemplar{{TraceID: sample.TraceID{7}, Value: 5, Partition: 2}}}}, hist, t0)
	var out []Partial
	p.FlushAll(func(pt Partial) { out = append(out, pt) })
	return out
}

func TestCodecRoundTrip(t *testing.T) {
	a := newAgg(t)
	for _, p := range partials(t, a) {
		rec, err := a.Decode(EncodePartial(nil, p))
		if err != nil {
			t.Fatal(err)
		}
		got := rec.Partial
		if got == nil || rec.Source != 5 || got.Start != p.Start || got.Target.Key != p.Target.Key || len(got.Target.Specs) != len(p.Target.Specs) {
			t.Fatalf("decoded %+v, want %+v", got, p)
		}
		for i := range p.Target.Specs {
			gs, ws := &got.Target.Specs[i], &p.Target.Specs[i]
			if gl, wl := got.Target.SeriesLabels(gs), p.Target.SeriesLabels(ws); gs.Agg != ws.Agg || gs.Q != ws.Q || !labels.Equal(gl, wl) {
				t.Fatalf("target %d spec %d: decoded %v %v %s, want %v %v %s", p.Target.Key, i, gs.Agg, gs.Q, gl, ws.Agg, ws.Q, wl)
			}
		}
		var want, have []Series
		p.w.emit(p.Target, a.cfg.tolerance, func(s Series) { want = append(want, s) })
		got.w.emit(got.Target, a.cfg.tolerance, func(s Series) { have = append(have, s) })
		if len(want) == 0 || !reflect.DeepEqual(have, want) {
			t.Fatalf("target %d: emitted after round trip\n%+v\nwant\n%+v", p.Target.Key, have, want)
		}
	}
	rec, err := a.Decode(EncodeWatermark(nil, 12, -3))
	if err != nil || !rec.IsWatermark || rec.Source != 12 || rec.Watermark != -3 {
		t.Fatalf("watermark: %+v, %v", rec, err)
	}
}

func TestCodecErrors(t *testing.T) {
	a := newAgg(t)
	good := EncodePartial(nil, partials(t, a)[0])
	tests := map[string][]byte{
		"empty":           nil,
		"version":         {2, recWatermark, 0, 0},
		"type":            {codecVersion, 9},
		"truncated":       good[:len(good)/2],
		"trailing":        append(append([]byte{}, good...), 0),
		"huge label list": {codecVersion, recPartial, 0, 0, 20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, b := range tests {
		if _, err := a.Decode(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	a := newAgg(f)
	for _, p := range partials(f, a) {
		f.Add(EncodePartial(nil, p))
	}
	f.Add(EncodeWatermark(nil, 1, 1000))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := a.Decode(b)
		if err != nil || rec.Partial == nil {
			return
		}
		// Whatever decodes must merge and emit without panicking, and
		// re-encode to the same bytes.
		rec.Partial.w.emit(rec.Partial.Target, a.cfg.tolerance, func(Series) {})
		if again := EncodePartial(nil, *rec.Partial); len(again) == 0 {
			t.Fatal("re-encoding produced nothing")
		}
	})
}
