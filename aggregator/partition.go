package aggregator

import (
	"math"
	"slices"
	"time"

	"github.com/weirdev/weir/sample"
)

type winKey struct {
	key   uint64
	start int64
}

type openWin struct {
	t *Target
	w window
	// first is the input offset of the first record that fed the window: a
	// replay from the oldest open window's first offset rebuilds every open
	// window exactly.
	first int64
}

// recentSlots is the size of Partition.recent: room for the few hundred
// targets a partition's points typically feed, at 24 bytes a slot.
const (
	recentBits  = 9
	recentSlots = 1 << recentBits
)

type recentWin struct {
	k  winKey
	ow *openWin
}

// recentSlot returns the slot of the target with key k: a Fibonacci hash, so
// that target keys which are not themselves hashes (small integers in tests)
// still spread.
func (p *Partition) recentSlot(k uint64) *recentWin {
	return &p.recent[(k*0x9e3779b97f4a7c15)>>(64-recentBits)]
}

// Partial is a window of one input partition handed from stage 1 to stage 2.
type Partial struct {
	Target    *Target
	Start     int64
	Partition int32
	w         *window
}

// Drop reasons of points that are counted, never merged.
const (
	ReasonFuture       = "future"        // event time too far ahead of wall time
	ReasonWindowClosed = "window_closed" // the window was already handed on
	ReasonInvalid      = "invalid"       // NaN, out of sketch range, bad buckets
	// ReasonReplayed marks points of windows that were handed on before a
	// restart: a replay skips them, they are already in the output.
	ReasonReplayed = "replayed"
)

// Partition is stage 1 for one input partition: it keeps the partition's open
// windows and its watermark. It is not safe for concurrent use; one goroutine
// owns a partition.
type Partition struct {
	id  int32
	agg *Aggregator

	open map[winKey]*openWin
	// recent caches open windows by target, in front of open: most points go
	// to a window already open, and a slot costs a multiply where the map
	// hashes a 16-byte key. A slot is cleared when its window is handed on.
	recent *[recentSlots]recentWin
	byEnd  map[int64][]winKey
	ends   []int64 // sorted distinct keys of byEnd

	maxT     int64 // largest event time seen
	wm       int64 // windows ending at or before wm have been handed on
	lastData time.Time
	// rec is the timestamp of the record being added (Unix ms, see
	// SetRecord), maxRec the largest seen: the watermark never passes it,
	// whatever a point's own clock says. skew is the largest event time
	// ahead of its record's timestamp since the last TakeSkew.
	rec, maxRec int64
	skew        int64
	// behind is set while the partition has records not read yet: it is
	// not idle then, however long it sent nothing (see SetBehind).
	behind bool

	// offset is the input offset of the record being added, next the offset
	// after the last record added.
	offset, next int64
	// read: records before it were read by an earlier state of the
	// partition in this process, dropped since (see Aggregator.DropPartition):
	// replaying them is no new data, and leaves lastData as it was then.
	read int64
	// replayThrough: windows ending at or before it were handed on by an
	// earlier owner of the partition (see Restore).
	replayThrough int64
	// points taken since the last flushPoints.
	points int
	// limited counts the open windows under each SeriesLimit (see
	// overLimit); nil until a target with a limit comes.
	limited map[limitWin]int
}

// flushPoints adds the points taken to weir_aggregator_points_total.
func (p *Partition) flushPoints() {
	if p.points > 0 {
		p.agg.m.points.Add(float64(p.points))
		p.points = 0
	}
}

func newPartition(id int32, a *Aggregator, now time.Time) *Partition {
	return &Partition{
		id:            id,
		agg:           a,
		open:          make(map[winKey]*openWin),
		recent:        new([recentSlots]recentWin),
		byEnd:         make(map[int64][]winKey),
		maxT:          math.MinInt64,
		wm:            math.MinInt64,
		lastData:      now,
		offset:        -1,
		next:          -1,
		read:          -1,
		replayThrough: math.MinInt64,
		rec:           math.MinInt64,
		maxRec:        math.MinInt64,
		skew:          math.MinInt64,
	}
}

