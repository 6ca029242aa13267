package rules

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/weirdev/weir/aggregator"
)

// Set is a compiled set of rules: every drop, rollup and mapping rule of the
// files loaded together, the span dimensions and the tenant limits. A Set is
// immutable and safe for concurrent use; a reload builds a new one.
type Set struct {
	rules []*rule
	drops index
	// quotaDrops are the drop rules that act only over quota.
	quotaDrops index
	xforms     index // rollup and mapping rules

	spanDims []string
	services map[string][]string // global dimensions first, then the service's own
	limits   Limits
	policies []StoragePolicy
}

// Parse compiles one rules file. filename is used in error messages only. An
// empty file (or one holding only comments) is a valid empty set. On failure
// the error is Errors, listing every problem found with its position.
func Parse(filename string, data []byte) (*Set, error) {
	return compile([]source{{filename, data}}, nil)
}

// Load reads and compiles rules files together, as one set: duplicate rule
// names and colliding outputs are errors across files too. Each path is a file
// or a directory; a directory contributes its *.yaml and *.yml files (not
// recursively, not hidden ones, sorted by name). No path at all is an empty
// set. On failure the error is Errors, listing every problem of every file.
func Load(paths ...string) (*Set, error) {
	files, errs := expand(paths)
	srcs, rerrs := read(files)
	return compile(srcs, append(errs, rerrs...))
}

// source is the content of one rules file.
type source struct {
	name string
	data []byte
}

// expand turns files and directories into the list of files to load.
func expand(paths []string) ([]string, Errors) {
	var files []string
	var errs Errors
	seen := make(map[string]bool)
	add := func(f string) {
		if c := filepath.Clean(f); !seen[c] {
			seen[c] = true
			files = append(files, f)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: "cannot read rules: " + pathErr(err)})
			continue
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		ents, err := os.ReadDir(p) // sorted by name
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: "cannot list rules directory: " + pathErr(err)})
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if strings.HasPrefix(n, ".") || (!strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, ".yml")) {
				continue
			}
			f := filepath.Join(p, n)
			// Stat, not the entry's type: symlinks to files count (Kubernetes
			// mounts ConfigMaps that way).
			if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
				add(f)
			}
		}
	}
	return files, errs
}

func read(files []string) ([]source, Errors) {
	var errs Errors
	srcs := make([]source, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, &Error{File: f, Msg: "cannot read rules: " + pathErr(err)})
			continue
		}
		srcs = append(srcs, source{f, data})
	}
	return srcs, errs
}

// pathErr drops the path from an os error: Error already leads with it.
func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// compile decodes every source, runs the checks that span files and builds
// the Set. errs are problems found before decoding (unreadable files).
func compile(srcs []source, errs Errors) (*Set, error) {
	order := make([]string, 0, len(srcs)+len(errs))
	for _, e := range errs {
		order = append(order, e.File)
	}
	defs := make([]*fileDef, 0, len(srcs))
	for _, src := range srcs {
		d := &decoder{file: src.name}
		defs = append(defs, decodeFile(d, src.data))
		errs = append(errs, d.errs...)
		order = append(order, src.name)
	}

	s := &Set{drops: newIndex(), quotaDrops: newIndex(), xforms: newIndex()}
	for _, f := range defs {
		s.rules = append(s.rules, f.rules...)
	}
	errs = append(errs, checkNames(s.rules)...)
	errs = append(errs, checkOutputs(s.rules)...)
	errs = append(errs, s.mergeSpans(defs)...)
	errs = append(errs, s.mergeLimits(defs)...)
	if len(errs) > 0 {
		sortErrors(errs, order)
		return nil, errs
	}

	for i, r := range s.rules {
		r.seq = i
		switch {
		case r.kind == DropRule && r.onlyOverQuota:
			s.quotaDrops.add(r)
		case r.kind == DropRule:
			s.drops.add(r)
		default:
			s.xforms.add(r)
		}
		for _, p := range r.policies {
			if !slices.Contains(s.policies, p) {
				s.policies = append(s.policies, p)
			}
		}
	}
	slices.SortFunc(s.policies, compareStoragePolicy)
	return s, nil
}

// checkNames reports rule names used twice, across kinds and files.
func checkNames(rs []*rule) Errors {
	var errs Errors
	first := make(map[string]*rule, len(rs))
	for _, r := range rs {
		if r.name == "" {
			continue
		}
		if prev, dup := first[r.name]; dup {
			errs = append(errs, r.namePos.errorf("duplicate rule name %q (first defined at %s)", r.name, prev.namePos))
			continue
		}
		first[r.name] = r
	}
	return errs
}

// checkOutputs reports rollups that could write the same series: the same
// output name, or one's "<name>_sum" being another's name.
func checkOutputs(rs []*rule) Errors {
	var errs Errors
	owner := make(map[string]*rule)
	for _, r := range rs {
		if r.kind != RollupRule || r.output == "" || r.keepMetricNames {
			continue
		}
		reported := make(map[*rule]bool)
		for _, n := range aggregator.SeriesNames(r.output, r.aggs) {
			prev, taken := owner[n]
			if !taken {
				owner[n] = r
				continue
			}
			if prev == r || reported[prev] {
				continue
			}
			reported[prev] = true
			errs = append(errs, r.outputPos.errorf("rollup rule %q writes series %q, which rollup rule %q (output at %s) writes too", r.name, n, prev.name, prev.outputPos))
		}
	}
	return errs
}

