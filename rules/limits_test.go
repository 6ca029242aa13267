package rules

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// Pools and only_over_quota drop rules as the plan sees them: a series'
// pool is the first that matches it under its tenant's limit, and a drop
// rule acting over quota leaves the outputs as if it had not matched.
func TestPoolsAndOverQuotaDrops(t *testing.T) {
	s, err := Parse("p.yaml", []byte(`
rollup:
  - {name: r, match: m, output: m_out, aggregations: [sum], policies: [10s:1d]}
drop:
  - {name: always, match: '{__name__="m", level="trace"}'}
  - {name: when-over, match: '{__name__="m", level="debug"}', only_over_quota: true}
limits:
  default:
    samples_per_second: 10
    pools:
      - {name: a, match: '{team="a"}', share: 0.5, priority: 3}
      - {name: ab, match: '{team=~"a|b"}', share: 0.25}
  tenants:
    solo: {samples_per_second: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tenant, team string
		want         int
	}{
		{"", "a", 0}, {"", "b", 1}, {"", "c", -1}, {"solo", "a", -1},
	} {
		if got := s.Limit(tc.tenant).PoolOf(labels.FromStrings("__name__", "m", "team", tc.team)); got != tc.want {
			t.Errorf("tenant %q, team %q: pool %d, want %d", tc.tenant, tc.team, got, tc.want)
		}
	}
	if p := s.Limit("").Pools[0]; p.Name != "a" || p.Share != 0.5 || p.Priority != 3 {
		t.Errorf("pool a = %+v", p)
	}
	for _, tc := range []struct {
		level, drop, overQuota string
		outputs                int
	}{
		{"debug", "", "when-over", 1},
		{"trace", "always", "", 0},
		{"info", "", "", 1},
	} {
		m := s.Match(labels.FromStrings("__name__", "m", "level", tc.level))
		if m.Drop != tc.drop || m.DropOverQuota != tc.overQuota || len(m.Outputs) != tc.outputs {
			t.Errorf("level %s: Drop %q, DropOverQuota %q, %d outputs; want %q, %q, %d", tc.level, m.Drop, m.DropOverQuota, len(m.Outputs), tc.drop, tc.overQuota, tc.outputs)
		}
	}
}
