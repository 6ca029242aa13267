package plan

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/weirdev/weir/sample"
)

const reloadV1 = `
rollup:
  - name: r
    match: m
    output: out
    aggregations: [sum]
    policies: [10s:1d, 30s:1d]
`

var base = time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()

// TestSeriesStateFollowsTheMatchCache checks the match lookup leaves in a
// point's sample.Series: it stands for the cache entry, so it goes when the
// entry goes (a full cache emptied, a rule switch).
func TestSeriesStateFollowsTheMatchCache(t *testing.T) {
	p, err := New(Config{Rules: mustRules(t, reloadV1), MaxCacheBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	point := func(x string) *sample.Point {
		return &sample.Point{Labels: labels.FromStrings("__name__", "m", "x", x), Kind: sample.Gauge, T: base, Series: &sample.Series{}}
	}
	a, b := point("a"), point("b")
	ma := p.lookup(a)
	if a.Series.State != ma {
		t.Fatalf("lookup left %v in the series, want its match", a.Series.State)
	}
	if got := p.lookup(a); got != ma {
		t.Errorf("second lookup of a series found another match")
	}
	p.lookup(b) // The cache is full: emptied first.
	if got := p.lookup(a); got == ma {
		t.Errorf("a series found the match the emptied cache dropped")
	}
	if _, ok := p.cache[a.Labels.Hash()^uint64(a.Kind)<<56]; !ok {
		t.Errorf("a series' match is not in the cache after the lookup")
	}
}