// SetRecord tells the partition the input offset and the timestamp of the
// record whose points come next. Offsets must not decrease.
//
// The record's timestamp (the time its producer wrote it, or the broker's
// log append time) is the partition's clock: a point more than the max
// future ahead of it is dropped, and the watermark stays behind it, so that
// one point with a clock minutes ahead does not close everyone's windows.
// It is part of the input, so a replay judges every point as the first run
// did. A zero at leaves the wall clock of Add as the bound.
func (p *Partition) SetRecord(offset int64, at time.Time) {
	p.offset = offset
	p.next = offset + 1
	p.rec = math.MinInt64
	if !at.IsZero() {
		p.rec = at.UnixMilli()
		p.maxRec = max(p.maxRec, p.rec)
	}
}

// SetBehind tells the partition whether its input has records not read
// yet. Only a partition that is not behind can be idle: a consumer that
// stalled, or was just assigned the partition, must not move its watermark
// past the records it has still to read.
func (p *Partition) SetBehind(behind bool) { p.behind = behind }

// TakeSkew returns how far the event times of the points added since the
// last call ran ahead of their records' timestamps at most (0 when none
// did, or no record had a timestamp) and starts over.
func (p *Partition) TakeSkew() time.Duration {
	s := p.skew
	p.skew = math.MinInt64
	if s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Millisecond
}

// Restore resumes a partition that an earlier owner handed on through
// flushedThrough (its watermark at its last commit): points of windows ending
// at or before it are skipped as replayed, the watermark starts there.
func (p *Partition) Restore(flushedThrough int64) {
	p.replayThrough = flushedThrough
	if flushedThrough > p.wm {
		p.wm = flushedThrough
	}
}

// CommitPoint returns the offset to commit for the partition: the first
// offset that still feeds an open window, else the offset after the last
// record added (-1 when nothing was added). Committing it, with Watermark as
// the flushed-through time, makes a replay rebuild exactly the open windows.
func (p *Partition) CommitPoint() int64 {
	c := p.next
	for _, ow := range p.open {
		if ow.first >= 0 && ow.first < c {
			c = ow.first
		}
	}
	return c
}

// ID returns the input partition.
func (p *Partition) ID() int32 { return p.id }

// Watermark returns the partition's watermark in Unix milliseconds.
func (p *Partition) Watermark() int64 { return p.wm }

