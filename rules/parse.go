package rules

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/weirdev/weir/aggregator"
)

// fileDef is what one rules file declares, decoded and checked on its own.
// Checks that span files (duplicate names, colliding outputs, forbidden
// dimensions) run in compile.
type fileDef struct {
	name   string
	rules  []*rule
	spans  spansDef
	limits limitsDef
}

type spansDef struct {
	dims      []strNode
	services  []serviceDef
	forbidden []strNode
}

type serviceDef struct {
	name strNode
	dims []strNode
}

type limitsDef struct {
	def     *limitDef
	tenants []limitDef
}

type limitDef struct {
	name  string
	pos   position
	limit Limit
}

var topFields = []string{"drop", "rollup", "mapping", "spans", "limits"}

var ruleFields = [...][]string{
	DropRule:    {"name", "match", "only_over_quota"},
	RollupRule:  {"name", "match", "output", "by", "without", "aggregations", "buckets", "policies", "keep_original", "keep_metric_names", "priority", "max_series"},
	MappingRule: {"name", "match", "policies", "priority"},
}

// decodeFile decodes one file. Problems are left in d.errs; the rules that
// decoded cleanly are returned either way so that cross-file checks can still
// report on them.
func decodeFile(d *decoder, data []byte) *fileDef {
	f := &fileDef{name: d.file}
	doc := d.document(data)
	if doc == nil {
		return f
	}
	top, ok := d.fields(doc, "rules file", topFields...)
	if !ok {
		return f
	}
	// Sections in the order the file has them, so rules keep file order.
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key := resolve(doc.Content[i])
		fl, known := top[key.Value]
		if !known || fl.key != key {
			continue
		}
		switch key.Value {
		case "drop":
			f.rules = append(f.rules, d.ruleList(fl.val, DropRule)...)
		case "rollup":
			f.rules = append(f.rules, d.ruleList(fl.val, RollupRule)...)
		case "mapping":
			f.rules = append(f.rules, d.ruleList(fl.val, MappingRule)...)
		case "spans":
			f.spans = d.spans(fl.val)
		case "limits":
			f.limits = d.limits(fl.val)
		}
	}
	return f
}

