package plan

import (
	"container/heap"
	"math"
	"slices"
)

// The open limit intervals of each input partition: opened by admit,
// closed as the partition's watermark passes them, and holding the
// partition's commit at the first record of the oldest still open.

type inputKey struct {
	spans     bool
	partition int32
}

// inputLimits holds the open intervals of one input partition.
type inputLimits struct {
	open map[intervalKey]*interval
	// byClose orders the open intervals by closing watermark; byFirst by
	// their first record (the order they were opened in, offsets only
	// growing), with closed ones dropped from its front and compacted.
	byClose intervalHeap
	byFirst []*interval
	live    int
}

type intervalKey struct {
	tenant string
	start  int64 // Unix ms
}

type interval struct {
	key intervalKey
	// pools counts the points admitted within each pool's share, rest
	// those admitted from the unreserved rest of the budget.
	pools  []int64
	rest   int64
	first  int64 // offset of the record that opened it, -1 for none
	closes int64 // the watermark at which it closes
	closed bool
}

func (l *tenantLimits) input(in Input) *inputLimits {
	k := inputKey{in.Spans, in.Partition}
	il := l.inputs[k]
	if il == nil {
		if l.inputs == nil {
			l.inputs = map[inputKey]*inputLimits{}
		}
		il = &inputLimits{open: map[intervalKey]*interval{}}
		l.inputs[k] = il
	}
	return il
}

// advance closes the intervals of a partition that its watermark wm passed.
func (l *tenantLimits) advance(spans bool, partition int32, wm int64) {
	il := l.inputs[inputKey{spans, partition}]
	if il == nil {
		return
	}
	for len(il.byClose) > 0 && il.byClose[0].closes <= wm {
		iv := heap.Pop(&il.byClose).(*interval)
		iv.closed = true
		delete(il.open, iv.key)
		il.live--
	}
	n := 0
	for n < len(il.byFirst) && il.byFirst[n].closed {
		n++
	}
	il.byFirst = il.byFirst[n:]
	// Intervals of a tenant that sends rarely would keep the ones closed
	// behind them: drop those once they are half.
	if len(il.byFirst) > 64 && len(il.byFirst) > 2*il.live {
		il.byFirst = slices.DeleteFunc(il.byFirst, func(iv *interval) bool { return iv.closed })
	}
	if il.live == 0 {
		delete(l.inputs, inputKey{spans, partition})
	}
}

// hold returns the offset of the first record of a partition's open
// intervals: where a replay must start to rebuild their counts.
func (l *tenantLimits) hold(spans bool, partition int32) (int64, bool) {
	il := l.inputs[inputKey{spans, partition}]
	if il == nil {
		return 0, false
	}
	for _, iv := range il.byFirst {
		if !iv.closed && iv.first >= 0 {
			return iv.first, true
		}
	}
	return 0, false
}

// forget drops a partition's counts: its next reader replays them.
func (l *tenantLimits) forget(spans bool, partition int32) {
	delete(l.inputs, inputKey{spans, partition})
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// satAdd adds b >= 0 to a, saturating: event times are the input's.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// intervalHeap is a min-heap of intervals by closing watermark.
type intervalHeap []*interval

func (h intervalHeap) Len() int           { return len(h) }
func (h intervalHeap) Less(i, j int) bool { return h[i].closes < h[j].closes }
func (h intervalHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intervalHeap) Push(x any)        { *h = append(*h, x.(*interval)) }
func (h *intervalHeap) Pop() any {
	old := *h
	iv := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return iv
}
