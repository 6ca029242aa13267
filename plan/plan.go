// Package plan is the rules runtime of one worker: the compiled plan of
// which aggregator targets each input series feeds. It matches a series
// against the rules once and caches the outcome, builds and shares the
// targets of the outputs, switches to a new rule set at window boundaries
// (never mixing two versions of a rule in one window), and sheds the points
// of tenants over their limits, lowest priority first.
package plan

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// DefaultMaxCacheBytes bounds the match cache without Config.MaxCacheBytes:
// about 300,000 input series of a dozen labels.
const DefaultMaxCacheBytes = 64 << 20

// Config configures a Plan.
type Config struct {
	Rules *rules.Set // nil: rules.Default()
	// Unmatched says what happens to series no rule matches.
	Unmatched Unmatched
	// MaxCacheBytes bounds the memory of the per-input-series match cache
	// (default DefaultMaxCacheBytes): a cache that would grow beyond it is
	// emptied, and its series are matched again as they come.
	MaxCacheBytes int64
	// LimitShare is the share of the rules' per-tenant limits this plan
	// enforces, in (0, 1] (0 means 1): a process running n workers over
	// one input, each with its own partitions, gives each 1/n.
	LimitShare float64
	Logger     *slog.Logger
	Reg        prometheus.Registerer
}

// Plan routes points to their targets. Route, Refresh and Taken are called
// from the worker's goroutine; SetRules from any.
type Plan struct {
	cfg     Config
	log     *slog.Logger
	rules   atomic.Pointer[rules.Set]
	applied *rules.Set

	cache  map[uint64][]*match
	cached int64 // bytes held by cache
	// cacheGen counts the times a match cache was emptied or replaced: a
	// match left in a sample.Series under an older generation is stale.
	cacheGen     uint64
	targets      map[uint64]*aggregator.Target
	seriesLimits map[uint64]*aggregator.SeriesLimit // by overflow target key
	reload       reloadState
	limits       tenantLimits
	m            *metrics
}

// New builds a plan. It fails for a limit share outside (0, 1].
func New(cfg Config) (*Plan, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rules == nil {
		cfg.Rules = rules.Default()
	}
	if cfg.MaxCacheBytes <= 0 {
		cfg.MaxCacheBytes = DefaultMaxCacheBytes
	}
	if cfg.LimitShare == 0 {
		cfg.LimitShare = 1
	}
	if !(cfg.LimitShare > 0 && cfg.LimitShare <= 1) {
		return nil, fmt.Errorf("plan: limit share %v is not in (0, 1]", cfg.LimitShare)
	}
	p := &Plan{
		cfg:          cfg,
		log:          cfg.Logger,
		cache:        make(map[uint64][]*match),
		targets:      make(map[uint64]*aggregator.Target),
		seriesLimits: make(map[uint64]*aggregator.SeriesLimit),
		limits:       tenantLimits{share: cfg.LimitShare},
		m:            newMetrics(cfg.Reg),
	}
	p.rules.Store(cfg.Rules)
	p.applied = cfg.Rules
	return p, nil
}

// SetRules puts s in force from the next Refresh on. Windows of rules that
// did not change keep their state. A changed or new rule starts at the next
// window boundary of each of its resolutions after the newest event time
// seen: points before it, late ones included, are still matched against the
// previous set, so that no window mixes two versions of a rule. A set given
// while such a switch is under way waits until it is over. Swaps are counted
// in weir_pipeline_rule_swaps_total.
func (p *Plan) SetRules(s *rules.Set) { p.rules.Store(s) }

// Rules returns the set in force for new points.
func (p *Plan) Rules() *rules.Set { return p.applied }

// ErrDropped is no error of the input: Route's verdict for a point that a
// rule, a limit or the unmatched policy keeps out of every window.
var ErrDropped = errors.New("plan: point dropped")

// Route returns the targets pt feeds under the rules in force for its event
// time, or none when a drop rule, a tenant limit at now or the unmatched
// policy keeps it out; each such point is counted (weir_rules_dropped_points_total,
// weir_limits_shed_points_total, weir_rules_unmatched_points_total). The
// targets are shared and must not be modified. Call Taken for every target
// that took the point.
func (p *Plan) Route(pt *sample.Point, now time.Time) []*aggregator.Target {
	m := p.lookup(pt)
	if m.drop != "" {
		p.m.dropped.WithLabelValues(m.drop).Inc()
		return nil
	}
	if m.unmatched {
		p.m.unmatched.Inc()
	}
	if len(m.targets) > 0 && !p.limits.admit(m.tenant, m.priority, now) {
		p.m.shed.WithLabelValues(m.tenant, strconv.Itoa(m.priority)).Inc()
		return nil
	}
	return m.targets
}

// Taken records that a target took a point of event time t: a rule switch
// ends once the newest event time passed its boundaries.
func (p *Plan) Taken(t int64) { p.reload.taken(t) }

// Refresh puts a set given to SetRules in force (see reloadState) and ends
// a switch once the newest event time has passed its last boundary. The
// worker calls it before each record.
func (p *Plan) Refresh() { p.refreshRules() }

func labelsEqual(m *match, pt *sample.Point) bool { return labels.Equal(m.lset, pt.Labels) }
