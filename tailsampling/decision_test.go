package tailsampling

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirdev/weir/sample"
)

func TestReasonString(t *testing.T) {
	cases := []struct {
		r    Reason
		want string
	}{
		{KeepExemplar, "exemplar"},
		{KeepError, "error"},
		{KeepLatency, "latency"},
		{KeepBaseline, "baseline"},
		{KeepBaseline + 1, "unknown"},
		{255, "unknown"},
	}
	for _, tc := range cases {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("Reason(%d).String() = %q, want %q", uint8(tc.r), got, tc.want)
		}
	}
}

func TestDecisionCache(t *testing.T) {
	id := func(n int) sample.TraceID { return sample.TraceID{0: byte(n), 1: byte(n >> 8)} }
	cases := []struct {
		name    string
		size    int
		puts    []int // trace numbers, in order; even ones keep
		present []int
		absent  []int
	}{
		{"below size", 4, []int{1, 2, 3}, []int{1, 2, 3}, []int{4}},
		{"exactly full", 3, []int{1, 2, 3}, []int{1, 2, 3}, nil},
		{"FIFO eviction", 3, []int{1, 2, 3, 4, 5}, []int{3, 4, 5}, []int{1, 2}},
		{"wraps many times", 3, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []int{8, 9, 10}, []int{1, 5, 7}},
		{"re-put keeps its age", 3, []int{1, 2, 1, 3, 4}, []int{2, 3, 4}, []int{1}},
		{"size one", 1, []int{1, 2}, []int{2}, []int{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newDecisionCache(tc.size)
			for i, n := range tc.puts {
				c.put(cachedDecision{id: id(n), at: int64(i), keep: n%2 == 0, reason: KeepError})
				if c.len() > tc.size || len(c.idx) != c.len() {
					t.Fatalf("after %d puts: %d entries, %d indexed, bound %d", i+1, c.len(), len(c.idx), tc.size)
				}
			}
			for _, n := range tc.present {
				d, ok := c.get(id(n))
				if !ok || d.id != id(n) || d.keep != (n%2 == 0) {
					t.Errorf("get(%d) = %+v, %v; want its decision", n, d, ok)
				}
			}
			for _, n := range tc.absent {
				if d, ok := c.get(id(n)); ok {
					t.Errorf("get(%d) = %+v, want absent", n, d)
				}
			}
		})
	}
}

// TestBufferDecisionCacheBounded checks that the buffer remembers at most
// DecisionCacheSize decisions, and what forgetting one means: spans of a
// forgotten kept trace are buffered as a new trace rather than sent on.
func TestBufferDecisionCacheBounded(t *testing.T) {
	const size = 100
	var kept []Kept
	reg := prometheus.NewRegistry()
	b := NewBuffer(DecisionCacheSize(size), BaselineRate(0), WithRegisterer(reg),
		OnKeep(func(k Kept) { kept = append(kept, k) }))
	id := func(n int) sample.TraceID { return sample.TraceID{0: byte(n), 1: byte(n >> 8), 2: 1} }
	for n := range 3 * size {
		b.Keep(id(n), KeepExemplar, sbT0)
		if d := b.Stats().Decisions; d > size {
			t.Fatalf("after %d decisions the cache holds %d, above %d", n+1, d, size)
		}
	}
	if d := b.Stats().Decisions; d != size {
		t.Fatalf("cache holds %d decisions, want %d", d, size)
	}
	b.Add(id(0), 0, -1, "otlp_proto", []byte("forgotten"), 1, false, 0, sbT0)
	b.Add(id(3*size-1), 0, -1, "otlp_proto", []byte("remembered"), 1, false, 0, sbT0)
	if len(kept) != 1 || string(kept[0].Chunks[0]) != "remembered" {
		t.Fatalf("kept %v, want only the remembered trace's chunk", kept)
	}
	if st := b.Stats(); st.Traces != 1 {
		t.Fatalf("stats %+v, want the forgotten trace buffered", st)
	}
	for result, want := range map[string]float64{"hit": 1, "miss": 3*size + 1} {
		if got := sbMetric(t, reg, "weir_tailsampling_decision_cache_total", "result="+result); got != want {
			t.Errorf("decision cache %s = %v, want %v", result, got, want)
		}
	}
}