// Add folds pt into the window of t it belongs to. It returns "" when the
// point was taken, else the reason it was dropped (already counted).
func (p *Partition) Add(pt *sample.Point, t *Target, now time.Time) string {
	clock := p.rec
	if clock == math.MinInt64 {
		clock = now.UnixMilli()
	} else if d := pt.T - clock; d > p.skew {
		p.skew = d
	}
	if pt.T > clock+p.agg.cfg.maxFuture.Milliseconds() {
		p.agg.m.dropped.WithLabelValues(ReasonFuture).Inc()
		return ReasonFuture
	}
	slot := p.recentSlot(t.Key)
	ow := slot.ow
	var start int64
	if ow != nil && slot.k.key == t.Key && pt.T >= slot.k.start && uint64(pt.T-slot.k.start) < uint64(t.Resolution) {
		// The window most points of the target go to: no division.
		start = slot.k.start
	} else {
		start = pt.T - mod(pt.T, t.Resolution)
	}
	end := start + t.Resolution
	if end <= p.replayThrough {
		p.agg.m.replayed.Inc()
		return ReasonReplayed
	}
	if end <= p.wm {
		p.agg.m.dropped.WithLabelValues(ReasonWindowClosed).Inc()
		return ReasonWindowClosed
	}
	k := winKey{t.Key, start}
	if ow == nil || slot.k != k {
		ow = p.open[k]
	}
	if ow == nil && len(t.Limits) > 0 && p.overLimit(t, start) {
		return p.Add(pt, t.Overflow, now)
	}
	if ow == nil {
		// A target's windows tend to fill alike: sized at 7/8 of the
		// previous window's buckets, a window grows once or twice instead
		// of a dozen times from empty (each growth a copy and garbage),
		// and one that fills less wastes little.
		buckets := 0
		if prev := slot.ow; prev != nil && slot.k.key == t.Key && prev.w.sk != nil {
			buckets = len(prev.w.sk.keys) * 7 / 8
		}
		// One allocation for the window and its bookkeeping, and one
		// pointer less to follow per point.
		ow = &openWin{t: t, first: p.offset}
		initWindow(&ow.w, t, start, p.agg.mapping, buckets)
		p.open[k] = ow
		if _, ok := p.byEnd[end]; !ok {
			i, _ := slices.BinarySearch(p.ends, end)
			p.ends = slices.Insert(p.ends, i, end)
		}
		p.byEnd[end] = append(p.byEnd[end], k)
		p.agg.m.openWindows.Inc()
	}
	slot.k, slot.ow = k, ow
	// A cumulative-derived delta depends on the record of its previous
	// point: the window's replay must start there too.
	if pt.HasBase && ow.first >= 0 && pt.BaseOffset >= 0 && pt.BaseOffset < ow.first {
		ow.first = pt.BaseOffset
	}
	if err := ow.w.add(pt); err != nil {
		p.agg.m.dropped.WithLabelValues(ReasonInvalid).Inc()
		p.agg.cfg.logger.Debug("invalid point", "series", pt.Labels.String(), "err", err)
		return ReasonInvalid
	}
	// Counted here and added to the counter in Advance and FlushAll: an
	// atomic add per point cost more than the rest of this function.
	p.points++
	if pt.T > p.maxT {
		p.maxT = pt.T
	}
	if p.offset >= p.read {
		p.lastData = now
	}
	return ""
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// Advance moves the watermark (max event time − allowed lateness, but never
// past the newest record's timestamp − allowed lateness; or wall time −
// allowed lateness once the partition, not behind, has been idle for the
// idle timeout)
// and hands every window that ended at or before it to emit. The watermark
// never goes backwards.
func (p *Partition) Advance(now time.Time, emit func(Partial)) int64 {
	lateness := p.agg.cfg.lateness.Milliseconds()
	wm := p.wm
	hi := p.maxT
	if p.maxRec != math.MinInt64 {
		hi = min(hi, p.maxRec)
	}
	if hi != math.MinInt64 && hi-lateness > wm {
		wm = hi - lateness
	}
	if !p.behind && now.Sub(p.lastData) >= p.agg.cfg.idleTimeout {
		if w := now.UnixMilli() - lateness; w > wm {
			wm = w
		}
	}
	p.wm = wm
	p.flushPoints()
	p.handOn(func(end int64) bool { return end <= wm }, emit)
	return wm
}

// FlushAll hands on every open window regardless of the watermark, for a
// shutdown or a revoked partition.
func (p *Partition) FlushAll(emit func(Partial)) {
	p.flushPoints()
	p.handOn(func(int64) bool { return true }, emit)
}

func (p *Partition) handOn(due func(end int64) bool, emit func(Partial)) {
	n := 0
	for _, end := range p.ends {
		if !due(end) {
			break
		}
		for _, k := range p.byEnd[end] {
			ow := p.open[k]
			delete(p.open, k)
			if s := p.recentSlot(k.key); s.ow == ow {
				*s = recentWin{}
			}
			if len(ow.t.Limits) > 0 {
				p.released(ow.t, k.start)
			}
			emit(Partial{Target: ow.t, Start: k.start, Partition: p.id, w: &ow.w})
			p.agg.m.openWindows.Dec()
		}
		delete(p.byEnd, end)
		n++
	}
	p.ends = slices.Delete(p.ends, 0, n)
}
