package cardinality

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/axiomhq/hyperloglog"
)

// Metric is the profile of one metric of one tenant: of one partition as a
// Profiler publishes it, or merged over many by a View.
type Metric struct {
	Tenant, Name string
	// Start and End (Unix ms) bound the time the profile covers.
	Start, End int64
	// Samples counts the points in that time.
	Samples uint64
	// Series holds the input series, Outputs the output series (one per
	// output target and aggregation) they fed.
	Series, Outputs *hyperloglog.Sketch
	Labels          map[string]*Label
}

// Label is the profile of one label of a metric: its distinct values, and
// its most frequent values counted by series.
type Label struct {
	Values *hyperloglog.Sketch
	Top    *TopK
}

// SamplesPerSecond returns the samples over the time the profile covers (at
// least a second).
func (m *Metric) SamplesPerSecond() float64 {
	d := float64(m.End-m.Start) / 1000
	return float64(m.Samples) / max(d, 1)
}

// recordVersion is the first byte of a published profile.
//
// Version 1: version:u8 tenant:str name:str start:varint end:varint
// samples:uvarint series:bytes outputs:bytes labels:uvarint, then per label
// name:str values:bytes k:uvarint n:uvarint items:uvarint, then per item
// value:str count:uvarint err:uvarint. str and bytes are uvarint-length
// prefixed; the sketches are hyperloglog's binary encoding.
const recordVersion = 1

// Key returns the record key of a profile: the worker that profiled
// (unique in the group), the tenant and the metric. The topic (compacted)
// keeps the latest profile of each; a worker that has gone leaves records
// that readers let go stale.
func Key(worker, tenant, metric string) []byte {
	b := appendStr([]byte{recordVersion}, worker)
	b = appendStr(b, tenant)
	return appendStr(b, metric)
}

// AppendMetric appends m's record to b.
func AppendMetric(b []byte, m *Metric) []byte {
	b = append(b, recordVersion)
	b = appendStr(b, m.Tenant)
	b = appendStr(b, m.Name)
	b = binary.AppendVarint(b, m.Start)
	b = binary.AppendVarint(b, m.End)
	b = binary.AppendUvarint(b, m.Samples)
	b = appendSketch(b, m.Series)
	b = appendSketch(b, m.Outputs)
	b = binary.AppendUvarint(b, uint64(len(m.Labels)))
	for _, name := range sortedKeys(m.Labels) {
		l := m.Labels[name]
		b = appendStr(b, name)
		b = appendSketch(b, l.Values)
		b = binary.AppendUvarint(b, uint64(l.Top.k))
		b = binary.AppendUvarint(b, l.Top.n)
		b = binary.AppendUvarint(b, uint64(len(l.Top.items)))
		for _, it := range l.Top.items {
			b = appendStr(b, it.Value)
			b = binary.AppendUvarint(b, it.Count)
			b = binary.AppendUvarint(b, it.Err)
		}
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendSketch(b []byte, s *hyperloglog.Sketch) []byte {
	enc, err := s.MarshalBinary()
	if err != nil {
		// The sketch's own encoding of its own state does not fail.
		panic("cardinality: encode sketch: " + err.Error())
	}
	return append(binary.AppendUvarint(b, uint64(len(enc))), enc...)
}

// ErrRecord is wrapped by every error of ParseMetric.
var ErrRecord = errors.New("cardinality: bad profile record")

// maxTopK bounds the k a record may ask for.
const maxTopK = 1024

// ParseMetric decodes a record AppendMetric wrote. An error names what did
// not decode and where; it wraps ErrRecord.
func ParseMetric(b []byte) (*Metric, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != recordVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrRecord, v, recordVersion)
	}
	m := &Metric{Labels: map[string]*Label{}}
	m.Tenant = d.str("tenant")
	m.Name = d.str("metric")
	m.Start = d.varint("start")
	m.End = d.varint("end")
	m.Samples = d.uvarint("samples")
	m.Series = d.sketch("series sketch")
	m.Outputs = d.sketch("output sketch")
	n := d.count("labels", 3)
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.str("label name")
		l := &Label{Values: d.sketch("label " + name + " sketch")}
		k := d.uvarint("label " + name + " k")
		if d.err == nil && (k == 0 || k > maxTopK) {
			d.fail("label %s: k %d is not in [1, %d]", name, k, maxTopK)
		}
		top := NewTopK(int(k))
		top.n = d.uvarint("label " + name + " total")
		items := d.count("label "+name+" items", 3)
		if d.err == nil && items > k {
			d.fail("label %s: %d items for k %d", name, items, k)
		}
		for j := uint64(0); j < items && d.err == nil; j++ {
			it := TopItem{Value: d.str("top value"), Count: d.uvarint("top count"), Err: d.uvarint("top error")}
			if _, dup := top.idx[it.Value]; dup {
				d.fail("label %s: top value %q twice", name, it.Value)
			}
			top.idx[it.Value] = len(top.items)
			top.items = append(top.items, it)
		}
		l.Top = top
		if _, dup := m.Labels[name]; dup && d.err == nil {
			d.fail("label %s twice", name)
		}
		m.Labels[name] = l
	}
	if d.err == nil && len(d.b) > d.off {
		d.fail("%d bytes after the record", len(d.b)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", ErrRecord, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("empty record")
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("%s does not decode", what)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("%s does not decode", what)
		return 0
	}
	d.off += n
	return v
}

// count reads a number of entries, each at least min bytes long: no more
// than the record can hold.
func (d *decoder) count(what string, min int) uint64 {
	n := d.uvarint(what)
	if d.err == nil && n > uint64(len(d.b)-d.off)/uint64(min) {
		d.fail("%s: %d entries in %d bytes", what, n, len(d.b)-d.off)
		return 0
	}
	return n
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("%s of %d bytes, %d left", what, n, len(d.b)-d.off)
		return nil
	}
	v := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return v
}

func (d *decoder) str(what string) string { return string(d.bytes(what)) }

func (d *decoder) sketch(what string) *hyperloglog.Sketch {
	b := d.bytes(what)
	if d.err != nil {
		return nil
	}
	s := new(hyperloglog.Sketch)
	if err := s.UnmarshalBinary(b); err != nil {
		d.fail("%s: %v", what, err)
		return nil
	}
	return s
}
