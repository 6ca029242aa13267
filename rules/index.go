package rules

import (
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// maxPrefixLens bounds the distinct prefix lengths the index looks up per
// series; rules with other prefix lengths are checked one by one.
const maxPrefixLens = 8

// index finds the rules that may match a series, so that a series is checked
// only against rules that can match its metric name:
//   - __name__="x", or __name__=~"a|b" with a finite set of names: by map
//     lookup of the name;
//   - __name__=~"node_.*" and other regexes with a literal prefix: by map
//     lookup of the name's prefixes, for up to maxPrefixLens prefix lengths;
//   - any other rule is checked against every series.
//
// Every list is in rule order; candidates merges them.
type index struct {
	byName     map[string][]*rule
	byPrefix   map[string][]*rule
	prefixLens []int // ascending
	other      []*rule
}

func newIndex() index {
	return index{byName: make(map[string][]*rule), byPrefix: make(map[string][]*rule)}
}

// add indexes r; rules must be added in rule order.
func (ix *index) add(r *rule) {
	for _, m := range r.matchers {
		if m.Name != model.MetricNameLabel {
			continue
		}
		switch m.Type {
		case labels.MatchEqual:
			ix.byName[m.Value] = append(ix.byName[m.Value], r)
			r.rest = slices.DeleteFunc(r.rest, func(x *labels.Matcher) bool { return x == m })
			return
		case labels.MatchRegexp:
			// The regex stays in rest: the set or prefix only says where to look.
			if set := m.SetMatches(); len(set) > 0 {
				for _, name := range set {
					if l := ix.byName[name]; len(l) == 0 || l[len(l)-1] != r {
						ix.byName[name] = append(l, r)
					}
				}
				return
			}
			if p := m.Prefix(); p != "" && (slices.Contains(ix.prefixLens, len(p)) || len(ix.prefixLens) < maxPrefixLens) {
				if !slices.Contains(ix.prefixLens, len(p)) {
					ix.prefixLens = append(ix.prefixLens, len(p))
					slices.Sort(ix.prefixLens)
				}
				ix.byPrefix[p] = append(ix.byPrefix[p], r)
				return
			}
		}
	}
	ix.other = append(ix.other, r)
}

// candidates are the rule lists that may match one series, walked in rule
// order by next. It lives on the caller's stack: Match does not allocate.
type candidates struct {
	lists [2 + maxPrefixLens][]*rule
	n     int
}

func (ix *index) candidates(name string, c *candidates) {
	c.n = 0
	push := func(l []*rule) {
		if len(l) > 0 {
			c.lists[c.n] = l
			c.n++
		}
	}
	if len(ix.byName) > 0 {
		push(ix.byName[name])
	}
	for _, n := range ix.prefixLens {
		if n > len(name) {
			break
		}
		push(ix.byPrefix[name[:n]])
	}
	push(ix.other)
}

// next pops the candidate earliest in rule order, or returns nil.
func (c *candidates) next() *rule {
	best := -1
	for i := 0; i < c.n; i++ {
		if len(c.lists[i]) > 0 && (best < 0 || c.lists[i][0].seq < c.lists[best][0].seq) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	r := c.lists[best][0]
	c.lists[best] = c.lists[best][1:]
	return r
}

// first returns the first rule in rule order that matches the series.
func (ix *index) first(name string, lset labels.Labels) *rule {
	var c candidates
	ix.candidates(name, &c)
	for r := c.next(); r != nil; r = c.next() {
		if r.matches(name, lset) {
			return r
		}
	}
	return nil
}
