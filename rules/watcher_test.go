package rules

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// syncBuffer is a log destination safe for the watcher's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// replaceFile writes path atomically, as editors and Kubernetes do, so that
// the watcher never reads a half-written file.
func replaceFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond; the deadline only keeps a broken watcher from hanging
// the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func ruleNames(s *Set) string {
	var n []string
	for _, r := range s.Rules() {
		n = append(n, r.Name)
	}
	return strings.Join(n, ",")
}

const (
	goodRules  = "drop:\n  - {name: a, match: debug}\n"
	goodRules2 = "drop:\n  - {name: a, match: debug}\n  - {name: b, match: trace}\n"
	badRules   = "drop:\n  - {name: a, match: debug}\n  - {name: b, match: 'trace{'}\n"
)

func TestWatcherRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	replaceFile(t, path, goodRules)

	reg := prometheus.NewRegistry()
	var logs syncBuffer
	w := NewWatcher([]string{dir},
		WatcherInterval(time.Millisecond),
		WatcherLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WatcherRegisterer(reg))
	if got := ruleNames(w.Current()); got != "a" {
		t.Fatalf("initial rules %q, want a", got)
	}
	loaded, _ := reg.Gather()
	if n := testutil.ToFloat64(w.loaded); n != 1 || len(loaded) != 3 {
		t.Fatalf("weir_rules_loaded = %v with %d metrics registered, want 1 with 3", n, len(loaded))
	}

	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan *Set, 10)
	done := make(chan struct{})
	go func() {
		w.Run(ctx, func(s *Set) { changes <- s })
		close(done)
	}()
	defer func() { cancel(); <-done }()

	// A good change is applied and reported.
	replaceFile(t, path, goodRules2)
	select {
	case s := <-changes:
		if got := ruleNames(s); got != "a,b" || w.Current() != s {
			t.Fatalf("after a good change: callback got %q, Current is %q", got, ruleNames(w.Current()))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no callback after a good change")
	}
	before := w.Current()

	// A bad change is refused: logged with its position, counted, no callback,
	// the running set stays.
	replaceFile(t, path, badRules)
	waitFor(t, "the bad change to be refused", func() bool { return testutil.ToFloat64(w.failures) == 1 })
	if w.Current() != before {
		t.Error("the bad change replaced the running set")
	}
	select {
	case s := <-changes:
		t.Errorf("callback called for a refused change with %q", ruleNames(s))
	default:
	}
	wantLog := path + `:3:22: drop rule \"b\": bad matcher \"trace{\"`
	if !strings.Contains(logs.String(), wantLog) {
		t.Errorf("log does not name the problem %s:\n%s", wantLog, logs.String())
	}
	if n := testutil.ToFloat64(w.loaded); n != 2 {
		t.Errorf("weir_rules_loaded = %v after a refused change, want 2", n)
	}

	// Fixing the file applies it.
	replaceFile(t, path, goodRules)
	select {
	case s := <-changes:
		if got := ruleNames(s); got != "a" {
			t.Errorf("after the fix: %q, want a", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no callback after the fix")
	}
	if r, f := testutil.ToFloat64(w.reloads), testutil.ToFloat64(w.failures); r != 3 || f != 1 {
		t.Errorf("reloads %v, failures %v; want 3 and 1", r, f)
	}
}

func TestWatcherReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	replaceFile(t, path, goodRules)
	w := NewWatcher([]string{path}, WatcherLogger(slog.New(slog.DiscardHandler)))
	first := w.Current()

	replaceFile(t, path, badRules)
	err := w.Reload()
	checkErrors(t, err, []string{path + `:3:22: drop rule "b": bad matcher "trace{": 1:7: parse error: unexpected end of input inside braces`})
	if w.Current() != first {
		t.Error("Reload of a bad file replaced the running set")
	}

	replaceFile(t, path, goodRules2)
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := ruleNames(w.Current()); got != "a,b" {
		t.Errorf("after Reload: %q, want a,b", got)
	}
	// Reload reads the files even when they did not change, as SIGHUP does.
	second := w.Current()
	if err := w.Reload(); err != nil || w.Current() == second || ruleNames(w.Current()) != "a,b" {
		t.Errorf("forced Reload: err %v, new set %v, rules %q", err, w.Current() != second, ruleNames(w.Current()))
	}
	if r, f := testutil.ToFloat64(w.reloads), testutil.ToFloat64(w.failures); r != 3 || f != 1 {
		t.Errorf("reloads %v, failures %v; want 3 and 1", r, f)
	}
}

func TestNewWatcherOnBadFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	replaceFile(t, path, badRules)
	var logs syncBuffer
	w := NewWatcher([]string{path}, WatcherLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if w.Current() != nil {
		t.Errorf("Current() = %q from files that do not compile", ruleNames(w.Current()))
	}
	wantLog := path + `:3:22: drop rule \"b\": bad matcher`
	if !strings.Contains(logs.String(), wantLog) {
		t.Errorf("log does not name the problem %s:\n%s", wantLog, logs.String())
	}

	replaceFile(t, path, goodRules)
	if err := w.Reload(); err != nil || w.Current() == nil || ruleNames(w.Current()) != "a" {
		t.Errorf("Reload after the fix: %v, rules %v", err, w.Current())
	}
}

func TestNewWatcherRegistersOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	replaceFile(t, path, goodRules)
	reg := prometheus.NewRegistry()
	NewWatcher([]string{path}, WatcherRegisterer(reg))
	defer func() {
		if recover() == nil {
			t.Error("a second watcher registered its metrics on the same registry")
		}
	}()
	NewWatcher([]string{path}, WatcherRegisterer(reg))
}

func TestWatcherCheckRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	replaceFile(t, path, goodRules)
	reg := prometheus.NewRegistry()
	var logs syncBuffer
	// The check refuses any set with a rule named b.
	check := func(s *Set) error {
		if strings.Contains(ruleNames(s), "b") {
			return Errors{{File: path, Line: 3, Col: 5, Msg: "rule b is not routed"}}
		}
		return nil
	}
	w := NewWatcher([]string{path}, WatcherCheck(check), WatcherRegisterer(reg),
		WatcherLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if w.Current() == nil || ruleNames(w.Current()) != "a" {
		t.Fatalf("initial set %v, want rule a", w.Current())
	}
	replaceFile(t, path, goodRules2)
	err := w.Reload()
	if err == nil || err.Error() != path+":3:5: rule b is not routed" {
		t.Fatalf("Reload = %v, want the check's error", err)
	}
	if got := ruleNames(w.Current()); got != "a" {
		t.Errorf("rules in force after a refused reload: %q, want a", got)
	}
	if got := testutil.ToFloat64(w.failures); got != 1 {
		t.Errorf("weir_rules_reload_failures_total = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "rule b is not routed") {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}

	// A check that fails at start leaves no Set in force, like bad files.
	w2 := NewWatcher([]string{path}, WatcherCheck(check), WatcherLogger(slog.New(slog.DiscardHandler)))
	if w2.Current() != nil {
		t.Errorf("Current = %v after a refused first load, want nil", ruleNames(w2.Current()))
	}
}
