package tailsampling

import (
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirdev/weir/sample"
)

// Buffer defaults.
const (
	DefaultMaxBytes          = 256 << 20
	DefaultDecisionWait      = 30 * time.Second
	DefaultBaselineRate      = 0.01
	DefaultDecisionCacheSize = 100_000
)

// Memory charged to the byte bound besides the chunks' own bytes, so that
// MaxBytes bounds what the buffer really holds (BenchmarkBufferBytesPerSpan
// compares the two).
const (
	// traceOverhead is a buffered trace's bufTrace (136 bytes, in the
	// 144-byte size class), its slot in the traces map (a Swiss-table slot
	// of a 16-byte key and a pointer is 24 bytes plus a control byte, at a
	// load between 7/16 and 7/8, so up to about 57 bytes) and its pending
	// entry (24 bytes, twice over for the queue's growth).
	traceOverhead = 144 + 64 + 48
	// chunkOverhead is a chunk's chunkRef in its trace's chunk list, twice
	// over for the list's growth slack. The chunk's bytes themselves are
	// charged at the capacity of their copy: exact in a slab, rounded up to a
	// size class when allocated alone.
	chunkOverhead = 64
)

// BufferOpt configures a Buffer.
type BufferOpt func(*bufferConfig)

type bufferConfig struct {
	maxBytes     int64
	decisionWait time.Duration
	baselineRate float64
	latency      time.Duration
	cacheSize    int
	onKeep       func(Kept)
	slabs        *SlabPool
	registerer   prometheus.Registerer
	logger       *slog.Logger
}

// MaxBytes bounds the memory of the buffered traces, overheads included
// (default DefaultMaxBytes). A value ≤ 0 keeps the default.
func MaxBytes(n int64) BufferOpt {
	return func(c *bufferConfig) {
		if n > 0 {
			c.maxBytes = n
		}
	}
}

// DecisionWait is how long an undecided trace waits, from the arrival of its
// first chunk, for a decision before Tick expires it (default
// DefaultDecisionWait). It must cover the window length plus the time a
// decision takes to come back from stage 2. A value ≤ 0 keeps the default.
func DecisionWait(d time.Duration) BufferOpt {
	return func(c *bufferConfig) {
		if d > 0 {
			c.decisionWait = d
		}
	}
}

// BaselineRate is the probability with which an expiring trace is kept
// anyway, by Baseline (default DefaultBaselineRate). Rates above 1 mean 1;
// below 0, or NaN, mean 0.
func BaselineRate(r float64) BufferOpt {
	return func(c *bufferConfig) {
		switch {
		case math.IsNaN(r) || r < 0:
			c.baselineRate = 0
		case r > 1:
			c.baselineRate = 1
		default:
			c.baselineRate = r
		}
	}
}

// LatencyThreshold keeps, at once, any trace with a span at least this long
// (default 0: off). A value ≤ 0 turns it off.
func LatencyThreshold(d time.Duration) BufferOpt {
	return func(c *bufferConfig) { c.latency = max(d, 0) }
}

// DecisionCacheSize is how many decided trace IDs the buffer remembers for
// their late spans (default DefaultDecisionCacheSize; about 60 bytes each,
// not charged to MaxBytes). A value ≤ 0 keeps the default; values above
// 2^31-1 are cut to it.
func DecisionCacheSize(n int) BufferOpt {
	return func(c *bufferConfig) {
		if n > 0 {
			c.cacheSize = min(n, math.MaxInt32)
		}
	}
}

// OnKeep is called with every kept trace, and again with each chunk arriving
// after its trace was kept. It is called synchronously, without the buffer's
// lock held, by the Add, Keep or Tick that made or found the decision; it
// should hand the data to an exporter quickly (and mind what Kept.Chunks
// says about holding them). If Buffer methods are called
// from several goroutines, OnKeep is too. Without OnKeep kept traces are
// counted and discarded.
func OnKeep(fn func(Kept)) BufferOpt {
	return func(c *bufferConfig) { c.onKeep = fn }
}

