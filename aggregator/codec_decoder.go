package aggregator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/weirdev/weir/sample"
)

// decoder reads the format above; the first error sticks and every later
// read returns zero values.
type decoder struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated")

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("bad "+format, args...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.err = errTruncated
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int32() int32 {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("partition %d", v)
	}
	return int32(v)
}

// count reads a length whose elements take at least minSize bytes each, so
// a corrupt length cannot make the decoder allocate more than the input.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minSize) {
		d.fail("length %d for %d bytes", n, len(d.b))
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// count64 reads a float count: finite and not negative.
func (d *decoder) count64() float64 {
	v := d.f64()
	if d.err == nil && (v < 0 || math.IsNaN(v) || math.IsInf(v, 0)) {
		d.fail("count %v", v)
	}
	return v
}

func (d *decoder) str() string { return string(d.take(d.count(1))) }

func (d *decoder) xsum() exactSum {
	var s exactSum
	n := d.count(8)
	for i := 0; i < n && d.err == nil; i++ {
		s.partials = append(s.partials, d.f64())
	}
	s.special = d.f64()
	return s
}

func (d *decoder) exemplar() sample.Exemplar {
	var e sample.Exemplar
	copy(e.TraceID[:], d.take(16))
	copy(e.SpanID[:], d.take(8))
	e.Value = d.f64()
	e.T = d.varint()
	e.Partition = d.int32()
	if d.err == nil && !e.Valid() {
		// Encoders write only exemplars with a trace; one without would
		// be emitted with the rest of its fields and re-encoded as absent.
		d.fail("exemplar without a trace ID")
	}
	return e
}

func (d *decoder) optExemplar() sample.Exemplar {
	switch d.byte() {
	case 0:
		return sample.Exemplar{}
	case 1:
		return d.exemplar()
	default:
		d.fail("exemplar presence byte")
		return sample.Exemplar{}
	}
}
