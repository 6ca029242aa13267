package exemplars

import (
	"bytes"
	"slices"

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
	if a.Value != b.Value {
		return a.Value > b.Value
	}
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

// Candidates keeps at most one exemplar per sketch bucket. Memory is bounded
// by the number of non-empty buckets of the window's sketch.
//
// The zero value is empty and ready to use. Candidates is not safe for
// concurrent use.
type Candidates struct {
	// keys is sorted; ex[i] is the candidate of keys[i]. Two parallel slices
	// rather than a map: a window has tens to hundreds of buckets, where a
	// sorted slice is smaller and merges in one linear pass.
	keys []Key
	ex   []sample.Exemplar
}

// Len returns the number of buckets holding a candidate.
func (c *Candidates) Len() int { return len(c.keys) }

// Offer proposes e as the exemplar of bucket k; it replaces the current
// candidate only if Better.
func (c *Candidates) Offer(k Key, e sample.Exemplar) {
	i, found := slices.BinarySearch(c.keys, k)
	if found {
		if Better(e, c.ex[i]) {
			c.ex[i] = e
		}
		return
	}
	c.keys = slices.Insert(c.keys, i, k)
	c.ex = slices.Insert(c.ex, i, e)
}

// Get returns the candidate of bucket k.
func (c *Candidates) Get(k Key) (sample.Exemplar, bool) {
	i, found := slices.BinarySearch(c.keys, k)
	if !found {
		return sample.Exemplar{}, false
	}
	return c.ex[i], true
}

// Merge folds o into c bucket by bucket. The result is the same whatever the
// order in which partial windows are merged.
func (c *Candidates) Merge(o *Candidates) {
	if len(o.keys) == 0 {
		return
	}
	if len(c.keys) == 0 {
		c.keys = slices.Clone(o.keys)
		c.ex = slices.Clone(o.ex)
		return
	}
	keys := make([]Key, 0, len(c.keys)+len(o.keys))
	ex := make([]sample.Exemplar, 0, len(c.keys)+len(o.keys))
	i, j := 0, 0
	for i < len(c.keys) || j < len(o.keys) {
		switch {
		case j == len(o.keys) || (i < len(c.keys) && c.keys[i] < o.keys[j]):
			keys, ex = append(keys, c.keys[i]), append(ex, c.ex[i])
			i++
		case i == len(c.keys) || o.keys[j] < c.keys[i]:
			keys, ex = append(keys, o.keys[j]), append(ex, o.ex[j])
			j++
		default:
			best := c.ex[i]
			if Better(o.ex[j], best) {
				best = o.ex[j]
			}
			keys, ex = append(keys, c.keys[i]), append(ex, best)
			i++
			j++
		}
	}
	c.keys, c.ex = keys, ex
}

// Each calls fn for every bucket's candidate in key order.
func (c *Candidates) Each(fn func(Key, sample.Exemplar)) {
	for i, k := range c.keys {
		fn(k, c.ex[i])
	}
}

// Reset empties c, keeping its memory.
func (c *Candidates) Reset() {
	c.keys = c.keys[:0]
	c.ex = c.ex[:0]
}
