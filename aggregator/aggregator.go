package aggregator

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/prometheus/client_golang/prometheus"
)

// Opt configures an Aggregator.
type Opt func(*config)

type config struct {
	lateness     time.Duration
	idleTimeout  time.Duration
	closeTimeout time.Duration
	maxFuture    time.Duration
	accuracy     float64
	tolerance    float64
	toleranceSet bool
	reg          prometheus.Registerer
	logger       *slog.Logger
}

// AllowedLateness is how far behind a partition's newest event time a point
// may be and still join its window (default 2s).
func AllowedLateness(d time.Duration) Opt { return func(c *config) { c.lateness = d } }

// IdleTimeout is how long a partition may send nothing before its watermark
// follows wall time, so that an idle partition does not hold windows open
// (default 10s).
func IdleTimeout(d time.Duration) Opt { return func(c *config) { c.idleTimeout = d } }

// CloseTimeout is how long stage 2 waits for a partition it hears nothing
// from before it closes the windows that partition holds open (default
// DefaultCloseTimeout). A partition whose owner is alive says so at least
// every second (its watermark records), however slowly it reads, so the
// timeout only ends the wait for a partition with no owner at all: it must
// be longer than the group takes to hand a dead member's partitions over
// (its session timeout and a rebalance). Windows closed by it are counted,
// and their late partials re-emit them (see Merger.Close).
func CloseTimeout(d time.Duration) Opt { return func(c *config) { c.closeTimeout = d } }

// DefaultCloseTimeout is the close timeout without CloseTimeout: twice the
// group's default session timeout (45s) and half a minute.
const DefaultCloseTimeout = 2 * time.Minute

// MaxFuture is how far ahead of wall time an event time may be; points beyond
// are dropped and counted (default 10m).
func MaxFuture(d time.Duration) Opt { return func(c *config) { c.maxFuture = d } }

// RelativeAccuracy is the DDSketch relative accuracy α (default 0.01).
func RelativeAccuracy(a float64) Opt { return func(c *config) { c.accuracy = a } }

// ExemplarTolerance is how far, relative to a percentile's value, its
// exemplar may lie when the sketch bucket holding the percentile has no
// candidate: the candidate nearest the value within rel·value is taken
// instead (default DefaultExemplarTolerance·α). 0 links only the bucket's
// own candidate. A wider tolerance links more percentiles of SDK
// histograms, whose reservoirs keep a few exemplars per collection, to a
// trace whose value is further from the percentile (the exemplar keeps its
// own value). New fails unless 0 ≤ rel < 1.
func ExemplarTolerance(rel float64) Opt {
	return func(c *config) { c.tolerance, c.toleranceSet = rel, true }
}

// DefaultExemplarTolerance is the exemplar tolerance, in multiples of the
// relative accuracy α, without ExemplarTolerance: at α = 1% it reaches the
// middle of an SDK's exponential bucket at scale 3 (±4.4%) and a few
// sketch buckets either side of finer ones.
const DefaultExemplarTolerance = 5

