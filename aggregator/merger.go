package aggregator

import (
	"math"
	"slices"
	"time"
)

type mergeWin struct {
	t     *Target
	w     *window
	first time.Time // wall time of the first partial, for the close timeout
	// offset is the input offset of the first partial (-1 in one process).
	offset int64
}

// Merger is stage 2: it merges the partial windows of all input partitions
// and closes a window when every known partition's watermark has passed its
// end, or when the close timeout has passed since its first partial (counted
// as a timeout). It is not safe for concurrent use.
type Merger struct {
	agg   *Aggregator
	wms   map[int32]int64
	open  map[winKey]*mergeWin
	byEnd map[int64][]winKey
	ends  []int64
	// closedThrough is the minimum watermark at the last close: every window
	// ending at or before it has been emitted.
	closedThrough int64
	// timedOut holds windows closed early by the timeout, so that their late
	// partials are refused rather than emitted a second time.
	timedOut map[winKey]int64 // window end
}

// NewMerger returns a stage-2 merger of its own, for one partition of
// weir.partials. It shares the aggregator's settings and metrics.
func (a *Aggregator) NewMerger() *Merger { return newMerger(a) }

func newMerger(a *Aggregator) *Merger {
	return &Merger{
		agg:           a,
		wms:           make(map[int32]int64),
		open:          make(map[winKey]*mergeWin),
		byEnd:         make(map[int64][]winKey),
		closedThrough: math.MinInt64,
		timedOut:      make(map[winKey]int64),
	}
}

// Merge folds a partial into its window. A partial of a window that was
// already emitted is counted and dropped.
func (m *Merger) Merge(pt Partial, now time.Time) { m.MergeAt(pt, now, -1) }

// MergeAt is Merge for a partial read at an input offset, which CommitPoint
// accounts for.
func (m *Merger) MergeAt(pt Partial, now time.Time, offset int64) {
	k := winKey{pt.Target.Key, pt.Start}
	end := pt.Start + pt.Target.Resolution
	if _, late := m.timedOut[k]; late || end <= m.closedThrough {
		m.agg.m.latePartials.Inc()
		return
	}
	mw := m.open[k]
	if mw == nil {
		m.open[k] = &mergeWin{t: pt.Target, w: pt.w, first: now, offset: offset}
		if _, ok := m.byEnd[end]; !ok {
			i, _ := slices.BinarySearch(m.ends, end)
			m.ends = slices.Insert(m.ends, i, end)
		}
		m.byEnd[end] = append(m.byEnd[end], k)
		return
	}
	if err := mw.w.merge(pt.w); err != nil {
		m.agg.m.dropped.WithLabelValues(ReasonInvalid).Inc()
	}
}

// Watermark records the watermark of an input partition. A partition counts
// towards closing from its first watermark until Forget.
func (m *Merger) Watermark(partition int32, wm int64) {
	if old, ok := m.wms[partition]; !ok || wm > old {
		m.wms[partition] = wm
	}
}

// Expect makes the merger wait for the watermarks of sources it has not heard
// from yet: every stage-1 input partition, known from the topics' metadata,
// so that a source whose owner died before its first record still holds the
// windows open (until the close timeout).
func (m *Merger) Expect(sources ...int32) {
	for _, s := range sources {
		if _, ok := m.wms[s]; !ok {
			m.wms[s] = math.MinInt64
		}
	}
}

// Restore resumes after a restart: windows ending at or before closedThrough
// were emitted by an earlier owner, their partials are skipped.
func (m *Merger) Restore(closedThrough int64) {
	if closedThrough > m.closedThrough {
		m.closedThrough = closedThrough
	}
}

// ClosedThrough returns the watermark through which every window was emitted.
func (m *Merger) ClosedThrough() int64 { return m.closedThrough }

// CommitPoint returns the input offset to commit: the first offset that
// feeds an open window, else next.
func (m *Merger) CommitPoint(next int64) int64 {
	c := next
	for _, mw := range m.open {
		if mw.offset >= 0 && mw.offset < c {
			c = mw.offset
		}
	}
	return c
}

// Waiting describes why windows are open: the end of the oldest open window
// (0 when none) and the sources whose watermark has not passed it.
func (m *Merger) Waiting() (oldestEnd int64, behind []int32) {
	if len(m.ends) == 0 {
		return 0, nil
	}
	for _, end := range m.ends {
		if len(m.byEnd[end]) > 0 {
			oldestEnd = end
			break
		}
	}
	if oldestEnd == 0 {
		return 0, nil
	}
	for s, wm := range m.wms {
		if wm < oldestEnd {
			behind = append(behind, s)
		}
	}
	return oldestEnd, behind
}

// Open returns the number of windows waiting to close.
func (m *Merger) Open() int { return len(m.open) }

// Forget stops waiting for a partition (revoked, or moved to another node).
func (m *Merger) Forget(partition int32) { delete(m.wms, partition) }

func (m *Merger) minWatermark() int64 {
	if len(m.wms) == 0 {
		return math.MinInt64
	}
	lo := int64(math.MaxInt64)
	for _, wm := range m.wms {
		lo = min(lo, wm)
	}
	return lo
}

// Close emits every window that is complete, or whose timeout expired, in
// order of window end.
func (m *Merger) Close(now time.Time, emit func(Series)) {
	wm := m.minWatermark()
	timeout := m.agg.cfg.closeTimeout
	n := 0
	for _, end := range m.ends {
		keys := m.byEnd[end]
		if end <= wm {
			for _, k := range keys {
				m.closeOne(k, "watermark", emit)
			}
			delete(m.byEnd, end)
			n++
			continue
		}
		rest := keys[:0]
		for _, k := range keys {
			if now.Sub(m.open[k].first) >= timeout {
				m.closeOne(k, "timeout", emit)
				m.timedOut[k] = end
				continue
			}
			rest = append(rest, k)
		}
		m.byEnd[end] = rest
	}
	m.ends = slices.Delete(m.ends, 0, n)
	if wm > m.closedThrough {
		m.closedThrough = wm
		for k, end := range m.timedOut {
			if end <= wm {
				delete(m.timedOut, k)
			}
		}
	}
}

// CloseAll emits every open window, for a shutdown.
func (m *Merger) CloseAll(emit func(Series)) {
	for _, end := range m.ends {
		for _, k := range m.byEnd[end] {
			m.closeOne(k, "shutdown", emit)
		}
		delete(m.byEnd, end)
	}
	m.ends = m.ends[:0]
}

func (m *Merger) closeOne(k winKey, cause string, emit func(Series)) {
	mw := m.open[k]
	delete(m.open, k)
	mw.w.emit(mw.t, emit)
	m.agg.m.closed.WithLabelValues(cause).Inc()
}
