package config

import (
	"fmt"
	"time"

	"github.com/weirdev/weir/rules"
)

// ExemplarWaitWarnings names the rules whose exemplars would link to traces
// the span buffer has already dropped. A window's keep decisions are made
// when it closes, at the earliest its resolution plus the allowed lateness
// after its first span was buffered; the buffer drops a trace nobody decided
// on after the decision wait. A rollup with exemplar outputs (quantiles, max,
// buckets) whose longest policy does not close within the wait gets one
// message, naming where the rule is and the wait that would cover it.
// Mapping rules are not checked: whether their series carry exemplars (SDK
// histograms) is not known from the rule. Nothing is refused: the series are
// still right, only their deep links break.
func ExemplarWaitWarnings(s *rules.Set, decisionWait, lateness time.Duration) []string {
	var out []string
	for _, r := range s.Rules() {
		if !hasExemplars(r) || len(r.Policies) == 0 {
			continue
		}
		// Policies are sorted by resolution: the last is the longest.
		p := r.Policies[len(r.Policies)-1]
		if closes := p.Resolution + lateness; closes >= decisionWait {
			out = append(out, fmt.Sprintf("%s:%d:%d: %s rule %q: its %s windows close at least %v after their first span "+
				"(resolution + allowed lateness), not before tail_sampling.decision_wait (%v) drops the traces their exemplars name: "+
				"set decision_wait above %v (more with late data or idle partitions)",
				r.File, r.Line, r.Col, r.Kind, r.Name, p, closes, decisionWait, closes))
		}
	}
	return out
}

func hasExemplars(r rules.RuleInfo) bool {
	if r.Kind != rules.RollupRule {
		return false
	}
	for _, a := range r.Aggregations {
		if a.Exemplars() {
			return true
		}
	}
	return false
}
