// Package testenv gives integration tests the real components weir talks to:
// an Apache Kafka cluster, Jaeger, Prometheus and Chromium.
//
// Each function runs the project's scripts under test/ (which install, build,
// start and stop the components, all bound to 127.0.0.1, with their state in
// .cache/ at the repository root) and fails the test with the scripts' own
// explanation when a component cannot be had: it never skips. Shared
// components are started once per test binary, on first use, and stopped when
// the test binary exits: the scripts watch the binary's process and stop what
// they started for it, even after a crash or a timeout panic.
//
// Cold builds are long (Jaeger ~10 min, Prometheus ~8 min on 2 cores), so run
// test/setup.sh before the tests, as .ci/run does; a test that would need a
// cold build with less time left than that fails at once saying so.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mainModule is the module path whose go.mod marks the repository root.
const mainModule = "github.com/weirdev/weir"

// shared holds the components started for this test binary. It is the
// package's one piece of mutable state, on purpose: its job is to start a
// component once per binary, whatever the number of tests that ask for it.
var shared struct {
	mu sync.Mutex
	m  map[string]*sharedEntry
}

type sharedEntry struct {
	once sync.Once
	vars map[string]string
	err  error
}

// once runs start the first time key is asked for in this binary and returns
// its result, errors included, to every later caller: a component that failed
// to start is not tried again by each test.
func once(key string, start func() (map[string]string, error)) (map[string]string, error) {
	shared.mu.Lock()
	if shared.m == nil {
		shared.m = make(map[string]*sharedEntry)
	}
	e := shared.m[key]
	if e == nil {
		e = new(sharedEntry)
		shared.m[key] = e
	}
	shared.mu.Unlock()
	e.once.Do(func() { e.vars, e.err = start() })
	return e.vars, e.err
}

// Root returns the repository root: the nearest directory at or above the
// test's working directory whose go.mod declares module
// github.com/weirdev/weir. It fails the test when there is none.
func Root(t testing.TB) string {
	t.Helper()
	root, err := findRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return root
}

func findRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for dir := wd; ; {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declaresModule(b, mainModule) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s at or above %s", mainModule, wd)
		}
		dir = parent
	}
}

func declaresModule(gomod []byte, path string) bool {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "module" && strings.Trim(f[1], `"`) == path {
			return true
		}
	}
	return false
}

// deadline returns when the running test binary will be stopped by
// go test -timeout, if t knows it.
func deadline(t testing.TB) (time.Time, bool) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return d.Deadline()
	}
	return time.Time{}, false
}

// script runs one of the scripts under test/ from the repository root and
// returns the NAME=value lines it printed on stdout. Its stderr (progress
// and errors) is logged to t; on failure the error carries its tail.
// The script runs in a process group of its own, killed whole on timeout.
func script(t testing.TB, timeout time.Duration, name string, args ...string) (map[string]string, error) {
	t.Helper()
	root, err := findRoot()
	if err != nil {
		return nil, err
	}
	if d, ok := deadline(t); ok {
		// Leave the test binary time to report instead of dying on its timeout.
		if left := time.Until(d) - 10*time.Second; left < timeout {
			timeout = max(left, time.Second)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	path := filepath.Join(root, filepath.FromSlash(name))
	cmd := exec.CommandContext(ctx, "bash", append([]string{path}, args...)...)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	if msg := strings.TrimSpace(stderr.String()); msg != "" && err == nil {
		t.Logf("%s %s (%.1fs):\n%s", name, strings.Join(args, " "), time.Since(start).Seconds(), msg)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v: %w", timeout, err)
		}
		return nil, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(stderr.String(), 60))
	}
	vars := make(map[string]string)
	for _, line := range strings.Split(stdout.String(), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && k != "" {
			vars[k] = v
		}
	}
	return vars, nil
}

// need returns vars[key], or an error naming the script that did not print it.
func need(vars map[string]string, name string, keys ...string) error {
	var errs []error
	for _, k := range keys {
		if vars[k] == "" {
			errs = append(errs, fmt.Errorf("%s printed no %s=", name, k))
		}
	}
	return errors.Join(errs...)
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = append([]string{"[... " + strconv.Itoa(len(l)-lines) + " lines cut]"}, l[len(l)-lines:]...)
	}
	return strings.Join(l, "\n")
}

// ownerArgs makes the started component stop when this test binary exits.
func ownerArgs() []string { return []string{"--owner", strconv.Itoa(os.Getpid())} }

// keepLogs copies the *.log files under dir into test/artifacts/ (git-ignored)
// before a failed test's component is removed, and says where.
func keepLogs(t testing.TB, dir, what string) {
	t.Helper()
	root, err := findRoot()
	if err != nil {
		t.Logf("testenv: keeping %s logs: %v", what, err)
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dst := filepath.Join(root, "test", "artifacts", name+"-"+what+"-"+filepath.Base(dir))
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".log") {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Logf("testenv: keeping %s logs: %v", what, err)
		return
	}
	t.Logf("testenv: %s logs kept in %s", what, dst)
}
