package rules

import (
	"maps"
	"time"
)

// Limit is the ingest rate allowed to one tenant: SamplesPerSecond sustained,
// with up to SamplesPerSecond×Burst samples admitted at once (a token bucket
// of that size). When a tenant is over its limit, outputs of rules with lower
// Priority are shed first.
type Limit struct {
	// SamplesPerSecond is positive; 0 means no limit.
	SamplesPerSecond float64
	// Burst defaults to one second when the file names none.
	Burst time.Duration
	// MaxSeries bounds the tenant's rollup series per window and input
	// partition, across its rules (0: no bound); beyond it, points fold
	// into their rule's overflow series.
	MaxSeries int
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
