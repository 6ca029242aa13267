package plan

import (
	"slices"
	"time"

	"github.com/weirdev/weir/rules"
)

// tenantLimits enforces the rules' per-tenant limits with one token bucket
// per tenant. When a tenant runs short of tokens, points of lower-priority
// rules are refused first: a point of priority rank r (0 = lowest of the R
// priorities the rules use) is admitted only while the bucket holds more than
// (R-1-r)/R of its capacity, so the highest priority can drain the bucket and
// the lowest stops at the top slice. Never a random drop.
//
// Admission follows wall time, not event time: under a limit, what a replay
// after a crash sheds can differ from the first run (limits are about cost,
// not about the output's exactness).
type tenantLimits struct {
	// share is the part of each limit this pipeline enforces (see
	// Config.LimitShare); 0 means all of it.
	share   float64
	set     *rules.Set
	limits  rules.Limits
	prios   []int
	buckets map[string]*bucket
}

type bucket struct {
	rate, capacity, tokens float64
	last                   time.Time
}

// admit takes one token for a point of the given tenant and priority.
func (l *tenantLimits) admit(tenant string, priority int, now time.Time) bool {
	lim := l.limits.For(tenant)
	if lim.Unlimited() {
		return true
	}
	b := l.buckets[tenant]
	if b == nil {
		burst := lim.Burst
		if burst <= 0 {
			burst = time.Second
		}
		rate := lim.SamplesPerSecond
		if l.share > 0 {
			rate *= l.share
		}
		capacity := rate * burst.Seconds()
		b = &bucket{rate: rate, capacity: capacity, tokens: capacity, last: now}
		l.buckets[tenant] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.capacity, b.tokens+dt*b.rate)
		b.last = now
	}
	r, _ := slices.BinarySearch(l.prios, priority)
	n := len(l.prios)
	reserve := b.capacity * float64(n-1-r) / float64(n)
	if b.tokens-1 < reserve {
		return false
	}
	b.tokens--
	return true
}

// use takes the limits of a rule set; buckets of tenants keep their tokens.
func (l *tenantLimits) use(s *rules.Set) {
	if s == l.set {
		return
	}
	l.set, l.limits = s, s.Limits()
	l.prios = []int{0}
	for _, r := range s.Rules() {
		l.prios = append(l.prios, r.Priority)
	}
	slices.Sort(l.prios)
	l.prios = slices.Compact(l.prios)
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
}
