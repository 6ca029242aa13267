package plan

import (
	"cmp"
	"slices"
	"time"
	"unsafe"

	"github.com/weirdev/weir/rules"
	"github.com/weirdev/weir/sample"
)

// reloadState switches the pipeline from one rule set to the next without
// a window that mixes two versions of a rule.
//
// A rule that did not change keeps its fingerprint, so its targets keep their
// keys and its open windows go on. A changed rule has new keys: if points of
// one window went to the old version and later points to the new one, both
// half-windows would be emitted with the same series and timestamp. So the
// set that was in force stays in force for points before the switch boundary
// of their window's resolution, the first window end after the newest event
// time taken when the new set arrived, and the new set takes the points from
// there on. Between the smallest and the largest boundary (one window of the
// largest resolution at most) a point feeds the old targets of the
// resolutions that have not switched yet and the new ones of those that have.
//
// Each version has its own match cache. Late points before the boundaries
// keep being matched against the previous set until the next switch. A set
// that arrives while a switch is under way (the newest event time has not
// passed its largest boundary) waits for it to finish, so that at most two
// versions are in force.
type reloadState struct {
	init      bool
	unmatched []rules.StoragePolicy // where p.applied passes unmatched series

	// seen is set, and maxT is the newest event time, once the aggregator
	// took a point.
	seen bool
	maxT int64

	// prev is the set before p.applied, nil before the first switch that
	// followed a point.
	prev          *rules.Set
	prevUnmatched []rules.StoragePolicy
	prevCache     map[uint64][]*match
	prevCached    int64
	// at is maxT when p.applied took over; bounds are the distinct boundaries
	// of the resolutions either set uses, sorted.
	at     int64
	bounds []int64
	// mixed caches the merged matches of points between the first and the
	// last boundary, told apart by match.phase.
	mixed  map[uint64][]*match
	mixedN int64
	done   bool // maxT has passed the last boundary
}

// boundary is where resolution res switches to the new set.
func (r *reloadState) boundary(res int64) int64 { return (r.at/res + 1) * res }

// taken records the event time of a point the aggregator took.
func (r *reloadState) taken(t int64) {
	if !r.seen || t > r.maxT {
		r.maxT, r.seen = t, true
	}
}

// refreshRules puts a set given to SetRules in force (see reloadState) and
// ends a switch once the newest event time has passed its last boundary.
func (p *Plan) refreshRules() {
	r := &p.reload
	if !r.init {
		r.init = true
		r.unmatched = p.cfg.Unmatched.For(p.applied)
	}
	if r.prev != nil && !r.done && r.maxT >= r.bounds[len(r.bounds)-1] {
		p.endSwitch()
	}
	p.limits.use(p.applied, r.unmatched)
	s := p.rules.Load()
	if s == p.applied || (r.prev != nil && !r.done) {
		return
	}
	p.m.ruleSwaps.Inc()
	unmatched := p.cfg.Unmatched.For(s)
	if !r.seen {
		// Nothing was aggregated yet: no window to keep apart.
		p.applied, r.unmatched = s, unmatched
		clear(p.cache)
		p.cached = 0
		p.cacheGen++
		return
	}
	var res []int64
	for _, set := range []*rules.Set{p.applied, s} {
		for _, pol := range set.Policies() {
			res = append(res, pol.Resolution.Milliseconds())
		}
	}
	for _, pol := range slices.Concat(r.unmatched, unmatched) {
		res = append(res, pol.Resolution.Milliseconds())
	}
	r.prev, r.prevUnmatched = p.applied, r.unmatched
	r.prevCache, r.prevCached = p.cache, p.cached
	p.applied, r.unmatched = s, unmatched
	p.cache, p.cached = make(map[uint64][]*match), 0
	p.cacheGen++
	r.at, r.done = r.maxT, false
	r.bounds = r.bounds[:0]
	for _, ms := range res {
		if ms > 0 {
			r.bounds = append(r.bounds, r.boundary(ms))
		}
	}
	slices.Sort(r.bounds)
	r.bounds = slices.Compact(r.bounds)
	r.mixed, r.mixedN = nil, 0
	if len(r.bounds) == 0 { // neither set writes anything
		r.prev, r.prevCache = nil, nil
		return
	}
	p.log.Info("rules switch", "newest_event_time", time.UnixMilli(r.at).UTC(),
		"first_boundary", time.UnixMilli(r.bounds[0]).UTC(), "last_boundary", time.UnixMilli(r.bounds[len(r.bounds)-1]).UTC())
}

// endSwitch drops the caches of the previous set once in-order points no
// longer need them, and the targets only the previous set used. The previous
// set stays for late points until the next switch.
func (p *Plan) endSwitch() {
	r := &p.reload
	r.done = true
	r.prevCache, r.prevCached = nil, 0
	r.mixed, r.mixedN = nil, 0
	clear(p.targets)
	for _, ms := range p.cache {
		for _, m := range ms {
			for _, t := range m.targets {
				p.targets[t.Key] = t
			}
		}
	}
}

