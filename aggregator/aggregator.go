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

// CloseTimeout is how long stage 2 waits, after a window's first partial, for
// the watermarks of all partitions before it emits the window anyway and
// counts the timeout (default 1m).
func CloseTimeout(d time.Duration) Opt { return func(c *config) { c.closeTimeout = d } }

// MaxFuture is how far ahead of wall time an event time may be; points beyond
// are dropped and counted (default 10m).
func MaxFuture(d time.Duration) Opt { return func(c *config) { c.maxFuture = d } }

// RelativeAccuracy is the DDSketch relative accuracy α (default 0.01).
func RelativeAccuracy(a float64) Opt { return func(c *config) { c.accuracy = a } }

// WithRegisterer registers the aggregator's metrics.
func WithRegisterer(r prometheus.Registerer) Opt { return func(c *config) { c.reg = r } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// Aggregator owns the stage-1 state of the input partitions of one process
// and the stage-2 merger they feed. It is not safe for concurrent use: the
// pipeline drives it from one goroutine.
type Aggregator struct {
	cfg     config
	mapping *mapping.LogarithmicMapping
	parts   map[int32]*Partition
	merger  *Merger
	m       *metrics
}

// DefaultAllowedLateness is the allowed lateness without AllowedLateness.
const DefaultAllowedLateness = 2 * time.Second

// New returns an aggregator. It fails on an invalid relative accuracy or a
// negative duration, naming the option.
func New(opts ...Opt) (*Aggregator, error) {
	cfg := config{
		lateness:     DefaultAllowedLateness,
		idleTimeout:  10 * time.Second,
		closeTimeout: time.Minute,
		maxFuture:    10 * time.Minute,
		accuracy:     0.01,
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
	m, err := mapping.NewLogarithmicMapping(cfg.accuracy)
	if err != nil {
		return nil, fmt.Errorf("aggregator: relative accuracy %v: %w", cfg.accuracy, err)
	}
	// Partials carry bucket indexes within ±maxSketchIndex (the codec
	// refuses others): about α ≥ 0.0004.
	if hi, lo := m.Index(m.MaxIndexableValue()), m.Index(m.MinIndexableValue()); hi > maxSketchIndex || lo < -maxSketchIndex {
		return nil, fmt.Errorf("aggregator: relative accuracy %v is too fine: its sketch indexes reach %d, beyond ±%d", cfg.accuracy, max(hi, -lo), maxSketchIndex)
	}
	a := &Aggregator{cfg: cfg, mapping: m, parts: make(map[int32]*Partition), m: newMetrics(cfg.reg)}
	a.merger = newMerger(a)
	return a, nil
}

// RelativeAccuracy returns the sketches' relative accuracy α.
func (a *Aggregator) RelativeAccuracy() float64 { return a.cfg.accuracy }

// Partition returns the stage-1 state of an input partition, creating it (and
// making stage 2 wait for its watermark) on first use.
func (a *Aggregator) Partition(id int32, now time.Time) *Partition {
	p := a.parts[id]
	if p == nil {
		p = newPartition(id, a, now)
		a.parts[id] = p
		a.merger.Watermark(id, p.wm)
	}
	return p
}

// RemovePartition hands on all open windows of a partition that this process
// no longer owns and stops waiting for its watermark.
func (a *Aggregator) RemovePartition(id int32, now time.Time) {
	p := a.parts[id]
	if p == nil {
		return
	}
	p.FlushAll(func(pt Partial) { a.merger.Merge(pt, now) })
	delete(a.parts, id)
	a.merger.Forget(id)
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
func (a *Aggregator) DropPartition(id int32) {
	if p := a.parts[id]; p != nil {
		a.m.openWindows.Sub(float64(len(p.open)))
		delete(a.parts, id)
		a.merger.Forget(id)
		a.m.watermark.DeleteLabelValues(fmt.Sprint(id))
	}
}

// Partitions returns the partitions this aggregator holds state for.
func (a *Aggregator) Partitions() map[int32]*Partition { return a.parts }

// Tick advances every partition's watermark, merges the windows they hand on
// and emits the windows that closed.
func (a *Aggregator) Tick(now time.Time, emit func(Series)) {
	for id, p := range a.parts {
		wm := p.Advance(now, func(pt Partial) { a.merger.Merge(pt, now) })
		a.merger.Watermark(id, wm)
		a.m.watermark.WithLabelValues(fmt.Sprint(id)).Set(float64(wm) / 1000)
	}
	a.merger.Close(now, emit)
}

// Flush hands on and emits every open window regardless of watermarks, for a
// clean shutdown.
func (a *Aggregator) Flush(now time.Time, emit func(Series)) {
	for _, p := range a.parts {
		p.FlushAll(func(pt Partial) { a.merger.Merge(pt, now) })
	}
	a.merger.CloseAll(emit)
}
