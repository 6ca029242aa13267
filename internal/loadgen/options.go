package loadgen

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Opt configures a Generator. Options panic on values that cannot be right
// (a negative rate, a nil clock): they are set by the program, not read from
// outside, so a bad one is a bug to surface at once.
type Opt interface{ apply(*Generator) }

type opt func(*Generator)

func (o opt) apply(g *Generator) { o(g) }

// Defaults of the options.
const (
	DefaultSeed            uint64  = 0x5eed
	DefaultTraceRate       float64 = 200
	DefaultErrorRate       float64 = 0.015
	DefaultMetricsInterval         = time.Second
)

// WithSeed sets the seed of every random choice (default DefaultSeed). Two
// generators with the same seed and the same calls produce the same data.
func WithSeed(seed uint64) Opt { return opt(func(g *Generator) { g.seed = seed }) }

// WithTraceRate sets how many traces per second Run publishes (default 200).
// Zero publishes metrics only. It panics if perSecond is negative, NaN or
// infinite.
func WithTraceRate(perSecond float64) Opt {
	if perSecond < 0 || math.IsNaN(perSecond) || math.IsInf(perSecond, 0) {
		panic(fmt.Sprintf("loadgen: WithTraceRate(%v): the rate must be finite and >= 0", perSecond))
	}
	return opt(func(g *Generator) { g.traceRate = perSecond })
}

// WithErrorRate sets the probability that a trace fails (default 0.015). It
// panics unless 0 <= p <= 1.
func WithErrorRate(p float64) Opt {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("loadgen: WithErrorRate(%v): the probability must be within [0, 1]", p))
	}
	return opt(func(g *Generator) { g.errorRate = p })
}

// WithMetricsInterval sets how often Run publishes a metrics batch (default
// 1s). It panics if d <= 0.
func WithMetricsInterval(d time.Duration) Opt {
	if d <= 0 {
		panic(fmt.Sprintf("loadgen: WithMetricsInterval(%v): the interval must be > 0", d))
	}
	return opt(func(g *Generator) { g.metricsInterval = d })
}

// WithClock sets the clock Run stamps data with (default time.Now). Pacing
// always follows the real clock. It panics if now is nil.
func WithClock(now func() time.Time) Opt {
	if now == nil {
		panic("loadgen: WithClock(nil): a clock is required")
	}
	return opt(func(g *Generator) { g.clock = now })
}

// WithLogger sets the logger of Run (default: discard). nil means discard.
func WithLogger(l *slog.Logger) Opt {
	return opt(func(g *Generator) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		g.log = l
	})
}
