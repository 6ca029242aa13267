// Package tracestore is the embedded trace store of `weir demo`: a bounded,
// in-memory map of trace ID to the spans weir kept, read through a subset of
// Jaeger's HTTP query API, so that an exemplar's trace_id opens in a UI built
// for Jaeger.
//
// Spans of one trace may arrive in several writes (tail sampling forwards
// late spans of a kept trace); they are merged, and a span written twice is
// kept once. The store holds at most a fixed number of traces: a new trace
// beyond it evicts the trace that was first written longest ago.
package tracestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/weirdev/weir/sample"
)

// DefaultMaxTraces is the number of traces New keeps without WithMaxTraces.
const DefaultMaxTraces = 10000

// Opt configures New.
type Opt func(*config)

type config struct {
	maxTraces int
	reg       prometheus.Registerer
}

// WithMaxTraces bounds the number of traces kept (default 10000). Values < 1
// keep the default.
func WithMaxTraces(n int) Opt {
	return func(c *config) {
		if n >= 1 {
			c.maxTraces = n
		}
	}
}

// WithRegisterer registers the store's metrics (weir_tracestore_*) on r.
// nil (the default) registers nothing. Like prometheus.MustRegister, New
// panics when a metric cannot be registered (a second store on the same
// registerer).
func WithRegisterer(r prometheus.Registerer) Opt {
	return func(c *config) { c.reg = r }
}

// Store keeps traces in memory. It is safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	max    int
	traces map[sample.TraceID]*trace
	// ring holds the IDs in the order they were first written; once full,
	// ring[oldest] is the next trace to evict.
	ring   []sample.TraceID
	oldest int
	// services counts, per service name, the traces having a span of it.
	services map[string]int
	// gone remembers the IDs of the last rememberEvicted evicted traces
	// (goneRing in eviction order, goneNext the slot of the next), so that
	// a reader is told the store dropped a trace rather than never had it.
	gone     map[sample.TraceID]struct{}
	goneRing []sample.TraceID
	goneNext int

	spansWritten  atomic.Uint64
	spansDup      atomic.Uint64
	spansRejected atomic.Uint64
	evicted       atomic.Uint64
	spansHeld     atomic.Int64
}

// trace is one stored trace: its spans, grouped by resource and scope as they
// arrived, plus what searches need without walking the spans.
type trace struct {
	id       sample.TraceID
	td       ptrace.Traces
	spanIDs  map[sample.SpanID]struct{}
	services []string
	start    pcommon.Timestamp // earliest span start
}

// New returns an empty store.
func New(opts ...Opt) *Store {
	cfg := config{maxTraces: DefaultMaxTraces}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Store{
		max:      cfg.maxTraces,
		traces:   make(map[sample.TraceID]*trace),
		services: make(map[string]int),
		gone:     make(map[sample.TraceID]struct{}),
	}
	if cfg.reg != nil {
		s.register(cfg.reg)
	}
	return s
}

// Stats is a snapshot of the store's contents and counters.
type Stats struct {
	Traces        int    // traces held now
	Spans         int64  // spans held now
	SpansWritten  uint64 // spans accepted since New
	SpansDup      uint64 // spans dropped because their trace already had their span ID
	SpansRejected uint64 // spans refused (empty trace ID)
	Evicted       uint64 // traces evicted to stay within the bound
}

// Stats returns the current counts.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	n := len(s.traces)
	s.mu.RUnlock()
	return Stats{
		Traces:        n,
		Spans:         s.spansHeld.Load(),
		SpansWritten:  s.spansWritten.Load(),
		SpansDup:      s.spansDup.Load(),
		SpansRejected: s.spansRejected.Load(),
		Evicted:       s.evicted.Load(),
	}
}

// WriteTraces merges the spans of td into the store, each into its trace.
// td is copied, not retained. A span whose span ID its trace already holds is
// dropped (counted in Stats.SpansDup), so writing the same spans again
// changes nothing. Spans keep the resource and scope they arrived with.
//
// WriteTraces fails when ctx is done (nothing is written), and when spans
// have an all-zero trace ID: those are refused and counted, every other span
// is stored, and the error names the first refused span.
func (s *Store) WriteTraces(ctx context.Context, td ptrace.Traces) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("tracestore: write: %w", err)
	}
	var (
		rejected int
		firstBad string
		// Where spans of this call go, per trace: one destination resource per
		// source resource, one destination scope per source scope.
		rsDest = map[*trace]ptrace.ResourceSpans{}
		ssDest = map[*trace]ptrace.SpanSlice{}
	)
	s.mu.Lock()
	defer s.mu.Unlock()
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		svc := serviceName(rs.Resource())
		clear(rsDest)
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			ss := sss.At(j)
			clear(ssDest)
			spans := ss.Spans()
			for k := range spans.Len() {
				span := spans.At(k)
				tid := sample.TraceID(span.TraceID())
				if tid.IsZero() {
					if rejected == 0 {
						firstBad = fmt.Sprintf("span %q (span ID %s, resource %d, scope %d, span %d)",
							span.Name(), sample.SpanID(span.SpanID()), i, j, k)
					}
					rejected++
					continue
				}
				t := s.getOrCreate(tid)
				sid := sample.SpanID(span.SpanID())
				if _, dup := t.spanIDs[sid]; dup {
					s.spansDup.Add(1)
					continue
				}
				dst, ok := ssDest[t]
				if !ok {
					rd, ok := rsDest[t]
					if !ok {
						rd = t.resourceFor(rs)
						rsDest[t] = rd
					}
					dst = scopeFor(rd, ss).Spans()
					ssDest[t] = dst
				}
				span.CopyTo(dst.AppendEmpty())
				t.spanIDs[sid] = struct{}{}
				if st := span.StartTimestamp(); t.start == 0 || st < t.start {
					t.start = st
				}
				if !slices.Contains(t.services, svc) {
					t.services = append(t.services, svc)
					s.services[svc]++
				}
				s.spansWritten.Add(1)
				s.spansHeld.Add(1)
			}
		}
	}
	if rejected > 0 {
		s.spansRejected.Add(uint64(rejected))
		return fmt.Errorf("tracestore: refused %d span(s) with an empty trace ID, first %s: %w", rejected, firstBad, ErrEmptyTraceID)
	}
	return nil
}

