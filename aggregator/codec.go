package aggregator

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

// The wire format of weir.partials records, version 1. Everything is
// little-endian; "varint" and "uvarint" are encoding/binary's; "f64" is an
// IEEE-754 float64 in 8 bytes; "str" is a uvarint length and the bytes.
//
//	record    = version:byte(1) type:byte body
//	type 1    = partial:   source:varint start:varint resolution:varint key:u64
//	                       route:str specs window
//	type 2    = watermark: source:varint watermark:varint
//	specs     = n:uvarint { agg:byte q:f64 labels }    agg's bit 7: Cumulative
//	labels    = n:uvarint { name:str value:str }
//	window    = n:f64 sum:xsum delta:xsum flags:byte
//	            [kinds: byte]
//	            [scalar: min:f64 max:f64 lastT:varint lastV:f64]
//	            [dist: zero:f64 pos:bins neg:bins cands maxEx:exemplar?]
//	            [hist: nb:uvarint bounds:f64*(nb-1) counts:uvarint*nb exemplar?*nb]
//	            [ext: n:uvarint { agg:byte state }]
//	xsum      = n:uvarint f64*n special:f64
//	bins      = n:uvarint { index:varint count:f64 }
//	cands     = n:uvarint { key:varint exemplar }
//	exemplar  = trace:16 span:8 value:f64 t:varint partition:varint
//	exemplar? = present:byte [exemplar]
//
// Each part in brackets is present when its flag is set. kinds has bit 1<<k
// set for each sample.Kind k among the window's points; a record without
// it (an encoder before it) leaves them unknown.
//
// A decoder refuses unknown versions and types, truncated input, trailing
// bytes, and values no encoder writes (negative counts, NaN bounds, indexes
// outside the sketch's range, an exemplar candidate outside its value's
// bucket, a max exemplar other than the top candidate), so a corrupt record
// is an error, never a panic, a huge allocation or a window that re-encodes
// to another record.
const codecVersion = 1

const (
	recPartial   = 1
	recWatermark = 2
)

// specCumulative marks a Cumulative Spec in its aggregation byte.
const specCumulative = 0x80

const (
	flagScalar = 1 << iota
	flagDist
	flagHist
	flagExt
	flagKinds
)

// maxSketchIndex bounds sketch indexes on decode: a 1% sketch indexes all of
// float64's range within ±40,000.
const maxSketchIndex = 1 << 20

// EncodePartial appends the record of a partial window to b.
func EncodePartial(b []byte, p Partial) []byte {
	b = append(b, codecVersion, recPartial)
	b = binary.AppendVarint(b, int64(p.Partition))
	b = binary.AppendVarint(b, p.Start)
	b = binary.AppendVarint(b, p.Target.Resolution)
	b = binary.LittleEndian.AppendUint64(b, p.Target.Key)
	b = appendStr(b, p.Target.Route)
	b = binary.AppendUvarint(b, uint64(len(p.Target.Specs)))
	for i := range p.Target.Specs {
		s := &p.Target.Specs[i]
		a := byte(s.Agg)
		if s.Cumulative {
			a |= specCumulative
		}
		b = append(b, a)
		b = appendF64(b, s.Q)
		b = binary.AppendUvarint(b, uint64(p.Target.seriesLabelCount(s)))
		p.Target.eachSeriesLabel(s, func(name, value string) {
			b = appendStr(b, name)
			b = appendStr(b, value)
		})
	}
	return p.w.appendTo(b, p.Target)
}

// EncodeWatermark appends the record of a stage-1 partition's watermark.
func EncodeWatermark(b []byte, source int32, wm int64) []byte {
	b = append(b, codecVersion, recWatermark)
	b = binary.AppendVarint(b, int64(source))
	return binary.AppendVarint(b, wm)
}

// Record is a decoded weir.partials record: a Partial, or a watermark.
type Record struct {
	Partial     *Partial // nil for a watermark
	Source      int32
	Watermark   int64
	IsWatermark bool
}

// Decode parses a weir.partials record. Targets are rebuilt from the record;
// equal keys get equal targets.
func (a *Aggregator) Decode(b []byte) (Record, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != codecVersion {
		return Record{}, fmt.Errorf("partials record: unknown version %d", v)
	}
	typ := d.byte()
	var r Record
	switch {
	case d.err != nil:
	case typ == recWatermark:
		r.IsWatermark = true
		r.Source = d.int32()
		r.Watermark = d.varint()
	case typ == recPartial:
		r.Partial = a.decodePartial(&d)
		if r.Partial != nil {
			r.Source = r.Partial.Partition
		}
	default:
		return Record{}, fmt.Errorf("partials record: unknown type %d", typ)
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return Record{}, fmt.Errorf("partials record: %w", d.err)
	}
	return r, nil
}

