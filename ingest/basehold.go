package ingest

import (
	"cmp"
	"slices"
)

// baseHolds counts, per input record, the series whose previous point that
// record holds. The oldest such record is where a successor must start
// reading so that every series' next point finds its previous one: a
// successor that starts after it takes the series' next point as a
// baseline and loses the increase since.
type baseHolds struct {
	recs []baseHold // by offset, ascending
	live int        // entries of recs with n > 0
}

type baseHold struct {
	off int64
	n   int
}

// hold counts one series whose previous point is in the record at off.
// Offsets come in input order, so off is almost always the newest entry's.
func (h *baseHolds) hold(off int64) {
	if off < 0 {
		return // no offset was set: nothing to hold
	}
	last := len(h.recs) - 1
	switch {
	case last >= 0 && h.recs[last].off == off:
	case last < 0 || h.recs[last].off < off:
		h.recs = append(h.recs, baseHold{off: off})
		last++
	default:
		i, found := slices.BinarySearchFunc(h.recs, off, byOffset)
		if !found {
			h.recs = slices.Insert(h.recs, i, baseHold{off: off})
		}
		last = i
	}
	if h.recs[last].n == 0 {
		h.live++
	}
	h.recs[last].n++
	h.compact()
}

// release undoes one hold of off.
func (h *baseHolds) release(off int64) {
	if off < 0 {
		return
	}
	i, found := slices.BinarySearchFunc(h.recs, off, byOffset)
	if !found || h.recs[i].n == 0 {
		return
	}
	if h.recs[i].n--; h.recs[i].n > 0 {
		return
	}
	h.live--
	n := 0
	for n < len(h.recs) && h.recs[n].n == 0 {
		n++
	}
	h.recs = h.recs[n:]
	h.compact()
}

// compact drops the records no series holds any more once they are half of
// the entries, so that a series that reports rarely does not make the
// entries grow with every record read since its last point. Those at the
// front go at once (see release).
func (h *baseHolds) compact() {
	if len(h.recs) > 64 && len(h.recs) > 2*h.live {
		h.recs = slices.DeleteFunc(h.recs, func(r baseHold) bool { return r.n == 0 })
	}
}

// oldest returns the offset of the oldest record holding a series' previous
// point.
func (h *baseHolds) oldest() (int64, bool) {
	if len(h.recs) == 0 {
		return 0, false
	}
	return h.recs[0].off, true
}

func byOffset(r baseHold, off int64) int { return cmp.Compare(r.off, off) }
