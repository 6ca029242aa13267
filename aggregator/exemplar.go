package aggregator

import (
	"bytes"

	"github.com/weirdev/weir/sample"
)

// Key names one DDSketch bucket: its sign (the sketch keeps negative values,
// zero and positive values apart) and its index in the sketch's mapping.
type Key int64

// Bucket signs, in value order.
const (
	Negative int8 = -1
	Zero     int8 = 0
	Positive int8 = 1
)

// MakeKey packs a bucket's sign and index. Keys order like the values they
// hold only within one sign; callers never rely on more.
func MakeKey(sign int8, index int) Key {
	return Key(int64(sign)<<32 | int64(uint32(int32(index))))
}

// Sign returns the sign the key was made with.
func (k Key) Sign() int8 { return int8(int64(k) >> 32) }

// Index returns the sketch index the key was made with.
func (k Key) Index() int { return int(int32(uint32(k))) }

// Better reports whether a should be preferred to b as a bucket's exemplar.
// The rule is a total order on the exemplar's data alone (larger value, then
// larger trace ID, then larger span ID, then later timestamp), so the choice
// never depends on arrival order, partitioning or merge order.
func Better(a, b sample.Exemplar) bool {
	// Split so that the common case, values that differ, inlines.
	if a.Value != b.Value {
		return a.Value > b.Value
	}
	return betterTie(&a, &b)
}

// betterTie is Better for exemplars of equal values.
func betterTie(a, b *sample.Exemplar) bool {
	if c := bytes.Compare(a.TraceID[:], b.TraceID[:]); c != 0 {
		return c > 0
	}
	if c := bytes.Compare(a.SpanID[:], b.SpanID[:]); c != 0 {
		return c > 0
	}
	if a.T != b.T {
		return a.T > b.T
	}
	return a.Partition > b.Partition
}
