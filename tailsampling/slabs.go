package tailsampling

import "sync"

// Chunks are copied into slabs, blocks of slabSize bytes filled in arrival
// order: one allocation per megabyte buffered instead of one per record
// (which cost about a fifth of a span's whole path: allocating, zeroing and
// collecting a 25 KB object per record). Chunks larger than slabAlone are
// allocated alone.
//
// A slab counts the chunks in it that are still held, buffered or handed to
// OnKeep and not yet Released. At zero it goes back to the buffer's
// SlabPool, and the next slab is taken from there: a buffer in a steady flow
// copies into memory it already has, instead of allocating, zeroing and
// faulting in fresh megabytes that the garbage collector then has to free
// (bench/ measured 17% of weir's whole span path for it).
const (
	slabSize  = 1 << 20
	slabAlone = slabSize / 8
)

// DefaultSlabPoolBytes bounds the free slabs a Buffer without the Slabs
// option keeps: in a steady flow slabs free about as fast as they fill, so
// a few are enough.
const DefaultSlabPoolBytes = 8 * slabSize

// slab is one block chunks are copied into.
type slab struct {
	buf []byte
	// live is the number of chunks in buf still held. Guarded by the mutex
	// of the Buffer that filled it.
	live int
}

// chunkRef is a buffered chunk and the slab it lives in (nil when it was
// allocated alone).
type chunkRef struct {
	b []byte
	s *slab
}

// SlabPool keeps the memory of freed slabs for reuse, up to a bound. One
// pool may serve several Buffers (the workers of a process, or the rounds
// of a benchmark, as one long-lived buffer would reuse its own); it is safe
// for concurrent use. The free slabs it holds are not charged to any
// Buffer's MaxBytes.
type SlabPool struct {
	mu    sync.Mutex
	free  [][]byte
	max   int
	fresh int // slabs allocated because none was free
}

// NewSlabPool returns a pool that keeps at most maxBytes of free slabs
// (rounded down to whole megabyte slabs); maxBytes ≤ 0 keeps none, and
// every slab is then allocated fresh, as without a pool.
func NewSlabPool(maxBytes int64) *SlabPool {
	return &SlabPool{max: int(max(maxBytes, 0) / slabSize)}
}

// get returns an empty slab, reused if one is free.
func (p *SlabPool) get() *slab {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return &slab{buf: b[:0]}
	}
	p.fresh++
	return &slab{buf: make([]byte, 0, slabSize)}
}

// put takes back the memory of a slab no chunk lives in any more.
func (p *SlabPool) put(s *slab) {
	b := s.buf
	s.buf = nil
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < p.max {
		p.free = append(p.free, b)
	}
}

// Fresh returns how many slabs the pool allocated because none was free.
func (p *SlabPool) Fresh() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fresh
}

// copyChunk copies chunk into the current slab (see slabSize), taking a new
// one from the pool when it is full. The copy's capacity is its length:
// appending to it cannot run into its neighbour.
func (b *Buffer) copyChunk(chunk []byte) chunkRef {
	if len(chunk) > slabAlone {
		return chunkRef{b: append([]byte(nil), chunk...)}
	}
	if b.slab == nil || cap(b.slab.buf)-len(b.slab.buf) < len(chunk) {
		old := b.slab
		b.slab = b.cfg.slabs.get()
		if old != nil && old.live == 0 {
			b.cfg.slabs.put(old)
		}
	}
	s := b.slab
	n := len(s.buf)
	s.buf = append(s.buf, chunk...)
	s.live++
	return chunkRef{b: s.buf[n:len(s.buf):len(s.buf)], s: s}
}

// unref notes that a chunk of s is no longer held; s goes back to the pool
// once none is, unless it is still being filled.
func (b *Buffer) unref(s *slab) {
	if s == nil {
		return
	}
	s.live--
	if s.live == 0 && s != b.slab {
		b.cfg.slabs.put(s)
	}
}

// drop lets go of the chunks of a trace decided drop or released.
func (b *Buffer) drop(t *bufTrace) {
	for _, c := range t.chunks {
		b.unref(c.s)
	}
	t.chunks = nil
}

// keptChunks hands the chunks of a trace decided keep to a Kept: they stay
// held until Kept.Release.
func (b *Buffer) keptChunks(t *bufTrace, k *Kept) {
	// One allocation for the common trace of one chunk (and the one an Add
	// that keeps it brings).
	h := &heldSlabs{b: b}
	k.Chunks, h.slabs = h.chunks[:0], h.one[:0]
	for _, c := range t.chunks {
		k.Chunks = append(k.Chunks, c.b)
		if c.s != nil {
			h.slabs = append(h.slabs, c.s)
		}
	}
	k.held = h
	t.chunks = nil
}

// heldSlabs are the slabs a Kept's chunks live in.
type heldSlabs struct {
	b        *Buffer
	slabs    []*slab
	released bool
	one      [1]*slab  // Backs slabs for one chunk.
	chunks   [2][]byte // Backs Kept.Chunks for up to two.
}

// Release tells the buffer that the receiver of k no longer reads k.Chunks
// (it decoded or copied them): the buffer may copy other chunks into their
// memory. Calling it more than once, or on a Kept whose chunks were not
// buffered, does nothing. A Kept never released only keeps its slabs from
// reuse: the garbage collector frees them as before.
func (k Kept) Release() {
	h := k.held
	if h == nil || len(h.slabs) == 0 {
		return
	}
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if h.released {
		return
	}
	h.released = true
	for _, s := range h.slabs {
		h.b.unref(s)
	}
}