func (a *Aggregator) decodePartial(d *decoder) *Partial {
	p := &Partial{Partition: d.int32(), Start: d.varint()}
	t := &Target{Resolution: d.varint(), Key: d.u64(), Route: d.str()}
	if d.err == nil && t.Resolution <= 0 {
		d.fail("resolution %d", t.Resolution)
	}
	n := d.count(10)
	for i := 0; i < n && d.err == nil; i++ {
		a := d.byte()
		s := Spec{Agg: Agg(a &^ specCumulative), Cumulative: a&specCumulative != 0, Q: d.f64()}
		if s.Agg >= numAggs {
			d.fail("aggregation %d", s.Agg)
		}
		nl := d.count(2)
		bl := labels.NewScratchBuilder(nl)
		for j := 0; j < nl && d.err == nil; j++ {
			bl.Add(d.str(), d.str())
		}
		bl.Sort()
		s.Labels = bl.Labels()
		t.Specs = append(t.Specs, s)
	}
	t.Init()
	p.Target = t
	p.w = a.decodeWindow(d, t, p.Start)
	if d.err != nil {
		return nil
	}
	return p
}

func (w *window) appendTo(b []byte, t *Target) []byte {
	b = appendF64(b, w.n)
	b = w.sum.appendTo(b)
	b = w.delta.appendTo(b)
	var flags byte
	if w.scalar {
		flags |= flagScalar
	}
	if w.sk != nil {
		flags |= flagDist
	}
	if w.hist != nil && w.hist.counts != nil {
		flags |= flagHist
	}
	if len(w.ext) > 0 {
		flags |= flagExt
	}
	if w.kinds != 0 {
		flags |= flagKinds
	}
	b = append(b, flags)
	if w.kinds != 0 {
		b = append(b, w.kinds)
	}
	if w.scalar {
		b = appendF64(b, w.min)
		b = appendF64(b, w.max)
		b = binary.AppendVarint(b, w.lastT)
		b = appendF64(b, w.lastV)
	}
	if w.sk != nil {
		b = appendF64(b, w.sk.zeroCount())
		b = appendBins(b, w.sk, Positive)
		b = appendBins(b, w.sk, Negative)
		b = binary.AppendUvarint(b, uint64(w.sk.candidates()))
		w.sk.eachCandidate(func(k Key, e sample.Exemplar) {
			b = binary.AppendVarint(b, int64(k))
			b = appendExemplar(b, e)
		})
		b = appendOptExemplar(b, w.sk.maxExemplar())
	}
	if flags&flagHist != 0 {
		h := w.hist
		b = binary.AppendUvarint(b, uint64(len(h.counts)))
		for _, v := range h.bounds {
			b = appendF64(b, v)
		}
		for _, c := range h.counts {
			b = binary.AppendUvarint(b, c)
		}
		for _, e := range h.ex {
			b = appendOptExemplar(b, e)
		}
	}
	if flags&flagExt != 0 {
		b = binary.AppendUvarint(b, uint64(len(w.ext)))
		for i, e := range w.ext {
			b = append(b, byte(t.needs.extra[i]))
			b = e.appendTo(b)
		}
	}
	return b
}

func appendBins(b []byte, s *sketch, sign int8) []byte {
	n := 0
	s.eachBin(sign, func(int, float64) { n++ })
	b = binary.AppendUvarint(b, uint64(n))
	s.eachBin(sign, func(idx int, c float64) {
		b = binary.AppendVarint(b, int64(idx))
		b = appendF64(b, c)
	})
	return b
}

