package aggregator

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
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

// An encoder writes each sketch candidate in its value's bucket, the top
// candidate as the max exemplar, and only exemplars with a trace; records
// that do otherwise are refused (decoded, they emitted or re-encoded
// differently: FuzzDecode found them, kept in testdata/fuzz/FuzzDecode).
func TestCodecRefusesMisplacedExemplars(t *testing.T) {
	withCandidates := func() Partial {
		for _, p := range partials(t, newAgg(t)) {
			if p.w.sk != nil && p.w.sk.candidates() >= 2 && (p.w.hist == nil || p.w.hist.counts == nil) {
				return p
			}
		}
		t.Fatal("no partial with two candidates and no histogram")
		return Partial{}
	}
	a := newAgg(t)
	p := withCandidates()
	good := EncodePartial(nil, p)
	if _, err := a.Decode(good); err != nil {
		t.Fatalf("the unaltered record: %v", err)
	}

	sk := p.w.sk
	var valid []int
	for i := range sk.cands {
		if !sk.cands[i].traceID.IsZero() {
			valid = append(valid, i)
		}
	}
	i, j := valid[0], valid[len(valid)-1]
	sk.cands[i], sk.cands[j] = sk.cands[j], sk.cands[i]
	if _, err := a.Decode(EncodePartial(nil, p)); err == nil || !strings.Contains(err.Error(), "bad exemplar of value") {
		t.Errorf("candidates in each other's bucket: error %v", err)
	}

	max := appendOptExemplar(nil, withCandidates().w.sk.maxExemplar())
	if !bytes.HasSuffix(good, max) {
		t.Fatal("the record does not end with its max exemplar")
	}
	other := append([]byte(nil), good...)
	other[len(other)-len(max)+1] ^= 0xff // the trace ID's first byte
	if _, err := a.Decode(other); err == nil || !strings.Contains(err.Error(), "not the top candidate") {
		t.Errorf("a max exemplar that is no candidate: error %v", err)
	}

	// Present, but without a trace: emitted with its other fields, it
	// re-encoded as absent (FuzzDecode found it in a histogram bucket).
	copy(other[len(other)-len(max)+1:], make([]byte, 16))
	if _, err := a.Decode(other); err == nil || !strings.Contains(err.Error(), "exemplar without a trace ID") {
		t.Errorf("an exemplar without a trace ID: error %v", err)
	}
}

// FuzzDecode: what decodes is a fixed point of the codec (re-encoded, it
// decodes to a window that emits the same series and encodes to the same
// bytes), and merges with a copy of itself into a window that still
// encodes to a record that decodes.
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
		enc := EncodePartial(nil, *rec.Partial)
		again, err := a.Decode(enc)
		if err != nil || again.Partial == nil {
			t.Fatalf("re-encoded record does not decode: %v\n%x", err, enc)
		}
		if enc2 := EncodePartial(nil, *again.Partial); !bytes.Equal(enc2, enc) {
			t.Fatalf("re-encoding differs:\n%x\nwant\n%x", enc2, enc)
		}
		if got, want := emitted(a, again.Partial), emitted(a, rec.Partial); got != want {
			t.Fatalf("after a round trip the window emits\n%s\nwant\n%s", got, want)
		}
		if err := rec.Partial.w.merge(again.Partial.w); err != nil {
			return
		}
		emitted(a, rec.Partial)
		if _, err := a.Decode(EncodePartial(nil, *rec.Partial)); err != nil {
			t.Fatalf("a window merged with itself encodes to a record that does not decode: %v", err)
		}
	})
}

// emitted renders what a partial's window emits (NaN equal to NaN).
func emitted(a *Aggregator, p *Partial) string {
	var out []Series
	p.w.emit(p.Target, a.cfg.tolerance, func(s Series) { out = append(out, s) })
	return fmt.Sprintf("%+v", out)
}
