package cardinality

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// zipf returns n values drawn from a skewed distribution, and their true
// counts.
func zipf(seed uint64, n int) ([]string, map[string]uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	z := rand.NewZipf(r, 1.3, 1, 10_000)
	vals := make([]string, n)
	counts := map[string]uint64{}
	for i := range vals {
		vals[i] = fmt.Sprint("v", z.Uint64())
		counts[vals[i]]++
	}
	return vals, counts
}

// checkGuarantees checks Space-Saving's promises against the true counts: a
// kept count is at least the truth and at most the truth plus its error, the
// error is at most N/k, and every value above N/k is kept.
func checkGuarantees(t *testing.T, top *TopK, counts map[string]uint64) {
	t.Helper()
	kept := map[string]TopItem{}
	for _, it := range top.Top() {
		kept[it.Value] = it
		truth := counts[it.Value]
		if it.Count < truth || it.Count-it.Err > truth {
			t.Errorf("%s: count %d err %d, true count %d", it.Value, it.Count, it.Err, truth)
		}
		if it.Err > top.N()/uint64(top.K()) {
			t.Errorf("%s: error %d above N/k = %d", it.Value, it.Err, top.N()/uint64(top.K()))
		}
	}
	for v, c := range counts {
		if _, ok := kept[v]; !ok && c > top.N()/uint64(top.K()) {
			t.Errorf("%s: count %d > N/k = %d, not kept", v, c, top.N()/uint64(top.K()))
		}
	}
}

func TestTopKGuarantees(t *testing.T) {
	vals, counts := zipf(1, 200_000)
	top := NewTopK(16)
	for _, v := range vals {
		top.Add(v, 1)
	}
	if top.N() != 200_000 {
		t.Fatalf("N = %d, want 200000", top.N())
	}
	checkGuarantees(t, top, counts)
	if got := top.Top()[0].Value; got != "v0" {
		t.Errorf("most frequent value %s, want v0", got)
	}
}

func TestTopKMerge(t *testing.T) {
	vals, counts := zipf(2, 300_000)
	parts := []*TopK{NewTopK(16), NewTopK(16), NewTopK(16)}
	for i, v := range vals {
		parts[i%7%3].Add(v, 1)
	}
	merged := NewTopK(16)
	for _, p := range parts {
		merged.Merge(p)
	}
	if merged.N() != uint64(len(vals)) {
		t.Fatalf("merged N = %d, want %d", merged.N(), len(vals))
	}
	checkGuarantees(t, merged, counts)
	// Exact while the values fit in the counters.
	small := NewTopK(4)
	other := NewTopK(4)
	small.Add("a", 3)
	other.Add("a", 2)
	other.Add("b", 1)
	small.Merge(other)
	if got := small.Top(); len(got) != 2 || got[0] != (TopItem{"a", 5, 0}) || got[1] != (TopItem{"b", 1, 0}) {
		t.Errorf("merge of unfull summaries = %+v, want a:5 b:1 exactly", got)
	}
}
