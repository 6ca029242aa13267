package testenv

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// CompareOutput fails t unless got holds exactly the samples of want, each
// with the same value (keys and values are the tests' own renderings of a
// series at a timestamp and of its value with its exemplar), and no sample
// was written twice with different values (conflicts). It names the first
// few missing, differing and extra samples, and how many of each metric.
func CompareOutput(t testing.TB, want, got map[string]string, conflicts []string) {
	t.Helper()
	if len(conflicts) > 0 {
		t.Errorf("%d samples written twice with different values, e.g. %s", len(conflicts), conflicts[0])
	}
	var missing, differ, extra []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case g != v:
			differ = append(differ, fmt.Sprintf("%s: got %s want %s", k, g, v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(differ)
	sort.Strings(extra)
	if len(missing)+len(differ)+len(extra) > 0 {
		t.Fatalf("output differs from the reference (%d samples): %d missing %v %v; %d differ %v %v; %d extra %v %v",
			len(want), len(missing), byMetric(missing), firstFew(missing), len(differ), byMetric(differ), firstFew(differ),
			len(extra), byMetric(extra), firstFew(extra))
	}
	t.Logf("output equals the reference: %d samples, exemplars included", len(want))
}

func firstFew(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

// byMetric counts keys by the metric name they render (the value of their
// __name__ label).
func byMetric(keys []string) map[string]int {
	n := map[string]int{}
	for _, k := range keys {
		name := "?"
		if _, after, ok := strings.Cut(k, "__name__ "); ok {
			name, _, _ = strings.Cut(after, " ")
		}
		n[name]++
	}
	return n
}