// ErrEmptyTraceID is wrapped by WriteTraces' error for spans with an all-zero
// trace ID.
var ErrEmptyTraceID = errors.New("empty trace ID")

// getOrCreate returns the trace with id, making room for it by evicting the
// oldest trace when the store is full. s.mu must be held.
func (s *Store) getOrCreate(id sample.TraceID) *trace {
	if t, ok := s.traces[id]; ok {
		return t
	}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, id)
	} else {
		s.evict(s.ring[s.oldest])
		s.ring[s.oldest] = id
		s.oldest = (s.oldest + 1) % s.max
	}
	t := &trace{id: id, td: ptrace.NewTraces(), spanIDs: make(map[sample.SpanID]struct{})}
	s.traces[id] = t
	delete(s.gone, id)
	return t
}

func (s *Store) evict(id sample.TraceID) {
	t := s.traces[id]
	delete(s.traces, id)
	for _, svc := range t.services {
		if s.services[svc]--; s.services[svc] <= 0 {
			delete(s.services, svc)
		}
	}
	s.spansHeld.Add(-int64(len(t.spanIDs)))
	s.evicted.Add(1)
	if len(s.goneRing) < rememberEvicted {
		s.goneRing = append(s.goneRing, id)
	} else {
		delete(s.gone, s.goneRing[s.goneNext])
		s.goneRing[s.goneNext] = id
		s.goneNext = (s.goneNext + 1) % rememberEvicted
	}
	s.gone[id] = struct{}{}
}

// rememberEvicted is how many evicted trace IDs a store remembers: about
// 3 MiB, a quarter of an hour of the demo's evictions.
const rememberEvicted = 1 << 16

// Evicted reports whether the store evicted the trace to stay within its
// bound (among the last rememberEvicted evicted) and holds it no more.
func (s *Store) Evicted(id sample.TraceID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.gone[id]
	return ok
}

// resourceFor returns the trace's resource entry equal to src's resource,
// creating it when the trace has none: a trace written in many calls keeps
// one entry per process, not one per call.
func (t *trace) resourceFor(src ptrace.ResourceSpans) ptrace.ResourceSpans {
	rss := t.td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		if rs.SchemaUrl() == src.SchemaUrl() &&
			rs.Resource().DroppedAttributesCount() == src.Resource().DroppedAttributesCount() &&
			rs.Resource().Attributes().Equal(src.Resource().Attributes()) {
			return rs
		}
	}
	rs := rss.AppendEmpty()
	src.Resource().CopyTo(rs.Resource())
	rs.SetSchemaUrl(src.SchemaUrl())
	return rs
}

// scopeFor does for scopes what resourceFor does for resources.
func scopeFor(rs ptrace.ResourceSpans, src ptrace.ScopeSpans) ptrace.ScopeSpans {
	sss := rs.ScopeSpans()
	for i := range sss.Len() {
		ss := sss.At(i)
		a, b := ss.Scope(), src.Scope()
		if ss.SchemaUrl() == src.SchemaUrl() && a.Name() == b.Name() && a.Version() == b.Version() &&
			a.DroppedAttributesCount() == b.DroppedAttributesCount() && a.Attributes().Equal(b.Attributes()) {
			return ss
		}
	}
	ss := sss.AppendEmpty()
	src.Scope().CopyTo(ss.Scope())
	ss.SetSchemaUrl(src.SchemaUrl())
	return ss
}

// Trace returns a copy of the trace's spans, or false when the store does
// not hold the trace (never written, or evicted).
func (s *Store) Trace(id sample.TraceID) (ptrace.Traces, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.traces[id]
	if !ok {
		return ptrace.NewTraces(), false
	}
	out := ptrace.NewTraces()
	t.td.CopyTo(out)
	return out, true
}

// noServiceName is the service name Jaeger gives spans whose resource has no
// attributes at all.
const noServiceName = "OTLPResourceNoServiceName"

func serviceName(r pcommon.Resource) string {
	attrs := r.Attributes()
	if attrs.Len() == 0 {
		return noServiceName
	}
	if v, ok := attrs.Get("service.name"); ok {
		return v.AsString()
	}
	return ""
}

func (s *Store) register(reg prometheus.Registerer) {
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "weir_tracestore_traces",
			Help: "Traces held by the embedded trace store.",
		}, func() float64 { return float64(s.Stats().Traces) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "weir_tracestore_spans",
			Help: "Spans held by the embedded trace store.",
		}, func() float64 { return float64(s.spansHeld.Load()) }),
		counter("weir_tracestore_spans_written_total", "Spans accepted by the embedded trace store.", &s.spansWritten),
		counter("weir_tracestore_spans_duplicate_total", "Spans dropped because their trace already held their span ID.", &s.spansDup),
		counter("weir_tracestore_spans_rejected_total", "Spans refused for an empty trace ID.", &s.spansRejected),
		counter("weir_tracestore_traces_evicted_total", "Traces evicted, oldest first, to stay within the store's bound.", &s.evicted),
	} {
		reg.MustRegister(c)
	}
}
