package rules

import (
	"maps"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Limit is the ingest rate allowed to one tenant: SamplesPerSecond sustained,
// counted over Burst (plan's limits say how). When a tenant is over its
// limit, the points of lower priorities are shed first; Pools reserve shares
// of the limit for the series they match.
type Limit struct {
	// SamplesPerSecond is positive; 0 means no limit.
	SamplesPerSecond float64
	// Burst defaults to one second when the file names none.
	Burst time.Duration
	// MaxSeries bounds the tenant's rollup series per window and input
	// partition, across its rules (0: no bound); beyond it, points fold
	// into their rule's overflow series.
	MaxSeries int
	// Pools are the tenant's quota pools, in file order; their shares add
	// up to at most 1.
	Pools []Pool
}

// Pool is a share of a tenant's limit reserved for the series its matchers
// select (the first pool that matches a series holds it). Within its share
// a pool's points are never shed; beyond it they compete for the limit's
// unreserved rest at the pool's Priority, with the tenant's series outside
// every pool at their rules' priorities.
type Pool struct {
	Name     string
	Matchers []*labels.Matcher
	// Share is in (0, 1].
	Share    float64
	Priority int
}

// PoolOf returns the index of the first of l's pools that matches the input
// series lset, or -1 for none.
func (l Limit) PoolOf(lset labels.Labels) int {
	for i, p := range l.Pools {
		if matchAll(p.Matchers, lset) {
			return i
		}
	}
	return -1
}

func matchAll(ms []*labels.Matcher, lset labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

// Unlimited reports whether the limit admits everything.
func (l Limit) Unlimited() bool { return l.SamplesPerSecond <= 0 }

// Limits are the per-tenant limits of a Set.
type Limits struct {
	// Default applies to every tenant not in Tenants; zero means no limit.
	Default Limit
	// Tenants are the limits of the tenants named in the rules files.
	Tenants map[string]Limit
}

// For returns the limit of tenant.
func (l Limits) For(tenant string) Limit {
	if lim, ok := l.Tenants[tenant]; ok {
		return lim
	}
	return l.Default
}

func (l Limits) clone() Limits {
	l.Tenants = maps.Clone(l.Tenants)
	return l
}
