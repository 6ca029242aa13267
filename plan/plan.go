// Package plan is the rules runtime of one worker: the compiled plan of
// which aggregator targets each input series feeds. It matches a series
// against the rules once and caches the outcome, builds and shares the
// targets of the outputs, switches to a new rule set at window boundaries
// (never mixing two versions of a rule in one window), and sheds the points
// of tenants over their limits, lowest priority first.
package plan

import (
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"

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
	Logger        *slog.Logger
	Reg           prometheus.Registerer
}

// Plan routes points to their targets. Route, Refresh, Taken and the
// limits' methods are called from the worker's goroutine; SetRules from any.
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

// New builds a plan. It returns no error today; the signature leaves room
// for options that can be invalid.
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
	p := &Plan{
		cfg:          cfg,
		log:          cfg.Logger,
		cache:        make(map[uint64][]*match),
		targets:      make(map[uint64]*aggregator.Target),
		seriesLimits: make(map[uint64]*aggregator.SeriesLimit),
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

// Route returns the targets pt, read from in, feeds under the rules in
// force for its event time, or none when a drop rule (one with
// only_over_quota while its quota pool is over), its tenant's limit (see
// tenantLimits: a function of in's records and their event times) or the
// unmatched policy keeps it out; each such point is counted (weir_rules_dropped_points_total,
// weir_limits_shed_points_total, weir_rules_unmatched_points_total). The
// targets are shared and must not be modified. Call Taken for every target
// that took the point.
func (p *Plan) Route(pt *sample.Point, in Input) []*aggregator.Target {
	m := p.lookup(pt)
	if m.drop != "" {
		p.m.dropped.WithLabelValues(m.drop).Inc()
		return nil
	}
	if m.unmatched {
		p.m.unmatched.Inc()
	}
	if len(m.targets) == 0 {
		return nil
	}
	if m.dropOverQuota != "" && p.limits.overQuota(m.tenant, m.pool, pt.T, in) {
		p.m.dropped.WithLabelValues(m.dropOverQuota).Inc()
		return nil
	}
	if !p.limits.admit(m.tenant, m.pool, m.priority, pt.T, in) {
		pool, prio := p.limits.judgedAs(m.tenant, m.pool, m.priority)
		p.m.shed.WithLabelValues(m.tenant, pool, strconv.Itoa(prio)).Inc()
		return nil
	}
	return m.targets
}

// SetInputPartitions says how many partitions the metrics and spans topics
// have (0: one), before the first point: each partition admits its share
// of a tenant's limit, so that the group as a whole enforces it.
func (p *Plan) SetInputPartitions(metrics, spans int32) {
	p.limits.metricsParts, p.limits.spansParts = metrics, spans
}

// AdvanceLimits tells the limits an input partition's watermark: the
// intervals whose points can no longer feed an open window are dropped.
func (p *Plan) AdvanceLimits(spans bool, partition int32, watermark int64) {
	p.limits.advance(spans, partition, watermark)
}

// LimitsHold returns the first offset of an input partition a replay must
// read to rebuild the limits' counts of the points still to come; ok is
// false when there is nothing to hold.
func (p *Plan) LimitsHold(spans bool, partition int32) (offset int64, ok bool) {
	return p.limits.hold(spans, partition)
}

// ForgetLimits drops the limits' counts of an input partition, as its
// windows are dropped: its next reader replays them from the commit.
func (p *Plan) ForgetLimits(spans bool, partition int32) { p.limits.forget(spans, partition) }

// ForgetAllLimits drops the limits' counts of every input partition.
func (p *Plan) ForgetAllLimits() { clear(p.limits.inputs) }

// Taken records that a target took a point of event time t: a rule switch
// ends once the newest event time passed its boundaries.
func (p *Plan) Taken(t int64) { p.reload.taken(t) }

// Refresh puts a set given to SetRules in force (see reloadState) and ends
// a switch once the newest event time has passed its last boundary. The
// worker calls it before each record.
func (p *Plan) Refresh() { p.refreshRules() }

func labelsEqual(m *match, pt *sample.Point) bool { return labels.Equal(m.lset, pt.Labels) }
