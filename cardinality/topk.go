package cardinality

import (
	"cmp"
	"slices"
)

// TopK keeps the k most frequent values of a stream in bounded memory: the
// Space-Saving algorithm (Metwally, Agrawal, El Abbadi, 2005). A value not
// among the k counters replaces the one with the smallest count and
// inherits that count as its error, so every kept count overestimates its
// value's true count by at most its Err, and every value whose true count
// exceeds N/k (N the total added) is kept. Summaries merge (Agarwal et al.,
// "Mergeable summaries", 2012): Merge adds the counters and keeps the k
// largest, with the same guarantee over the union of the streams.
//
// The zero value is not usable: call NewTopK. A TopK is not safe for
// concurrent use.
type TopK struct {
	k     int
	n     uint64 // total count added
	items []TopItem
	idx   map[string]int // value → position in items
}

// TopItem is a counted value.
type TopItem struct {
	Value string
	// Count overestimates the value's true count by at most Err.
	Count, Err uint64
}

// NewTopK returns a summary of at most k counters (k < 1 counts as 1).
func NewTopK(k int) *TopK {
	k = max(k, 1)
	return &TopK{k: k, idx: make(map[string]int, k)}
}

// K returns the number of counters.
func (t *TopK) K() int { return t.k }

// N returns the total count added.
func (t *TopK) N() uint64 { return t.n }

// Add counts value n times.
func (t *TopK) Add(value string, n uint64) {
	t.n += n
	if i, ok := t.idx[value]; ok {
		t.items[i].Count += n
		return
	}
	if len(t.items) < t.k {
		t.idx[value] = len(t.items)
		t.items = append(t.items, TopItem{Value: value, Count: n})
		return
	}
	m := 0
	for i := range t.items {
		if t.items[i].Count < t.items[m].Count {
			m = i
		}
	}
	old := t.items[m]
	delete(t.idx, old.Value)
	t.idx[value] = m
	t.items[m] = TopItem{Value: value, Count: old.Count + n, Err: old.Count}
}

// min returns the smallest count when all k counters are in use, else 0:
// what any value not kept may have had at most.
func (t *TopK) min() uint64 {
	if len(t.items) < t.k {
		return 0
	}
	m := t.items[0].Count
	for _, it := range t.items[1:] {
		m = min(m, it.Count)
	}
	return m
}

// Merge adds o's counters to t. A value kept by only one side gets the
// other side's minimum added as count and error (what it may have had
// there unseen); of the union, the k largest counts are kept.
func (t *TopK) Merge(o *TopK) {
	if o == nil || len(o.items) == 0 {
		return
	}
	tmin, omin := t.min(), o.min()
	all := make([]TopItem, 0, len(t.items)+len(o.items))
	for _, it := range t.items {
		if j, ok := o.idx[it.Value]; ok {
			ot := o.items[j]
			it.Count += ot.Count
			it.Err += ot.Err
		} else {
			it.Count += omin
			it.Err += omin
		}
		all = append(all, it)
	}
	for _, it := range o.items {
		if _, ok := t.idx[it.Value]; ok {
			continue
		}
		it.Count += tmin
		it.Err += tmin
		all = append(all, it)
	}
	sortItems(all)
	if len(all) > t.k {
		all = all[:t.k]
	}
	t.n += o.n
	t.items = all
	clear(t.idx)
	for i, it := range t.items {
		t.idx[it.Value] = i
	}
}

// Top returns the kept values, largest count first (ties by value).
func (t *TopK) Top() []TopItem {
	out := slices.Clone(t.items)
	sortItems(out)
	return out
}

func sortItems(s []TopItem) {
	slices.SortFunc(s, func(a, b TopItem) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value))
	})
}

// bytes estimates the memory t holds.
func (t *TopK) bytes() int64 {
	n := int64(64 + cap(t.items)*40 + len(t.idx)*48)
	for _, it := range t.items {
		n += int64(len(it.Value))
	}
	return n
}