// WithRegisterer registers the aggregator's metrics.
func WithRegisterer(r prometheus.Registerer) Opt { return func(c *config) { c.reg = r } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// Aggregator holds a worker's settings, sketch mapping and metrics, and the
// stage-1 state of its input partitions; NewMerger makes the stage-2 state
// of a weir.partials partition. It is not safe for concurrent use: a worker
// drives its stage 1 from one goroutine (its mergers may be driven from
// another).
type Aggregator struct {
	cfg     config
	mapping *mapping.LogarithmicMapping
	parts   map[int32]*Partition
	// idle keeps the idle clocks of dropped partitions (see DropPartition).
	idle map[int32]idleMark
	m    *metrics
}

// idleMark is what a dropped partition leaves of its idle clock: the offset
// after the last record it read, and when it last took a point. Records
// before read are no new data when read again; a record at or after it is.
type idleMark struct {
	read  int64
	since time.Time
}

// The defaults of the options above.
const (
	DefaultAllowedLateness  = 2 * time.Second
	DefaultIdleTimeout      = 10 * time.Second
	DefaultMaxFuture        = 10 * time.Minute
	DefaultRelativeAccuracy = 0.01
)

// New returns an aggregator. It fails on an invalid relative accuracy or a
// negative duration, naming the option.
func New(opts ...Opt) (*Aggregator, error) {
	cfg := config{
		lateness:     DefaultAllowedLateness,
		idleTimeout:  DefaultIdleTimeout,
		closeTimeout: DefaultCloseTimeout,
		maxFuture:    DefaultMaxFuture,
		accuracy:     DefaultRelativeAccuracy,
		logger:       slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	for name, d := range map[string]time.Duration{
		"allowed lateness": cfg.lateness, "idle timeout": cfg.idleTimeout,
		"close timeout": cfg.closeTimeout, "max future": cfg.maxFuture,
	} {
		if d < 0 {
			return nil, fmt.Errorf("aggregator: %s %v is negative", name, d)
		}
	}
	if !(cfg.accuracy > 0 && cfg.accuracy < 1) {
		return nil, fmt.Errorf("aggregator: relative accuracy %v is not in (0, 1)", cfg.accuracy)
	}
	if !cfg.toleranceSet {
		cfg.tolerance = DefaultExemplarTolerance * cfg.accuracy
	} else if !(cfg.tolerance >= 0 && cfg.tolerance < 1) {
		return nil, fmt.Errorf("aggregator: exemplar tolerance %v is not in [0, 1)", cfg.tolerance)
	}
	m, err := mapping.NewLogarithmicMapping(cfg.accuracy)
	if err != nil {
		return nil, fmt.Errorf("aggregator: relative accuracy %v: %w", cfg.accuracy, err)
	}
	// Partials carry bucket indexes within ±maxSketchIndex (the codec
	// refuses others): about α ≥ 0.0004.
	if hi, lo := m.Index(m.MaxIndexableValue()), m.Index(m.MinIndexableValue()); hi > maxSketchIndex || lo < -maxSketchIndex {
		return nil, fmt.Errorf("aggregator: relative accuracy %v is too fine: its sketch indexes reach %d, beyond ±%d", cfg.accuracy, max(hi, -lo), maxSketchIndex)
	}
	return &Aggregator{cfg: cfg, mapping: m, parts: make(map[int32]*Partition), idle: make(map[int32]idleMark), m: newMetrics(cfg.reg)}, nil
}

// RelativeAccuracy returns the sketches' relative accuracy α.
func (a *Aggregator) RelativeAccuracy() float64 { return a.cfg.accuracy }

// ExemplarTolerance returns the exemplar tolerance in force (see the
// option).
func (a *Aggregator) ExemplarTolerance() float64 { return a.cfg.tolerance }

// Partition returns the stage-1 state of an input partition, creating it
// on first use.
func (a *Aggregator) Partition(id int32, now time.Time) *Partition {
	p := a.parts[id]
	if p == nil {
		p = newPartition(id, a, now)
		if m, ok := a.idle[id]; ok {
			p.read, p.lastData = m.read, m.since
		}
		a.parts[id] = p
	}
	return p
}

// Advance is stage 1 alone: it advances every partition's watermark and hands
// the windows that ended to emit, with the watermark of each partition, for a
// stage 2 elsewhere.
func (a *Aggregator) Advance(now time.Time, emit func(Partial), watermark func(partition int32, wm int64)) {
	for id, p := range a.parts {
		wm := p.Advance(now, emit)
		watermark(id, wm)
		a.m.watermark.WithLabelValues(fmt.Sprint(id)).Set(float64(wm) / 1000)
	}
}

// DropPartition forgets a partition's open windows without handing them on:
// another owner replays them from the committed offset.
//
// The partition's idle clock outlives it: a partition dropped to be
// replayed (an aborted transaction) and created again must not count the
// records it reads again as new data. Were it to, every abort would start
// the idle timeout over, and under aborts more frequent than the timeout the
// windows that only idleness closes (the last ones of an input that went
// quiet) would never close.
func (a *Aggregator) DropPartition(id int32) {
	if p := a.parts[id]; p != nil {
		if read := max(p.next, p.read); read >= 0 {
			a.idle[id] = idleMark{read: read, since: p.lastData}
		}
		a.m.openWindows.Sub(float64(len(p.open)))
		delete(a.parts, id)
		a.m.watermark.DeleteLabelValues(fmt.Sprint(id))
	}
}

// Partitions returns the partitions this aggregator holds state for.
func (a *Aggregator) Partitions() map[int32]*Partition { return a.parts }
