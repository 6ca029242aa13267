package aggregator

import (
	"math"
	"slices"
	"time"
)

type mergeWin struct {
	t *Target
	w *window
	// offset is the input offset of the first partial (-1 when unknown).
	offset int64
	// end is the window's end; late is set when a partial came after the
	// window closed by timeout, which makes the next Close emit it again.
	end  int64
	late bool
}

// Merger is stage 2 for one weir.partials partition: it merges the partial
// windows of all input partitions and closes a window when every source's
// watermark has passed its end. A source it has heard nothing from for the
// close timeout (no owner, see CloseTimeout) holds no window open; a window
// closed so is counted, and kept until every watermark passed it, so that a
// partial arriving late merges into it and the merged window is emitted
// again: the same series and timestamps with the complete values, which a
// sink that takes rewrites (M3, VictoriaMetrics) stores, and Prometheus
// refuses as duplicates (counted by the sink). It is not safe for concurrent
// use.
type Merger struct {
	agg *Aggregator
	wms map[int32]int64
	// heard is when each source's watermark was last received, or when the
	// merger started expecting it.
	heard map[int32]time.Time
	open  map[winKey]*mergeWin
	byEnd map[int64][]winKey
	ends  []int64
	// closedThrough is the minimum watermark at the last close: every window
	// ending at or before it has been emitted.
	closedThrough int64
	// timedOut holds the windows closed by the timeout that not every
	// watermark has passed yet.
	timedOut map[winKey]*mergeWin
}

// NewMerger returns a stage-2 merger of its own, for one partition of
// weir.partials. It shares the aggregator's settings and metrics.
func (a *Aggregator) NewMerger() *Merger {
	return &Merger{
		agg:           a,
		wms:           make(map[int32]int64),
		heard:         make(map[int32]time.Time),
		open:          make(map[winKey]*mergeWin),
		byEnd:         make(map[int64][]winKey),
		closedThrough: math.MinInt64,
		timedOut:      make(map[winKey]*mergeWin),
	}
}

// Merge folds a partial into its window, read at an input offset (-1 when
// unknown) that CommitPoint accounts for. A partial of a window that every
// watermark passed was emitted already: it is counted and dropped.
func (m *Merger) Merge(pt Partial, offset int64) {
	k := winKey{pt.Target.Key, pt.Start}
	end := pt.Start + pt.Target.Resolution
	if mw := m.timedOut[k]; mw != nil {
		m.agg.m.latePartials.Inc()
		if err := mw.w.merge(pt.w); err != nil {
			m.agg.m.dropped.WithLabelValues(ReasonInvalid).Inc()
		}
		mw.late = true
		return
	}
	if end <= m.closedThrough {
		m.agg.m.latePartials.Inc()
		return
	}
	mw := m.open[k]
	if mw == nil {
		m.open[k] = &mergeWin{t: pt.Target, w: pt.w, offset: offset, end: end}
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

// Watermark records a source's watermark, received at now.
func (m *Merger) Watermark(source int32, wm int64, now time.Time) {
	if old, ok := m.wms[source]; !ok || wm > old {
		m.wms[source] = wm
	}
	m.heard[source] = now
}

// Expect makes the merger wait for the watermarks of sources it has not
// heard from yet, from now: every stage-1 input partition, known from the
// topics' metadata, so that a source whose owner died before its first
// record still holds the windows open (until the close timeout).
func (m *Merger) Expect(now time.Time, sources ...int32) {
	for _, s := range sources {
		if _, ok := m.wms[s]; !ok {
			m.wms[s] = math.MinInt64
			m.heard[s] = now
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
// feeds an open window, else next. A window closed by the timeout counts as
// open until every watermark passed it: a replay must rebuild it whole.
func (m *Merger) CommitPoint(next int64) int64 {
	c := next
	for _, ws := range []map[winKey]*mergeWin{m.open, m.timedOut} {
		for _, mw := range ws {
			if mw.offset >= 0 && mw.offset < c {
				c = mw.offset
			}
		}
	}
	return c
}

// Waiting describes why windows are open: the end of the oldest open window
// (0 when none) and the sources whose watermark has not passed it.
func (m *Merger) Waiting() (oldestEnd int64, behind []int32) {
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

// Forget stops waiting for a source.
func (m *Merger) Forget(source int32) {
	delete(m.wms, source)
	delete(m.heard, source)
}

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

// silentThrough returns the end through which no source that is heard from
// holds windows open: the minimum watermark of the sources heard from within
// the close timeout (math.MaxInt64 when every source is silent).
func (m *Merger) silentThrough(now time.Time) int64 {
	lo := int64(math.MaxInt64)
	timeout := m.agg.cfg.closeTimeout
	for s, wm := range m.wms {
		if now.Sub(m.heard[s]) < timeout {
			lo = min(lo, wm)
		}
	}
	return lo
}

// Close emits, in order of window end, every window that every watermark
// passed, and every window that only silent sources hold open (counted as
// timeouts), and again every window closed so that got late partials
// (counted as late).
func (m *Merger) Close(now time.Time, emit func(Series)) {
	wm := m.minWatermark()
	n := 0
	silent, known := int64(0), false
	for _, end := range m.ends {
		keys := m.byEnd[end]
		if end <= wm {
			for _, k := range keys {
				m.closeOne(m.open[k], "watermark", emit)
				delete(m.open, k)
			}
			delete(m.byEnd, end)
			n++
			continue
		}
		if !known {
			silent, known = m.silentThrough(now), true
		}
		if end > silent {
			break
		}
		for _, k := range keys {
			mw := m.open[k]
			m.closeOne(mw, "timeout", emit)
			delete(m.open, k)
			m.timedOut[k] = mw
		}
		delete(m.byEnd, end)
		n++
	}
	m.ends = slices.Delete(m.ends, 0, n)
	for k, mw := range m.timedOut {
		switch {
		case mw.late:
			mw.late = false
			m.closeOne(mw, "late", emit)
		case mw.end <= wm:
			delete(m.timedOut, k)
		}
	}
	if wm > m.closedThrough {
		m.closedThrough = wm
	}
}

func (m *Merger) closeOne(mw *mergeWin, cause string, emit func(Series)) {
	mw.w.emit(mw.t, m.agg.cfg.tolerance, emit)
	m.agg.m.closed.WithLabelValues(cause).Inc()
}
