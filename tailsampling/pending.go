package tailsampling

import "github.com/weirdev/weir/sample"

// pending keeps, per input partition, the record offsets where buffered
// traces began, in arrival order: the front live entry is the oldest offset
// a consumer must still be able to read again (Buffer.Oldest). Entries of
// traces decided since are left in place and skipped when they reach the
// front: traces are mostly decided in arrival order, so the queues stay
// about as long as the buffer.
type pending map[int32]*offsetQueue

type pendingEntry struct {
	id     sample.TraceID
	offset int64
}

type offsetQueue struct {
	q    []pendingEntry
	head int
}

func (p pending) push(partition int32, id sample.TraceID, offset int64) {
	q := p[partition]
	if q == nil {
		q = &offsetQueue{}
		p[partition] = q
	}
	if q.head > 64 && q.head > len(q.q)/2 {
		// Reuse the front's room rather than grow.
		n := copy(q.q, q.q[q.head:])
		clear(q.q[n:])
		q.q, q.head = q.q[:n], 0
	}
	q.q = append(q.q, pendingEntry{id: id, offset: offset})
}

// front returns the oldest live entry of partition, dropping the dead ones
// before it; live says whether an entry's trace is still buffered.
func (p pending) front(partition int32, live func(pendingEntry) bool) (pendingEntry, bool) {
	q := p[partition]
	if q == nil {
		return pendingEntry{}, false
	}
	for ; q.head < len(q.q); q.head++ {
		if live(q.q[q.head]) {
			return q.q[q.head], true
		}
	}
	delete(p, partition)
	return pendingEntry{}, false
}