// Slabs sets the pool the buffer takes the slabs it copies chunks into
// from, and gives them back to (default: a pool of its own keeping
// DefaultSlabPoolBytes). A nil pool keeps the default.
func Slabs(p *SlabPool) BufferOpt {
	return func(c *bufferConfig) {
		if p != nil {
			c.slabs = p
		}
	}
}

// WithRegisterer registers the buffer's metrics (weir_tailsampling_*) on r
// (default nil: not registered). NewBuffer panics if they are already
// registered there; give each Buffer of a process its own labels with
// prometheus.WrapRegistererWith.
func WithRegisterer(r prometheus.Registerer) BufferOpt {
	return func(c *bufferConfig) { c.registerer = r }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) BufferOpt {
	return func(c *bufferConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// BufferStats is a snapshot of what a Buffer holds.
type BufferStats struct {
	Traces int   // Undecided traces buffered.
	Spans  int64 // Spans in them, as counted by the callers of Add.
	Bytes  int64 // Memory charged against MaxBytes; never above it.
	// Decisions is the number of trace IDs in the decision cache.
	Decisions int
}

// Buffer holds the spans of undecided traces, as raw OTLP bytes keyed by
// trace ID, until a decision keeps them, or until their decision wait passes
// and Tick keeps them by the baseline or drops them.
//
// A trace is in exactly one state: buffered (undecided), decided (its ID in
// the decision cache, its spans gone to OnKeep or dropped), or unknown.
// Memory is bounded by MaxBytes plus the fixed size of the decision cache:
// when a chunk would not fit, the traces that arrived first are dropped until
// it does, so a flood of spans is shed, never an out-of-memory crash.
//
// Time is whatever the callers pass as now; the buffer never reads the clock.
// A Buffer is safe for concurrent use: one mutex, held for O(1) work per Add
// and Keep and O(expired traces) per Tick.
type Buffer struct {
	cfg   bufferConfig
	bound uint64 // baselineBound(cfg.baselineRate)
	m     *bufferMetrics

	mu     sync.Mutex
	traces map[sample.TraceID]*bufTrace
	// head and tail link the buffered traces in the order of their first
	// chunk's arrival. Every buffered trace is undecided (a decision removes
	// it), so head is the oldest undecided trace: the next to expire and the
	// first to evict.
	head, tail *bufTrace
	// pending holds where each partition's buffered traces began; read
	// the highest offset added per partition (see cachedDecision.through).
	pending pending
	read    map[int32]int64
	bytes   int64
	spans   int64
	slab    *slab // The slab being filled; see slabSize.
	decided *decisionCache
	// full is set while the buffer is evicting (logged once per episode);
	// evicted says whether it evicted since the last Tick.
	full, evicted bool
}

// bufTrace is one undecided trace. Keep it within 144 bytes (see
// traceOverhead).
type bufTrace struct {
	id         sample.TraceID
	prev, next *bufTrace
	first      int64 // Unix nanoseconds of the first chunk's arrival.
	bytes      int64 // Charged against MaxBytes, traceOverhead included.
	offset     int64 // Input offset of the first chunk's record, or -1.
	spans      int32
	partition  int32
	encoding   string
	chunks     []chunkRef
	inline     [1]chunkRef // Backs chunks for the common one-chunk trace.
}

// NewBuffer returns an empty Buffer.
func NewBuffer(opts ...BufferOpt) *Buffer {
	cfg := bufferConfig{
		maxBytes:     DefaultMaxBytes,
		decisionWait: DefaultDecisionWait,
		baselineRate: DefaultBaselineRate,
		cacheSize:    DefaultDecisionCacheSize,
		logger:       slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.slabs == nil {
		cfg.slabs = NewSlabPool(DefaultSlabPoolBytes)
	}
	b := &Buffer{
		cfg:     cfg,
		bound:   baselineBound(cfg.baselineRate),
		traces:  make(map[sample.TraceID]*bufTrace),
		pending: make(pending),
		read:    map[int32]int64{},
		decided: newDecisionCache(cfg.cacheSize),
	}
	b.m = newBufferMetrics(b, cfg.registerer)
	return b
}

// Add buffers one chunk of a trace: the raw bytes of a record, or a fragment
// holding only this trace's spans, received at now from the record at offset
// of the input partition (an offset below 0 is not tracked: see Oldest).
// spans is the number of spans in it; hasError and maxDuration describe them.
// Add copies chunk; the caller may reuse it once Add returns.
//
// What happens to the chunk:
//   - the trace was decided keep (or an exemplar named it before its spans
//     came): the chunk goes straight to OnKeep, counted as late spans,
//     unless its offset is at or below the one through which the trace was
//     exported (a record read again after its partition came back): then it
//     is counted as "already_exported" and not sent twice;
//   - the trace was decided drop: the chunk is dropped, counted as late spans;
//   - hasError, or maxDuration ≥ the latency threshold: the trace is kept now
//     with all its buffered chunks;
//   - otherwise it is buffered. If the buffer would then exceed MaxBytes the
//     oldest undecided traces (this one included, if it is the oldest) are
//     dropped until it fits, counted as "buffer_full"; a chunk too large to
//     ever fit drops its trace and nothing else.
//
// A zero trace ID (OTLP's "no trace") names no trace: its chunk is dropped
// and counted as "no_trace_id".
func (b *Buffer) Add(id sample.TraceID, partition int32, offset int64, encoding string, chunk []byte, spans int, hasError bool, maxDuration time.Duration, now time.Time) {
	if id.IsZero() {
		b.m.droppedNoID.Inc()
		return
	}
	n := int64(max(spans, 0))
	b.mu.Lock()
	k, keep, warn := b.add(id, partition, offset, encoding, chunk, n, hasError, maxDuration, now)
	b.mu.Unlock()
	if warn {
		b.cfg.logger.Warn("span buffer full: dropping the oldest undecided traces",
			"max_bytes", b.cfg.maxBytes)
	}
	if keep {
		b.export(k, now)
	}
}

// add is Add under the lock. It returns what to export, if anything, and
// whether a buffer-full episode began.
func (b *Buffer) add(id sample.TraceID, partition int32, offset int64, encoding string, chunk []byte, spans int64, hasError bool, maxDuration time.Duration, now time.Time) (Kept, bool, bool) {
	if r, ok := b.read[partition]; offset >= 0 && (!ok || offset > r) {
		b.read[partition] = offset
	}
	t := b.traces[id]
	if t == nil {
		if d, ok := b.decided.get(id); ok {
			b.m.cacheHit.Inc()
			if !d.keep {
				b.m.lateDrop.Add(float64(spans))
				return Kept{}, false, false
			}
			if offset >= 0 && offset <= d.through {
				b.m.lateExported.Add(float64(spans))
				return Kept{}, false, false
			}
			if offset > d.through {
				d.through = offset
				b.decided.put(d)
			}
			b.m.lateKeep.Add(float64(spans))
			return Kept{
				TraceID:   id,
				Partition: partition,
				Reason:    d.reason,
				Chunks:    [][]byte{append([]byte(nil), chunk...)},
				Encoding:  encoding,
				DecidedAt: time.Unix(0, d.at),
			}, true, false
		}
		b.m.cacheMiss.Inc()
	}

	reason, keepNow := KeepError, hasError
	if !keepNow && b.cfg.latency > 0 && maxDuration >= b.cfg.latency {
		reason, keepNow = KeepLatency, true
	}
	if keepNow {
		k := Kept{
			TraceID:   id,
			Partition: partitionOf(t, partition),
			Reason:    reason,
			Encoding:  encodingOf(t, encoding),
			DecidedAt: now,
		}
		if t != nil {
			b.unlink(t)
			b.keptChunks(t, &k)
		}
		k.Chunks = append(k.Chunks, append([]byte(nil), chunk...))
		b.decide(id, true, reason, now, b.readOf(k.Partition))
		return k, true, false
	}

	if int64(len(chunk))+chunkOverhead+traceOverhead > b.cfg.maxBytes {
		// It can never fit: shed this trace only, not the whole buffer.
		if t != nil {
			b.unlink(t)
			b.drop(t)
		}
		b.m.droppedFull.Inc()
		b.decide(id, false, 0, now, -1)
		return Kept{}, false, b.markFull()
	}

	if t == nil {
		t = &bufTrace{id: id, first: now.UnixNano(), bytes: traceOverhead, offset: max(offset, -1), partition: partition, encoding: encoding}
		t.chunks = t.inline[:0]
		if offset >= 0 {
			b.pending.push(partition, id, offset)
		}
		b.traces[id] = t
		if b.tail == nil {
			b.head = t
		} else {
			b.tail.next, t.prev = t, b.tail
		}
		b.tail = t
		b.bytes += traceOverhead
	}
	c := b.copyChunk(chunk)
	t.chunks = append(t.chunks, c)
	cost := int64(cap(c.b)) + chunkOverhead
	t.bytes += cost
	// A trace's span count saturates (it could pass 2^31 only in a buffer
	// of many gigabytes); the total follows what the traces hold.
	spans = min(spans, math.MaxInt32-int64(t.spans))
	t.spans += int32(spans)
	b.bytes += cost
	b.spans += spans

	warn := false
	for b.bytes > b.cfg.maxBytes {
		v := b.head
		b.unlink(v)
		b.drop(v)
		b.m.droppedFull.Inc()
		b.decide(v.id, false, 0, now, -1)
		warn = b.markFull() || warn
	}
	return Kept{}, false, warn
}

func partitionOf(t *bufTrace, p int32) int32 {
	if t != nil {
		return t.partition
	}
	return p
}

func encodingOf(t *bufTrace, e string) string {
	if t != nil {
		return t.encoding
	}
	return e
}

// markFull notes an eviction and reports whether it starts an episode.
func (b *Buffer) markFull() bool {
	b.evicted = true
	if b.full {
		return false
	}
	b.full = true
	return true
}

// Keep decides keep for the trace, as an exemplar decision from weir.decisions
// does. Its buffered chunks go to OnKeep at once. If none are buffered the
// decision is remembered (in the decision cache) so that its spans go to
// OnKeep as they arrive: exemplar decisions may overtake the spans they name.
//
// Decisions are final: Keep of a trace already kept does nothing, and Keep of
// a trace already dropped (expired or shed) cannot bring its spans back; it is
// counted in weir_tailsampling_late_decisions_total, a sign that DecisionWait
// is too short or MaxBytes too small. A zero trace ID is ignored.
func (b *Buffer) Keep(id sample.TraceID, reason Reason, now time.Time) {
	if id.IsZero() {
		return
	}
	b.mu.Lock()
	if t := b.traces[id]; t != nil {
		b.unlink(t)
		b.decide(id, true, reason, now, b.readOf(t.partition))
		k := Kept{TraceID: id, Partition: t.partition, Reason: reason, Encoding: t.encoding, DecidedAt: now}
		b.keptChunks(t, &k)
		b.mu.Unlock()
		b.export(k, now)
		return
	}
	d, ok := b.decided.get(id)
	if !ok {
		b.m.cacheMiss.Inc()
		b.decide(id, true, reason, now, -1)
		b.mu.Unlock()
		return
	}
	b.m.cacheHit.Inc()
	b.mu.Unlock()
	if !d.keep {
		b.m.lateDecisions.Inc()
		b.cfg.logger.Debug("keep decision for a trace already dropped", "trace_id", id, "reason", reason)
	}
}

// Tick expires the traces whose DecisionWait has passed at now: those in the
// baseline sample are kept (KeepBaseline, sent to OnKeep), the others dropped
// and counted as "expired". It returns how many traces expired, kept or not.
// Traces expire in the order their first chunks arrived, so with a clock
// that goes backwards some may expire late, never early.
//
// Tick's work is proportional to the traces it expires and the partitions
// it has traces of, not to the traces buffered; call it about once a second.
func (b *Buffer) Tick(now time.Time) int {
	cutoff := now.Add(-b.cfg.decisionWait).UnixNano()
	var kept []Kept
	n := 0
	b.mu.Lock()
	for t := b.head; t != nil && t.first <= cutoff; t = b.head {
		n++
		b.unlink(t)
		if !baselineIn(t.id, b.bound) {
			b.drop(t)
			b.m.droppedExpired.Inc()
			b.decide(t.id, false, 0, now, -1)
			continue
		}
		b.decide(t.id, true, KeepBaseline, now, b.readOf(t.partition))
		k := Kept{TraceID: t.id, Partition: t.partition, Reason: KeepBaseline, Encoding: t.encoding, DecidedAt: now}
		b.keptChunks(t, &k)
		kept = append(kept, k)
	}
	// The queues of partitions whose traces were all decided go, so that
	// those of partitions read no more do not stay.
	for part := range b.pending {
		b.pending.front(part, b.livePending(part))
	}
	if !b.evicted {
		b.full = false
	}
	b.evicted = false
	b.mu.Unlock()
	for _, k := range kept {
		b.export(k, now)
	}
	return n
}

// Oldest returns the input offset of partition's oldest record that began a
// trace still buffered: committing it as the partition's consumer offset
// (or an earlier one) lets whoever reads the partition next buffer every
// undecided trace again, if this buffer is lost with its process. ok is false
// when no trace of the partition is buffered (untracked offsets aside).
// Chunks are assumed to come from their trace's partition, as with a spans
// topic keyed by trace ID.
func (b *Buffer) Oldest(partition int32) (offset int64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.pending.front(partition, b.livePending(partition))
	return e.offset, ok
}

// Release forgets, undecided, the buffered traces that began in partition,
// for a consumer that no longer owns it: its next owner reads them again from
// the committed offset (see Oldest), and a trace decided by both would be
// exported twice. They are counted as dropped, reason "released", and are
// not remembered as decided. It returns how many traces it released.
func (b *Buffer) Release(partition int32) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	live := b.livePending(partition)
	n := 0
	for {
		e, ok := b.pending.front(partition, live)
		if !ok {
			break
		}
		t := b.traces[e.id]
		b.unlink(t)
		b.drop(t)
		n++
	}
	b.m.droppedReleased.Add(float64(n))
	return n
}

// livePending says whether a pending entry of partition still names a
// buffered trace.
func (b *Buffer) livePending(partition int32) func(pendingEntry) bool {
	return func(e pendingEntry) bool {
		t := b.traces[e.id]
		return t != nil && t.offset == e.offset && t.partition == partition
	}
}

// DecisionWait returns how long the buffer holds a trace after its first
// chunk before deciding it (the DecisionWait option).
func (b *Buffer) DecisionWait() time.Duration { return b.cfg.decisionWait }

// Stats returns what the buffer holds now.
func (b *Buffer) Stats() BufferStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BufferStats{Traces: len(b.traces), Spans: b.spans, Bytes: b.bytes, Decisions: b.decided.len()}
}

// unlink removes t from the buffer; its chunks stay in t for the caller.
func (b *Buffer) unlink(t *bufTrace) {
	if t.prev == nil {
		b.head = t.next
	} else {
		t.prev.next = t.next
	}
	if t.next == nil {
		b.tail = t.prev
	} else {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
	delete(b.traces, t.id)
	b.bytes -= t.bytes
	b.spans -= int64(t.spans)
}

// readOf returns the highest offset added from partition, or -1.
func (b *Buffer) readOf(partition int32) int64 {
	if r, ok := b.read[partition]; ok {
		return r
	}
	return -1
}

// decide records a final decision and counts it; through is the kept
// trace's cachedDecision.through.
func (b *Buffer) decide(id sample.TraceID, keep bool, reason Reason, now time.Time, through int64) {
	b.decided.put(cachedDecision{id: id, at: now.UnixNano(), through: through, keep: keep, reason: reason})
	if keep {
		b.m.decision(reason).Inc()
	} else {
		b.m.decisionDrop.Inc()
	}
}

func (b *Buffer) export(k Kept, now time.Time) {
	b.m.exportDelay.Observe(max(now.Sub(k.DecidedAt), 0).Seconds())
	if b.cfg.onKeep != nil {
		b.cfg.onKeep(k)
	}
}

type bufferMetrics struct {
	decisions       *prometheus.CounterVec
	decisionByWhy   [numReasons]prometheus.Counter
	decisionDrop    prometheus.Counter
	droppedExpired  prometheus.Counter
	droppedFull     prometheus.Counter
	droppedNoID     prometheus.Counter
	droppedReleased prometheus.Counter
	lateKeep        prometheus.Counter
	lateDrop        prometheus.Counter
	lateExported    prometheus.Counter
	cacheHit        prometheus.Counter
	cacheMiss       prometheus.Counter
	lateDecisions   prometheus.Counter
	exportDelay     prometheus.Histogram
}

func newBufferMetrics(b *Buffer, reg prometheus.Registerer) *bufferMetrics {
	m := &bufferMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_tailsampling_decisions_total",
			Help: "Final tail-sampling decisions about traces, by keep reason or \"drop\".",
		}, []string{"reason"}),
		lateDecisions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_tailsampling_late_decisions_total",
			Help: "Keep decisions that arrived after their trace was dropped (expired or shed): DecisionWait may be too short, or MaxBytes too small.",
		}),
		exportDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "weir_tailsampling_decision_to_export_seconds",
			Help:    "Time from a trace's keep decision to the hand-over of its chunks for export (0 for chunks buffered when it was decided).",
			Buckets: []float64{0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300},
		}),
	}
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_tailsampling_dropped_traces_total",
		Help: "Traces dropped undecided: \"expired\" after DecisionWait, \"buffer_full\" to stay within MaxBytes, \"no_trace_id\" chunks without a trace ID.",
	}, []string{"reason"})
	late := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_tailsampling_late_spans_total",
		Help: "Spans that arrived after their trace was decided, by decision: \"keep\" (sent on), \"drop\", or \"already_exported\" (read again after their partition came back; not sent twice).",
	}, []string{"decision"})
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_tailsampling_decision_cache_total",
		Help: "Decision cache look-ups for traces not buffered, by result.",
	}, []string{"result"})
	for r := range numReasons {
		m.decisionByWhy[r] = m.decisions.WithLabelValues(Reason(r).String())
	}
	m.decisionDrop = m.decisions.WithLabelValues("drop")
	m.droppedExpired = dropped.WithLabelValues("expired")
	m.droppedFull = dropped.WithLabelValues("buffer_full")
	m.droppedNoID = dropped.WithLabelValues("no_trace_id")
	m.droppedReleased = dropped.WithLabelValues("released")
	m.lateKeep = late.WithLabelValues("keep")
	m.lateDrop = late.WithLabelValues("drop")
	m.lateExported = late.WithLabelValues("already_exported")
	m.cacheHit = cache.WithLabelValues("hit")
	m.cacheMiss = cache.WithLabelValues("miss")
	if reg != nil {
		reg.MustRegister(m.decisions, dropped, late, cache, m.lateDecisions, m.exportDelay,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "weir_tailsampling_buffered_traces",
				Help: "Undecided traces held in the span buffer.",
			}, func() float64 { return float64(b.Stats().Traces) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "weir_tailsampling_buffered_bytes",
				Help: "Memory charged to the span buffer's byte bound, overheads included.",
			}, func() float64 { return float64(b.Stats().Bytes) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "weir_tailsampling_max_bytes",
				Help: "The span buffer's byte bound: beyond it the oldest undecided traces are dropped.",
			}, func() float64 { return float64(b.cfg.maxBytes) }),
		)
	}
	return m
}

// decision returns the decisions counter of a keep reason.
func (m *bufferMetrics) decision(r Reason) prometheus.Counter {
	if int(r) < numReasons {
		return m.decisionByWhy[r]
	}
	return m.decisions.WithLabelValues(r.String())
}
