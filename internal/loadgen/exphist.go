package loadgen

import "math"

// Exponential histogram as the OpenTelemetry SDKs keep one: it starts at
// expInitScale and halves its resolution whenever the observed range would
// need more than expMaxSize buckets. Bucket i at scale s holds the values in
// (2^(i·2^-s), 2^((i+1)·2^-s)].
const (
	expInitScale = 5
	expMaxSize   = 160
)

type expHistogram struct {
	scale    int32
	offset   int32
	counts   []uint64 // positive buckets from offset
	count    uint64
	sum      float64
	min, max float64
}

func newExpHistogram() *expHistogram {
	return &expHistogram{scale: expInitScale, counts: make([]uint64, 0, expMaxSize)}
}

// bucketIndex returns the index of the bucket of v > 0 at scale.
func bucketIndex(v float64, scale int32) int32 {
	frac, exp := math.Frexp(v) // v = frac·2^exp, frac in [0.5, 1)
	if scale <= 0 {
		idx := int32(exp) - 1
		if frac == 0.5 { // an exact power of two closes the bucket below
			idx--
		}
		return idx >> -scale
	}
	// ceil(log2(v)·2^scale) - 1, with log2(frac)·2^scale in [-2^scale, 0)
	// so that truncation toward zero is the ceiling.
	return int32(exp)<<scale + int32(math.Log(frac)/math.Ln2*math.Ldexp(1, int(scale))) - 1
}

// observe adds v, which must be > 0 (durations always are).
func (h *expHistogram) observe(v float64) {
	if h.count == 0 {
		h.min, h.max = v, v
	} else {
		h.min, h.max = min(h.min, v), max(h.max, v)
	}
	h.count++
	h.sum += v

	idx := bucketIndex(v, h.scale)
	if len(h.counts) == 0 {
		h.offset = idx
		h.counts = append(h.counts, 1)
		return
	}
	lo, hi := min(h.offset, idx), max(h.offset+int32(len(h.counts))-1, idx)
	var by int32
	for (hi>>by)-(lo>>by)+1 > expMaxSize {
		by++
	}
	if by > 0 {
		h.downscale(by)
		idx >>= by
	}
	switch {
	case idx < h.offset:
		grow := int(h.offset - idx)
		n := len(h.counts)
		h.counts = append(h.counts, make([]uint64, grow)...)
		copy(h.counts[grow:], h.counts[:n])
		clear(h.counts[:grow])
		h.offset = idx
	case int(idx-h.offset) >= len(h.counts):
		h.counts = append(h.counts, make([]uint64, int(idx-h.offset)-len(h.counts)+1)...)
	}
	h.counts[idx-h.offset]++
}

// downscale lowers the scale by `by`, merging 2^by buckets into one. Targets
// never lie after their sources, so the merge runs in place.
func (h *expHistogram) downscale(by int32) {
	newOff := h.offset >> by
	last := (h.offset+int32(len(h.counts))-1)>>by - newOff
	for i, c := range h.counts {
		j := (h.offset+int32(i))>>by - newOff
		if int(j) != i {
			h.counts[i] = 0
			h.counts[j] += c
		}
	}
	h.counts = h.counts[:last+1]
	h.offset = newOff
	h.scale -= by
}