func (d *decoder) ruleList(n *yaml.Node, kind RuleKind) []*rule {
	items, ok := d.seq(n, kind.String()+" rules")
	if !ok {
		return nil
	}
	var out []*rule
	for i, it := range items {
		if r := d.rule(it, kind, i); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// rule decodes one rule, reporting what is wrong with it. It returns nil only
// when the node is not a rule at all.
func (d *decoder) rule(n *yaml.Node, kind RuleKind, idx int) *rule {
	what := fmt.Sprintf("%s rule #%d", kind, idx+1)
	// Name the rule in messages as soon as its name is known.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := resolve(n.Content[i]), resolve(n.Content[i+1]); k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
				what = fmt.Sprintf("%s rule %q", kind, v.Value)
				break
			}
		}
	}
	fs, ok := d.fields(n, what, ruleFields[kind]...)
	if !ok {
		return nil
	}
	if isNull(n) {
		d.errorf(n, "%s is empty", what)
		return nil
	}
	r := &rule{kind: kind, pos: d.at(n)}

	required := []string{"name", "match"}
	keepNames := false
	if f, ok := fs["keep_metric_names"]; ok {
		keepNames, _ = d.boolean(f.val, what+": keep_metric_names")
	}
	switch kind {
	case RollupRule:
		if !keepNames {
			required = append(required, "output")
		}
		required = append(required, "aggregations", "policies")
	case MappingRule:
		required = append(required, "policies")
	}
	for _, f := range required {
		if _, ok := fs[f]; !ok {
			d.errorf(n, "%s: missing required field %q", what, f)
		}
	}

	if f, ok := fs["name"]; ok {
		r.name, _ = d.str(f.val, what+": name")
		r.namePos = d.at(f.val)
	}
	if f, ok := fs["match"]; ok {
		r.selector, r.matchers = d.selector(f.val, what)
	}
	if f, ok := fs["only_over_quota"]; ok {
		r.onlyOverQuota, _ = d.boolean(f.val, what+": only_over_quota")
	}
	if f, ok := fs["output"]; ok {
		if s, ok := d.str(f.val, what+": output"); ok {
			if !model.LegacyValidation.IsValidMetricName(s) {
				d.errorf(f.val, "%s: output %q is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", what, s)
			}
			r.output = s
			r.outputPos = d.at(f.val)
		}
	}
	by, hasBy := fs["by"]
	without, hasWithout := fs["without"]
	switch {
	case hasBy && hasWithout:
		later := without
		if by.key.Line > without.key.Line || (by.key.Line == without.key.Line && by.key.Column > without.key.Column) {
			later = by
		}
		d.errorf(later.key, "%s: use either by or without, not both", what)
	case hasBy:
		r.grouping.Labels = d.labelNames(by.val, what+": by")
	case hasWithout:
		r.grouping.Without = true
		r.grouping.Labels = d.labelNames(without.val, what+": without")
	}
	if f, ok := fs["aggregations"]; ok {
		r.aggs = d.aggregations(f.val, what+": aggregations")
	}
	if f, ok := fs["buckets"]; ok {
		r.buckets = d.buckets(f.val, what+": buckets")
		if !slices.ContainsFunc(r.aggs, func(a aggregator.Aggregation) bool {
			return a.Agg == aggregator.Buckets || a.Agg == aggregator.Histogram
		}) {
			d.errorf(f.key, "%s: buckets without a buckets or histogram aggregation to count in them", what)
		}
	}
	if f, ok := fs["policies"]; ok {
		r.policies = d.policies(f.val, what+": policies")
	}
	if f, ok := fs["keep_original"]; ok {
		r.keepOriginal, _ = d.boolean(f.val, what+": keep_original")
	}
	if keepNames {
		r.keepMetricNames = true
		f := fs["keep_metric_names"]
		if o, ok := fs["output"]; ok {
			d.errorf(o.key, "%s: output together with keep_metric_names: the outputs keep their input's name; leave output out", what)
		}
		if len(r.aggs) != 1 {
			d.errorf(f.key, "%s: keep_metric_names wants exactly one aggregation (their series would share the input's name), got %d", what, len(r.aggs))
		}
	}
	if f, ok := fs["priority"]; ok {
		r.priority, _ = d.integer(f.val, what+": priority")
	}
	if f, ok := fs["max_series"]; ok {
		if n, ok := d.integer(f.val, what+": max_series"); ok && n < 1 {
			d.errorf(f.val, "%s: max_series %d: want at least 1 (leave it out for no limit)", what, n)
		} else {
			r.maxSeries = n
		}
	}
	// A rule with problems is still returned, so that duplicate names and
	// colliding outputs are reported beside its own problems; the Set is
	// refused anyway.
	r.finish()
	return r
}

// selector decodes a match field: a PromQL series selector that does not
// match every series. The matchers are nil when it is refused.
func (d *decoder) selector(n *yaml.Node, what string) (string, []*labels.Matcher) {
	s, ok := d.str(n, what+": match")
	if !ok {
		return "", nil
	}
	ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(s)
	switch {
	case err != nil:
		d.errorf(n, "%s: bad matcher %q: %v", what, s, err)
	case matchesEmpty(ms):
		// PromQL refuses such a selector in a query; here it would
		// drop or roll up every series of every tenant.
		d.errorf(n, "%s: bad matcher %q: it matches every series: add a matcher that does not match the empty string, such as a metric name", what, s)
	default:
		return s, ms
	}
	return s, nil
}

// labelNames decodes a by or without list: distinct label names, sorted.
func (d *decoder) labelNames(n *yaml.Node, what string) []string {
	l, _ := d.strs(n, what)
	out := make([]string, 0, len(l))
	for _, s := range l {
		if s.s == model.MetricNameLabel {
			d.errorf(s.node, "%s: %s is set to the output name; leave it out", what, model.MetricNameLabel)
			continue
		}
		out = append(out, s.s)
	}
	return out
}

func (d *decoder) aggregations(n *yaml.Node, what string) []aggregator.Aggregation {
	items, ok := d.seq(n, what)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(n, "%s: list at least one aggregation", what)
		return nil
	}
	out := make([]aggregator.Aggregation, 0, len(items))
	first := make(map[aggregator.Aggregation]*yaml.Node, len(items))
	for _, it := range items {
		s, ok := d.str(it, what+" entry")
		if !ok {
			continue
		}
		a, err := aggregator.ParseAggregation(s)
		if err != nil {
			d.errorf(it, "%s: %v", what, err)
			continue
		}
		if prev, dup := first[a]; dup {
			d.errorf(it, "%s: %s listed twice (first at %s)", what, a, d.at(prev))
			continue
		}
		first[a] = it
		out = append(out, a)
	}
	return out
}

