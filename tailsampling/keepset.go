package tailsampling

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirdev/weir/sample"
)

// DefaultMaxKept bounds a KeepSet without KeepSetConfig.MaxTraces: about
// 100 bytes a trace.
const DefaultMaxKept = 1 << 20

// KeepSetConfig configures a KeepSet.
type KeepSetConfig struct {
	// BaselineRate is the share of all traces kept by Baseline.
	BaselineRate float64
	// Linger is how long a decision stays after the second pass reached the
	// records written when it was made: spans of a kept trace written that
	// much later still follow it.
	Linger time.Duration
	// MaxTraces bounds the decisions held (default DefaultMaxKept); beyond
	// it the oldest go first, counted.
	MaxTraces int
	Metrics   *KeepMetrics
}

// KeepSet holds the keep decisions about the traces of one spans partition,
// for the second pass over it: its memory is a few dozen bytes per kept
// trace, none for the others. It is safe for concurrent use: the decisions
// reader adds, the second pass looks up.
type KeepSet struct {
	cfg   KeepSetConfig
	bound uint64

	mu sync.Mutex
	m  map[sample.TraceID]kept
	// order holds the trace IDs in the order of their first decision, for
	// expiry; head is its first live entry.
	order []orderEntry
	head  int
}

type kept struct {
	reason Reason
	at     int64 // Unix ms of the first decision.
	// refs counts exemplar decisions not yet resolved: the trace was not
	// exported since they came.
	refs uint32
	// sdkRefs counts the broadcast exemplar decisions (SDK exemplars) not
	// yet resolved; only the partition holding the trace exports it, so
	// only its set resolves them, and none counts them as unresolved.
	sdkRefs  uint16
	exported bool
}

type orderEntry struct {
	id sample.TraceID
	at int64
}

// NewKeepSet returns an empty set.
func NewKeepSet(cfg KeepSetConfig) *KeepSet {
	if cfg.MaxTraces <= 0 {
		cfg.MaxTraces = DefaultMaxKept
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewKeepMetrics(nil)
	}
	return &KeepSet{cfg: cfg, bound: baselineBound(cfg.BaselineRate), m: map[sample.TraceID]kept{}}
}

// Add records a decision made at at. A trace decided twice keeps its first
// reason; an exemplar decision about a trace already exported resolves at
// once (its deep link reaches a stored trace).
func (s *KeepSet) Add(d Decision, at time.Time) {
	if d.TraceID.IsZero() {
		return
	}
	s.cfg.Metrics.decisions[min(int(d.Reason), numReasons-1)].Inc()
	ms := at.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.m[d.TraceID]
	if !ok {
		if len(s.m) >= s.cfg.MaxTraces {
			s.evictOldest()
		}
		k = kept{reason: d.Reason, at: ms}
		s.order = append(s.order, orderEntry{id: d.TraceID, at: ms})
	}
	switch {
	case d.Reason != KeepExemplar:
	case k.exported && d.Broadcast:
		s.cfg.Metrics.resolvedSDK.Inc()
	case k.exported:
		s.cfg.Metrics.resolved.Inc()
	case d.Broadcast:
		if k.sdkRefs < math.MaxUint16 {
			k.sdkRefs++
		}
	default:
		k.refs++
	}
	s.m[d.TraceID] = k
}

// Kept reports whether the trace is kept, why, and since when: a decision
// names it (decided is when the first was made), or the baseline selects it
// (decided is zero: always).
func (s *KeepSet) Kept(id sample.TraceID) (why Reason, decided time.Time, ok bool) {
	s.mu.Lock()
	k, ok := s.m[id]
	s.mu.Unlock()
	if ok {
		return k.reason, time.UnixMilli(k.at), true
	}
	if !id.IsZero() && baselineIn(id, s.bound) {
		return KeepBaseline, time.Time{}, true
	}
	return 0, time.Time{}, false
}

// Exported records that spans of a kept trace went to the trace backend:
// the exemplar decisions that named it so far resolve.
func (s *KeepSet) Exported(id sample.TraceID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.m[id]
	if !ok || k.exported {
		return
	}
	s.cfg.Metrics.resolved.Add(float64(k.refs))
	s.cfg.Metrics.resolvedSDK.Add(float64(k.sdkRefs))
	k.refs, k.sdkRefs, k.exported = 0, 0, true
	s.m[id] = k
}

// Expire drops the decisions made more than Linger before through, the
// timestamp of the records the second pass has reached: their traces'
// records are behind it. An exemplar decision about a trace never exported
// is counted as unresolved: its deep link names a trace weir never stored.
func (s *KeepSet) Expire(through time.Time) {
	cut := through.Add(-s.cfg.Linger).UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.head < len(s.order) && s.order[s.head].at < cut {
		s.forget(s.order[s.head].id)
		s.head++
	}
	s.compact()
}

// Len returns the number of decisions held.
func (s *KeepSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *KeepSet) evictOldest() {
	for s.head < len(s.order) {
		id := s.order[s.head].id
		s.head++
		if _, ok := s.m[id]; ok {
			s.forget(id)
			s.cfg.Metrics.evicted.Inc()
			break
		}
	}
	s.compact()
}

func (s *KeepSet) forget(id sample.TraceID) {
	if k, ok := s.m[id]; ok {
		s.cfg.Metrics.unresolved.Add(float64(k.refs))
		delete(s.m, id)
	}
}

// compact reuses the room of expired order entries once they are half.
func (s *KeepSet) compact() {
	if s.head > 1024 && s.head > len(s.order)/2 {
		n := copy(s.order, s.order[s.head:])
		clear(s.order[n:])
		s.order, s.head = s.order[:n], 0
	}
}

// KeepMetrics are the counters of the KeepSets of a process, shared by its
// partitions' sets.
type KeepMetrics struct {
	decisions   [numReasons]prometheus.Counter
	evicted     prometheus.Counter
	resolved    prometheus.Counter
	resolvedSDK prometheus.Counter
	unresolved  prometheus.Counter
}

// NewKeepMetrics registers the KeepSet counters on reg (nil: unregistered).
func NewKeepMetrics(reg prometheus.Registerer) *KeepMetrics {
	dec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_tailsampling_decisions_total",
		Help: "Keep decisions read from weir.decisions, by reason (a trace decided twice counts twice).",
	}, []string{"reason"})
	resolved := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_exemplar_traces_exported_total",
		Help: "Exemplar decisions whose trace was exported, by the exemplar's source (spans: one decision per emitted span exemplar; sdk: an SDK's exemplar, counted by the partition that held its trace): with weir_exemplars_emitted_total, the share of deep links that resolve.",
	}, []string{"source"})
	m := &KeepMetrics{
		resolved:    resolved.WithLabelValues("spans"),
		resolvedSDK: resolved.WithLabelValues("sdk"),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_tailsampling_keep_set_evicted_total",
			Help: "Keep decisions dropped before the second pass was past their traces, to stay within the keep set's bound: their later spans are not exported.",
		}),
		unresolved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_exemplar_traces_unresolved_total",
			Help: "Exemplar decisions whose trace the second pass never found: it had passed the trace's records before the decision came (decision_wait too short), or never had them.",
		}),
	}
	for r := range numReasons - 1 {
		m.decisions[r] = dec.WithLabelValues(Reason(r).String())
	}
	m.decisions[numReasons-1] = dec.WithLabelValues("unknown")
	if reg != nil {
		reg.MustRegister(dec, m.evicted, resolved, m.unresolved)
	}
	return m
}