// mergeSpans unites the spans sections of all files and refuses dimensions
// that any file forbids.
func (s *Set) mergeSpans(defs []*fileDef) Errors {
	var errs Errors
	forbidden := make(map[string]position)
	for _, f := range defs {
		for _, fb := range f.spans.forbidden {
			if _, ok := forbidden[fb.s]; !ok {
				forbidden[fb.s] = position{f.name, fb.node.Line, fb.node.Column}
			}
		}
	}
	check := func(file string, dims []strNode, what string) {
		for _, d := range dims {
			if at, bad := forbidden[d.s]; bad {
				errs = append(errs, position{file, d.node.Line, d.node.Column}.errorf("%s: dimension %q is forbidden (listed in forbidden at %s)", what, d.s, at))
			}
		}
	}
	svcAt := make(map[string]position)
	svcDims := make(map[string][]string)
	for _, f := range defs {
		check(f.name, f.spans.dims, "spans")
		for _, d := range f.spans.dims {
			if !slices.Contains(s.spanDims, d.s) {
				s.spanDims = append(s.spanDims, d.s)
			}
		}
		for _, svc := range f.spans.services {
			at := position{f.name, svc.name.node.Line, svc.name.node.Column}
			if prev, dup := svcAt[svc.name.s]; dup {
				errs = append(errs, at.errorf("spans: service %q defined twice (first at %s)", svc.name.s, prev))
				continue
			}
			svcAt[svc.name.s] = at
			check(f.name, svc.dims, "spans: service "+`"`+svc.name.s+`"`)
			for _, d := range svc.dims {
				svcDims[svc.name.s] = append(svcDims[svc.name.s], d.s)
			}
		}
	}
	s.services = make(map[string][]string, len(svcDims))
	for name, own := range svcDims {
		all := slices.Clone(s.spanDims)
		for _, d := range own {
			if !slices.Contains(all, d) {
				all = append(all, d)
			}
		}
		s.services[name] = all
	}
	return errs
}

// mergeLimits unites the limits sections; a tenant or the default limit may
// be set in one file only.
func (s *Set) mergeLimits(defs []*fileDef) Errors {
	var errs Errors
	var defAt *position
	tenantAt := make(map[string]position)
	for _, f := range defs {
		if d := f.limits.def; d != nil {
			if defAt != nil {
				errs = append(errs, d.pos.errorf("limits: default set twice (first at %s)", *defAt))
			} else {
				defAt = &d.pos
				s.limits.Default = d.limit
			}
		}
		for _, t := range f.limits.tenants {
			if prev, dup := tenantAt[t.name]; dup {
				errs = append(errs, t.pos.errorf("limits: tenant %q set twice (first at %s)", t.name, prev))
				continue
			}
			tenantAt[t.name] = t.pos
			if s.limits.Tenants == nil {
				s.limits.Tenants = make(map[string]Limit)
			}
			s.limits.Tenants[t.name] = t.limit
		}
	}
	return errs
}

// SpanDimensions returns the span attributes that become dimensions of the
// span-derived series of service: the global ones, then the service's own.
// Each is looked up as a span attribute first, else a resource attribute. The
// slice is the caller's.
func (s *Set) SpanDimensions(service string) []string {
	if dims, ok := s.services[service]; ok {
		return slices.Clone(dims)
	}
	return slices.Clone(s.spanDims)
}

// AllSpanDimensions returns every span dimension any service uses: the
// global ones, then each service's own, each once. Ingest extracts them all;
// the pipeline keeps on each span only those of its service.
func (s *Set) AllSpanDimensions() []string {
	out := slices.Clone(s.spanDims)
	svcs := make([]string, 0, len(s.services))
	for svc := range s.services {
		svcs = append(svcs, svc)
	}
	slices.Sort(svcs)
	for _, svc := range svcs {
		for _, d := range s.services[svc] {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// Limit returns the limit of tenant (Limits().For without copying the
// map). Its Pools are shared with the Set and must not be modified.
func (s *Set) Limit(tenant string) Limit { return s.limits.For(tenant) }

// Limits returns the per-tenant limits. The map is the caller's.
func (s *Set) Limits() Limits { return s.limits.clone() }

// Policies returns the distinct storage policies used by any rule, sorted by
// resolution then retention: the resolutions the aggregator must window at.
func (s *Set) Policies() []StoragePolicy { return slices.Clone(s.policies) }

// Rules describes every rule in the order they are applied: files in load
// order, rules in file order.
func (s *Set) Rules() []RuleInfo {
	out := make([]RuleInfo, len(s.rules))
	for i, r := range s.rules {
		out[i] = r.info()
	}
	return out
}

// Len returns the number of rules.
func (s *Set) Len() int { return len(s.rules) }