// buckets decodes a rollup's explicit bucket bounds: finite numbers,
// strictly ascending.
func (d *decoder) buckets(n *yaml.Node, what string) []float64 {
	items, ok := d.seq(n, what)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(n, "%s: list at least one upper bound", what)
		return nil
	}
	out := make([]float64, 0, len(items))
	for _, it := range items {
		v, ok := d.number(it, what+" entry")
		switch {
		case !ok:
		case math.IsInf(v, 0) || math.IsNaN(v):
			d.errorf(it, "%s: %v is not a finite bound (+Inf is always the last bucket)", what, v)
		case len(out) > 0 && v <= out[len(out)-1]:
			d.errorf(it, "%s: %v is not above the bound before it, %v: list the bounds in ascending order", what, v, out[len(out)-1])
		default:
			out = append(out, v)
		}
	}
	return out
}

func (d *decoder) policies(n *yaml.Node, what string) []StoragePolicy {
	items, ok := d.seq(n, what)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(n, "%s: list at least one storage policy", what)
		return nil
	}
	out := make([]StoragePolicy, 0, len(items))
	first := make(map[time.Duration]*yaml.Node, len(items))
	for _, it := range items {
		s, ok := d.str(it, what+" entry")
		if !ok {
			continue
		}
		p, err := ParseStoragePolicy(s)
		if err != nil {
			d.errorf(it, "%s: %v", what, err)
			continue
		}
		if prev, dup := first[p.Resolution]; dup {
			d.errorf(it, "%s: resolution %s listed twice (first at %s)", what, formatDuration(p.Resolution), d.at(prev))
			continue
		}
		first[p.Resolution] = it
		out = append(out, p)
	}
	return out
}

func (d *decoder) spans(n *yaml.Node) spansDef {
	var s spansDef
	fs, ok := d.fields(n, "spans", "dimensions", "services", "forbidden")
	if !ok {
		return s
	}
	if f, ok := fs["dimensions"]; ok {
		s.dims, _ = d.strs(f.val, "spans: dimensions")
	}
	if f, ok := fs["forbidden"]; ok {
		s.forbidden, _ = d.strs(f.val, "spans: forbidden")
	}
	if f, ok := fs["services"]; ok {
		for _, e := range d.entries(f.val, "spans: services") {
			what := fmt.Sprintf("spans: service %q", e.key.Value)
			sf, ok := d.fields(e.val, what, "dimensions")
			if !ok {
				continue
			}
			svc := serviceDef{name: strNode{e.key.Value, e.key}}
			if df, ok := sf["dimensions"]; ok {
				svc.dims, _ = d.strs(df.val, what+": dimensions")
			}
			s.services = append(s.services, svc)
		}
	}
	return s
}

func (d *decoder) limits(n *yaml.Node) limitsDef {
	var l limitsDef
	fs, ok := d.fields(n, "limits", "default", "tenants")
	if !ok {
		return l
	}
	if f, ok := fs["default"]; ok {
		if lim, ok := d.limit(f.val, "limits: default"); ok {
			l.def = &limitDef{pos: d.at(f.key), limit: lim}
		}
	}
	if f, ok := fs["tenants"]; ok {
		for _, e := range d.entries(f.val, "limits: tenants") {
			if lim, ok := d.limit(e.val, fmt.Sprintf("limits: tenant %q", e.key.Value)); ok {
				l.tenants = append(l.tenants, limitDef{name: e.key.Value, pos: d.at(e.key), limit: lim})
			}
		}
	}
	return l
}

// defaultBurst is the burst window of a limit that names none.
const defaultBurst = time.Second