func (a *Aggregator) decodeWindow(d *decoder, t *Target, start int64) *window {
	w := &window{start: start, min: math.Inf(1), max: math.Inf(-1)}
	w.n = d.count64()
	w.sum = d.xsum()
	w.delta = d.xsum()
	flags := d.byte()
	if flags&^(flagScalar|flagDist|flagHist|flagExt|flagKinds) != 0 {
		d.fail("window flags %#x", flags)
	}
	if flags&flagKinds != 0 {
		if w.kinds = d.byte(); d.err == nil && (w.kinds == 0 || w.kinds&^knownKinds != 0) {
			d.fail("window point kinds %#x", w.kinds)
		}
	}
	if flags&flagScalar != 0 {
		w.scalar = true
		w.min, w.max, w.lastT, w.lastV = d.f64(), d.f64(), d.varint(), d.f64()
	}
	if flags&flagDist != 0 {
		w.sk = newSketch(a.mapping)
		if z := d.count64(); z > 0 && d.err == nil {
			w.sk.addCount(w.sk.entry(0), z)
		}
		for _, sign := range []int8{Positive, Negative} {
			n := d.count(9)
			for i := 0; i < n && d.err == nil; i++ {
				idx, c := d.varint(), d.count64()
				if idx < -maxSketchIndex || idx > maxSketchIndex {
					d.fail("sketch index %d", idx)
					break
				}
				if c > 0 {
					w.sk.addCount(w.sk.entry(packKey(sign, int(idx))), c)
				}
			}
		}
		n := d.count(34)
		for i := 0; i < n && d.err == nil; i++ {
			key := Key(d.varint())
			k, err := sketchKey(key)
			ex := d.exemplar()
			if err != nil {
				d.fail("%v", err)
				break
			}
			// A candidate sits in its value's bucket, where a merge and a
			// quantile's exemplar look for it.
			if vk, err := w.sk.key(ex.Value); d.err == nil && (err != nil || vk != k) {
				d.fail("exemplar of value %v in bucket %d", ex.Value, int64(key))
				break
			}
			if ex.Valid() && d.err == nil {
				w.sk.propose(w.sk.entry(k), ex)
			}
		}
		// The max exemplar is the top candidate; an encoder writes it for
		// readers that keep it apart.
		if ex := d.optExemplar(); d.err == nil && ex != w.sk.maxExemplar() {
			d.fail("max exemplar of value %v is not the top candidate", ex.Value)
		}
	} else if t.needs.dist {
		w.sk = newSketch(a.mapping)
	}
	if flags&flagHist != 0 {
		// A bucket takes at least its count and its exemplar's presence
		// byte; all but the last add a bound of 8 bytes, checked as read.
		n := d.count(2)
		h := &bucketHist{bounds: make([]float64, 0, max(n-1, 0)), counts: make([]uint64, 0, n), ex: make([]sample.Exemplar, 0, n)}
		if n == 0 {
			d.fail("histogram without buckets")
		}
		for i := 0; i < n-1 && d.err == nil; i++ {
			v := d.f64()
			if math.IsNaN(v) || (i > 0 && v <= h.bounds[i-1]) {
				d.fail("histogram bounds not ascending")
			}
			h.bounds = append(h.bounds, v)
		}
		for i := 0; i < n && d.err == nil; i++ {
			h.counts = append(h.counts, d.uvarint())
		}
		for i := 0; i < n && d.err == nil; i++ {
			h.ex = append(h.ex, d.optExemplar())
		}
		w.hist = h
	} else if t.needs.buckets {
		w.hist = &bucketHist{}
	}
	if flags&flagExt != 0 {
		n := d.count(2)
		if d.err == nil && n != len(t.needs.extra) {
			d.fail("%d extra states for %d", n, len(t.needs.extra))
		}
		w.ext = make([]extra, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			if a := Agg(d.byte()); d.err == nil && a != t.needs.extra[i] {
				d.fail("extra state of %v where %v's is due", a, t.needs.extra[i])
				break
			}
			e := newExtra(t.needs.extra[i])
			e.read(d)
			w.ext = append(w.ext, e)
		}
	} else {
		w.ext = newExtras(t)
	}
	return w
}

func (s *exactSum) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s.partials)))
	for _, p := range s.partials {
		b = appendF64(b, p)
	}
	return appendF64(b, s.special)
}

func appendF64(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendExemplar(b []byte, e sample.Exemplar) []byte {
	b = append(b, e.TraceID[:]...)
	b = append(b, e.SpanID[:]...)
	b = appendF64(b, e.Value)
	b = binary.AppendVarint(b, e.T)
	return binary.AppendVarint(b, int64(e.Partition))
}

func appendOptExemplar(b []byte, e sample.Exemplar) []byte {
	if !e.Valid() {
		return append(b, 0)
	}
	return appendExemplar(append(b, 1), e)
}
