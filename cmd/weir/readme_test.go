package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/weirdev/weir/internal/testenv"
)

var (
	// metricName is a metric name as the code registers it: a string
	// literal. weir names every metric in full, never by namespace and
	// subsystem.
	metricName = regexp.MustCompile(`"(weir_[a-z0-9_]+)"`)
	// documented is a name in the README's list; NAME_* stands for a
	// family of names.
	documented = regexp.MustCompile(`weir_[a-z0-9_]+\*?`)
)

// TestREADMEListsEveryMetric: the README's "weir's own metrics" names every
// metric the code registers (by name or by a documented NAME_* family), and
// names none it does not.
func TestREADMEListsEveryMetric(t *testing.T) {
	root := testenv.Root(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "## weir's own metrics")
	end := strings.Index(section, "### Where a dropped point is counted")
	if start < 0 || end < start {
		t.Fatal(`README.md has no "## weir's own metrics" section followed by "### Where a dropped point is counted"`)
	}
	names, families := map[string]bool{}, map[string]bool{}
	for _, m := range documented.FindAllString(section[start:end], -1) {
		if f, ok := strings.CutSuffix(m, "*"); ok {
			families[f] = true
		} else {
			names[m] = true
		}
	}
	code := map[string]string{} // name → file registering it
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == "bench" || d.Name() == "deploy" || strings.HasPrefix(d.Name(), ".")) && p != root:
			return filepath.SkipDir // own modules, caches
		case d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go"):
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range metricName.FindAllStringSubmatch(string(b), -1) {
			code[m[1]] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	covered := func(name string) bool {
		if names[name] {
			return true
		}
		for f := range families {
			if strings.HasPrefix(name, f) || name+"_" == f {
				return true
			}
		}
		return false
	}
	var undocumented, stale []string
	for name, file := range code {
		if !covered(name) {
			undocumented = append(undocumented, name+" ("+file[len(root)+1:]+")")
		}
	}
	for name := range names {
		if code[name] == "" {
			stale = append(stale, name)
		}
	}
	for f := range families {
		found := false
		for name := range code {
			found = found || strings.HasPrefix(name, f)
		}
		if !found {
			stale = append(stale, f+"*")
		}
	}
	sort.Strings(undocumented)
	sort.Strings(stale)
	if len(undocumented) > 0 {
		t.Errorf("registered but not in README.md's list: %v", undocumented)
	}
	if len(stale) > 0 {
		t.Errorf("in README.md's list but registered nowhere: %v", stale)
	}
	if len(code) < 50 {
		t.Errorf("found only %d metric names in the code: the scan is broken", len(code))
	}
}
