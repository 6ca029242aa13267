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

// Candidates keeps at most one exemplar per sketch bucket. Memory is bounded
// by the number of non-empty buckets of the window's sketch: 52 bytes per
// bucket, plus at most a quarter of that in spare capacity.
//
// The zero value is empty and ready to use. Candidates is not safe for
// concurrent use.
type Candidates struct {
	// keys is sorted; ex[i] and part[i] are the candidate of keys[i]. Parallel
	// slices rather than a map: a window has tens to hundreds of buckets,
	// where sorted slices are smaller and merge in one linear pass. The
	// partition lives apart from the rest of the exemplar so that neither
	// slice pays alignment padding (sample.Exemplar is 48 bytes, these 44).
	keys []Key
	ex   []cand
	part []int32
}

// cand is a sample.Exemplar without its Partition.
type cand struct {
	traceID sample.TraceID
	spanID  sample.SpanID
	value   float64
	t       int64
}

func (c *Candidates) at(i int) sample.Exemplar {
	e := &c.ex[i]
	return sample.Exemplar{TraceID: e.traceID, SpanID: e.spanID, Value: e.value, T: e.t, Partition: c.part[i]}
}

func (c *Candidates) set(i int, e sample.Exemplar) {
	c.ex[i] = cand{traceID: e.TraceID, spanID: e.SpanID, value: e.Value, t: e.T}
	c.part[i] = e.Partition
}

// Len returns the number of buckets holding a candidate.
func (c *Candidates) Len() int { return len(c.keys) }

// Offer proposes e as the exemplar of bucket k; it replaces the current
// candidate only if Better.
func (c *Candidates) Offer(k Key, e sample.Exemplar) {
	i, found := slices.BinarySearch(c.keys, k)
	if found {
		// Better's first test, made on the stored value so that the usual
		// loser costs no copy of the candidate.
		if v := c.ex[i].value; e.Value != v {
			if e.Value > v {
				c.set(i, e)
			}
			return
		}
		if cur := c.at(i); betterTie(&e, &cur) {
			c.set(i, e)
		}
		return
	}
	c.keys = insert(c.keys, i, k)
	c.ex = insert(c.ex, i, cand{})
	c.part = insert(c.part, i, 0)
	c.set(i, e)
}

// insert is slices.Insert of one element growing a full slice by a quarter
// rather than append's doubling: windows are many and live long, so spare
// capacity costs more than the extra copies. Each slice grows on its own:
// the allocator rounds their capacities differently.
func insert[T any](s []T, i int, v T) []T {
	if len(s) == cap(s) {
		// Not slices.Grow: append's growth would double small slices.
		g := make([]T, len(s), len(s)+len(s)/4+4)
		copy(g, s)
		s = g
	}
	return slices.Insert(s, i, v)
}

// Get returns the candidate of bucket k.
func (c *Candidates) Get(k Key) (sample.Exemplar, bool) {
	i, found := slices.BinarySearch(c.keys, k)
	if !found {
		return sample.Exemplar{}, false
	}
	return c.at(i), true
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
		c.part = slices.Clone(o.part)
		return
	}
	n := len(c.keys) + len(o.keys)
	m := Candidates{keys: make([]Key, 0, n), ex: make([]cand, 0, n), part: make([]int32, 0, n)}
	take := func(from *Candidates, i int) {
		m.keys = append(m.keys, from.keys[i])
		m.ex = append(m.ex, from.ex[i])
		m.part = append(m.part, from.part[i])
	}
	i, j := 0, 0
	for i < len(c.keys) || j < len(o.keys) {
		switch {
		case j == len(o.keys) || (i < len(c.keys) && c.keys[i] < o.keys[j]):
			take(c, i)
			i++
		case i == len(c.keys) || o.keys[j] < c.keys[i]:
			take(o, j)
			j++
		default:
			if Better(o.at(j), c.at(i)) {
				take(o, j)
			} else {
				take(c, i)
			}
			i++
			j++
		}
	}
	*c = m
}

// Each calls fn for every bucket's candidate in key order.
func (c *Candidates) Each(fn func(Key, sample.Exemplar)) {
	for i, k := range c.keys {
		fn(k, c.at(i))
	}
}

// Reset empties c, keeping its memory.
func (c *Candidates) Reset() {
	c.keys = c.keys[:0]
	c.ex = c.ex[:0]
	c.part = c.part[:0]
}