// lookup returns the targets of a point: those of the set in force for its
// event time (see reloadState), matched once per input series and set.
func (p *Plan) lookup(pt *sample.Point) *match {
	r := &p.reload
	current := r.init && (r.prev == nil || pt.T >= r.bounds[len(r.bounds)-1])
	if s := pt.Series; current && s != nil {
		// The producer's record of the labels, instead of hashing them into
		// the cache: what was matched for them before, if still valid.
		if m, ok := s.State.(*match); ok && m.owner == p && m.gen == p.cacheGen && m.kind == pt.Kind && m.tenant == pt.Tenant {
			return m
		}
	}
	lh := pt.Hash
	if lh == 0 {
		lh = pt.Labels.Hash()
	}
	h := lh ^ uint64(pt.Kind)<<56
	if !r.init {
		p.refreshRules()
	}
	if r.prev == nil || pt.T >= r.bounds[len(r.bounds)-1] {
		m := p.matchIn(p.applied, r.unmatched, &p.cache, &p.cached, h, pt)
		if pt.Series != nil {
			m.owner, m.gen = p, p.cacheGen
			pt.Series.State = m
		}
		return m
	}
	if pt.T < r.bounds[0] {
		return p.matchIn(r.prev, r.prevUnmatched, &r.prevCache, &r.prevCached, h, pt)
	}
	phase, _ := slices.BinarySearch(r.bounds, pt.T+1) // bounds at or before pt.T
	for _, m := range r.mixed[h] {
		if m.phase == phase && m.kind == pt.Kind && m.tenant == pt.Tenant && labelsEqual(m, pt) {
			return m
		}
	}
	old := p.matchIn(r.prev, r.prevUnmatched, &r.prevCache, &r.prevCached, h, pt)
	cur := p.matchIn(p.applied, r.unmatched, &p.cache, &p.cached, h, pt)
	m := &match{lset: pt.Labels, tenant: pt.Tenant, kind: pt.Kind, phase: phase, unmatched: old.unmatched, priority: max(old.priority, cur.priority),
		pool: cur.pool, dropOverQuota: cur.dropOverQuota}
	// A target of a rule that did not change is in both; its resolution's
	// boundary picks exactly one of them.
	for _, t := range old.targets {
		if pt.T < r.boundary(t.Resolution) {
			m.targets = append(m.targets, t)
		}
	}
	for _, t := range cur.targets {
		if pt.T >= r.boundary(t.Resolution) {
			m.targets = append(m.targets, t)
		}
	}
	if len(m.targets) == 0 {
		m.drop = cmp.Or(old.drop, cur.drop)
	}
	p.remember(&r.mixed, &r.mixedN, h, m)
	return m
}

// matchIn returns the cached match of pt under set, matching it on a miss.
func (p *Plan) matchIn(set *rules.Set, unmatched []rules.StoragePolicy, cache *map[uint64][]*match, n *int64, h uint64, pt *sample.Point) *match {
	for _, m := range (*cache)[h] {
		if m.kind == pt.Kind && m.tenant == pt.Tenant && labelsEqual(m, pt) {
			return m
		}
	}
	sp := spanScoped(set, pt)
	rm := set.Match(sp.Labels)
	m := &match{lset: pt.Labels, tenant: pt.Tenant, kind: pt.Kind, drop: rm.Drop, unmatched: rm.Drop == "" && len(rm.Outputs) == 0,
		pool: set.Limit(pt.Tenant).PoolOf(sp.Labels), dropOverQuota: rm.DropOverQuota}
	for i, o := range rm.Outputs {
		if i == 0 || o.Priority > m.priority {
			m.priority = o.Priority
		}
	}
	if rm.Drop == "" {
		m.targets = p.targetsFor(rm, unmatched, sp)
	}
	p.remember(cache, n, h, m)
	return m
}

// matchOverhead is what a cached match costs beside its labels and targets:
// the struct, its pointer in the map's slice and its share of the map.
const matchOverhead = int64(unsafe.Sizeof(match{})) + 8 + 64

// matchBytes estimates the memory a cached match holds. Its labels are
// often shared with the converter's label cache, but the match keeps them
// alive after that cache let them go, so they count.
func matchBytes(m *match) int64 {
	return matchOverhead + int64(m.lset.ByteSize()) + 8*int64(cap(m.targets))
}

// remember caches m, emptying the cache first when it would hold more than
// MaxCacheBytes (*n is what it holds). Emptying the targets too bounds their
// memory under series churn: open windows keep the targets they need, and
// equal keys find the same windows.
func (p *Plan) remember(cache *map[uint64][]*match, n *int64, h uint64, m *match) {
	if *cache == nil {
		*cache = make(map[uint64][]*match)
	}
	size := matchBytes(m)
	if *n > 0 && *n+size > p.cfg.MaxCacheBytes {
		clear(*cache)
		*n = 0
		clear(p.targets)
		p.cacheGen++
		p.m.cacheResets.Inc()
	}
	(*cache)[h] = append((*cache)[h], m)
	*n += size
	p.m.cacheBytes.Set(float64(*n))
}
