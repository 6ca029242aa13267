package tailsampling

import (
	"time"

	"github.com/weirdev/weir/sample"
)

// Reason says why a trace was kept.
type Reason uint8

// Keep reasons. The order is part of no format: weir.decisions carries its own
// encoding.
const (
	// KeepExemplar: a window picked the trace as the exemplar of a percentile.
	KeepExemplar Reason = iota
	// KeepError: the trace has a span with an error status.
	KeepError
	// KeepLatency: the trace has a span at least as long as the buffer's
	// latency threshold.
	KeepLatency
	// KeepBaseline: the trace is in the deterministic baseline sample (see
	// Baseline) and no other reason kept it before its decision wait passed.
	KeepBaseline

	numReasons = int(KeepBaseline) + 1
)

var keepReasonNames = [numReasons]string{"exemplar", "error", "latency", "baseline"}

// String returns the reason's metric label value, or "unknown" for a value
// outside the constants above.
func (r Reason) String() string {
	if int(r) < numReasons {
		return keepReasonNames[r]
	}
	return "unknown"
}

// Kept is a kept trace, or a later part of one, handed to the buffer's OnKeep
// callback.
type Kept struct {
	TraceID sample.TraceID
	// Partition is the spans partition the first chunk of this Kept was read
	// from.
	Partition int32
	Reason    Reason
	// Chunks are the raw OTLP records or per-trace fragments exactly as they
	// were given to Buffer.Add, in arrival order. They are copies the buffer
	// made, not written again until Release: a chunk that was buffered lives
	// in one of the buffer's slabs (see slabSize), which Release lets the
	// buffer reuse. Decode or copy them, then Release; a Kept never released
	// keeps its slabs' megabytes alive while it is held.
	Chunks [][]byte
	// Encoding is the encoding given with the first of Chunks (for example
	// "otlp_proto"); the buffer does not look at the bytes.
	Encoding string
	// DecidedAt is when the trace was first decided keep. For spans arriving
	// after the decision it is earlier than the Add that delivered them.
	DecidedAt time.Time

	held *heldSlabs // The slabs of Chunks, for Release.
}

// cachedDecision is the final decision about one trace.
type cachedDecision struct {
	id sample.TraceID
	at int64 // Unix nanoseconds of the decision.
	// through is, for a kept trace, the input offset through which its
	// partition had been read when its chunks were last exported (-1: none
	// or untracked): a chunk read again at or below it (a replay after the
	// partition came back) was exported already.
	through int64
	keep    bool
	reason  Reason // Meaningful only when keep.
}

// decisionCache remembers the last size decisions, so that spans arriving
// after their trace was decided (or before an exemplar named it) follow the
// decision. It is a FIFO ring indexed by a map: insertion and eviction are
// O(1) and its memory is fixed by size (about 70 bytes per entry once full).
//
// FIFO rather than LRU: a decision is looked up by the few late spans of its
// trace, which come soon after it; refreshing on hit would only keep hot
// traces' entries around longer at the cost of moving entries on every hit.
type decisionCache struct {
	size int
	idx  map[sample.TraceID]int32 // Position in ring.
	ring []cachedDecision         // Grows to size, then is overwritten from next.
	next int
}

func newDecisionCache(size int) *decisionCache {
	return &decisionCache{size: size, idx: make(map[sample.TraceID]int32)}
}

func (c *decisionCache) get(id sample.TraceID) (cachedDecision, bool) {
	i, ok := c.idx[id]
	if !ok {
		return cachedDecision{}, false
	}
	return c.ring[i], true
}

// put records d, replacing an earlier decision about the same trace in place
// (its age stays that of the first), or else evicting the oldest entry when
// the cache is full.
func (c *decisionCache) put(d cachedDecision) {
	if i, ok := c.idx[d.id]; ok {
		c.ring[i] = d
		return
	}
	if len(c.ring) < c.size {
		c.idx[d.id] = int32(len(c.ring))
		c.ring = append(c.ring, d)
		return
	}
	delete(c.idx, c.ring[c.next].id)
	c.ring[c.next] = d
	c.idx[d.id] = int32(c.next)
	c.next++
	if c.next == c.size {
		c.next = 0
	}
}

func (c *decisionCache) len() int { return len(c.ring) }