func (d *decoder) limit(n *yaml.Node, what string) (Limit, bool) {
	fs, ok := d.fields(n, what, "samples_per_second", "burst", "max_series", "pools")
	if !ok {
		return Limit{}, false
	}
	lim := Limit{Burst: defaultBurst}
	if f, ok := fs["pools"]; ok {
		if _, rate := fs["samples_per_second"]; !rate {
			d.errorf(f.key, "%s: pools without samples_per_second: a pool is a share of it", what)
			return Limit{}, false
		}
		if lim.Pools, ok = d.pools(f.val, what); !ok {
			return Limit{}, false
		}
	}
	if f, ok := fs["max_series"]; ok {
		if lim.MaxSeries, ok = d.integer(f.val, what+": max_series"); !ok {
			return Limit{}, false
		}
		if lim.MaxSeries < 1 {
			d.errorf(f.val, "%s: max_series %d: want at least 1 (leave it out for no limit)", what, lim.MaxSeries)
			return Limit{}, false
		}
	}
	f, ok := fs["samples_per_second"]
	switch {
	case !ok && lim.MaxSeries == 0:
		d.errorf(n, "%s: missing required field %q (or max_series)", what, "samples_per_second")
		return Limit{}, false
	case !ok:
		return lim, true
	}
	if lim.SamplesPerSecond, ok = d.number(f.val, what+": samples_per_second"); !ok {
		return Limit{}, false
	}
	if lim.SamplesPerSecond <= 0 {
		d.errorf(f.val, "%s: samples_per_second must be positive (leave the limit out for no limit)", what)
		return Limit{}, false
	}
	if f, ok := fs["burst"]; ok {
		s, ok := d.str(f.val, what+": burst")
		if !ok {
			return Limit{}, false
		}
		b, err := model.ParseDuration(s)
		if err != nil {
			d.errorf(f.val, "%s: bad burst: %v", what, err)
			return Limit{}, false
		}
		if b <= 0 {
			d.errorf(f.val, "%s: burst must be positive", what)
			return Limit{}, false
		}
		lim.Burst = time.Duration(b)
	}
	return lim, true
}

// pools decodes a limit's quota pools: named once each, shares adding up
// to at most 1.
func (d *decoder) pools(n *yaml.Node, what string) ([]Pool, bool) {
	items, ok := d.seq(n, what+": pools")
	if !ok {
		return nil, false
	}
	var out []Pool
	first := map[string]*yaml.Node{}
	total := 0.0
	good := true
	for i, it := range items {
		pw := fmt.Sprintf("%s: pool #%d", what, i+1)
		fs, ok := d.fields(it, pw, "name", "match", "share", "priority")
		if !ok {
			good = false
			continue
		}
		var p Pool
		if f, ok := fs["name"]; ok {
			if p.Name, ok = d.str(f.val, pw+": name"); ok {
				if prev, dup := first[p.Name]; dup {
					d.errorf(f.val, "%s: pool %q named twice (first at %s)", what, p.Name, d.at(prev))
					good = false
				} else {
					first[p.Name] = f.val
				}
				pw = fmt.Sprintf("%s: pool %q", what, p.Name)
			}
		}
		for _, req := range []string{"name", "match", "share"} {
			if _, ok := fs[req]; !ok {
				d.errorf(it, "%s: missing required field %q", pw, req)
				good = false
			}
		}
		if f, ok := fs["match"]; ok {
			if _, p.Matchers = d.selector(f.val, pw); p.Matchers == nil {
				good = false
			}
		}
		if f, ok := fs["share"]; ok {
			p.Share, ok = d.number(f.val, pw+": share")
			switch {
			case !ok:
				good = false
			case !(p.Share > 0 && p.Share <= 1):
				d.errorf(f.val, "%s: share %v: want a fraction of the limit in (0, 1]", pw, p.Share)
				good = false
			case total+p.Share > 1+1e-9:
				d.errorf(f.val, "%s: share %v brings the pools' shares to %.4g: they may add up to 1 at most", pw, p.Share, total+p.Share)
				good = false
			default:
				total += p.Share
			}
		}
		if f, ok := fs["priority"]; ok {
			if p.Priority, ok = d.integer(f.val, pw+": priority"); !ok {
				good = false
			}
		}
		out = append(out, p)
	}
	return out, good
}

// matchesEmpty reports whether every matcher matches the empty string, so
// that the selector matches every series.
func matchesEmpty(ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches("") {
			return false
		}
	}
	return true
}

// canonicalSelector prints matchers in a fixed order, so that two spellings
// of the same selector fingerprint alike.
func canonicalSelector(ms []*labels.Matcher) string {
	ss := make([]string, len(ms))
	for i, m := range ms {
		ss[i] = m.String()
	}
	sortStrings(ss)
	return "{" + strings.Join(ss, ", ") + "}"
}
