package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// This file gives the test the real components through the repository's own
// scripts (test/kafka, test/peers), as internal/testenv does for the main
// module, which this module cannot import. Every component binds 127.0.0.1,
// is started with --owner (a watchdog stops it once this test binary exits,
// even after a crash) and is stopped by t.Cleanup.

// repoRoot is the weir repository: two levels above this module.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.Contains(b, []byte("module github.com/weirdev/weir\n")) {
		t.Fatalf("%s is not the weir repository root (go.mod: %v)", root, err)
	}
	return root
}

// runScript runs test/NAME from the repository root with a timeout and
// returns the KEY=VALUE lines it printed. On failure the error carries the
// tail of its stderr.
func runScript(t *testing.T, timeout time.Duration, name string, args ...string) (map[string]string, error) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..")) // checked by repoRoot in start
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "test", name)}, args...)...)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("test/%s %s: %w (after %.1fs)\n%s", name, strings.Join(args, " "), err,
			time.Since(start).Seconds(), tail(stderr.String(), 40))
	}
	t.Logf("test/%s %s: %.1fs", name, strings.Join(args, " "), time.Since(start).Seconds())
	vars := map[string]string{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && k != "" {
			vars[k] = v
		}
	}
	return vars, nil
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func owner() []string { return []string{"--owner", strconv.Itoa(os.Getpid())} }

// components are the real peers of the test.
type components struct {
	brokers    []string
	jaegerOTLP string // gRPC, plaintext
	jaegerURL  string // query API
	promURL    string
}

// start brings up a one-node Kafka, Jaeger and Prometheus, in parallel (the
// JVM takes longest). WEIR_KAFKA_BROKERS, when set, names a broker to use
// instead of starting one.
func start(t *testing.T) components {
	t.Helper()
	repoRoot(t)
	var c components
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		c.brokers, errs[0] = startKafka(t)
	}()
	peer := func(i int, name string, keys ...string) map[string]string {
		defer wg.Done()
		vars, err := runScript(t, 2*time.Minute, "peers/"+name+".sh", append([]string{"start"}, owner()...)...)
		for _, k := range keys {
			if err == nil && vars[k] == "" {
				err = fmt.Errorf("test/peers/%s.sh printed no %s= (got %v)", name, k, vars)
			}
		}
		if errs[i] = err; err != nil {
			return nil
		}
		dir := vars[strings.ToUpper(name)+"_DIR"]
		t.Cleanup(func() { _, _ = runScript(t, time.Minute, "peers/"+name+".sh", "stop", dir) })
		return vars
	}
	go func() {
		if v := peer(1, "jaeger", "JAEGER_OTLP_GRPC", "JAEGER_QUERY", "JAEGER_DIR"); v != nil {
			c.jaegerOTLP, c.jaegerURL = v["JAEGER_OTLP_GRPC"], v["JAEGER_QUERY"]
		}
	}()
	go func() {
		if v := peer(2, "prometheus", "PROMETHEUS_URL", "PROMETHEUS_DIR"); v != nil {
			c.promURL = v["PROMETHEUS_URL"]
		}
	}()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("starting the real components (run test/setup.sh kafka jaeger prometheus first when a binary is missing): %v", err)
		}
	}
	return c
}

// startKafka starts a one-node Kafka (or takes WEIR_KAFKA_BROKERS) and
// returns its brokers.
func startKafka(t *testing.T) ([]string, error) {
	if env := os.Getenv("WEIR_KAFKA_BROKERS"); env != "" {
		return strings.Split(env, ","), nil
	}
	vars, err := runScript(t, 5*time.Minute, "kafka/start.sh", append(owner(), "1")...)
	if err == nil && (vars["KAFKA_BROKERS"] == "" || vars["KAFKA_DIR"] == "") {
		err = fmt.Errorf("test/kafka/start.sh printed no KAFKA_BROKERS= or KAFKA_DIR= (got %v)", vars)
	}
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _, _ = runScript(t, time.Minute, "kafka/stop.sh", vars["KAFKA_DIR"]) })
	return strings.Split(vars["KAFKA_BROKERS"], ","), nil
}

// buildWeir builds cmd/weir with the main module's own go.mod (not this
// module's, whose dependency versions the collector raises). It may run on a
// goroutine of its own.
func buildWeir(t *testing.T) (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	bin := filepath.Join(t.TempDir(), "weir")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/weir")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOWORK=off")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/weir: %v\n%s", err, out)
	}
	t.Logf("built weir in %.1fs", time.Since(start).Seconds())
	return bin, nil
}

// weir is a running `weir run`.
type weir struct {
	name     string
	cmd      *exec.Cmd
	log      string
	done     chan error
	stopping atomic.Bool
}

// startWeir starts `weir run -config config`. When it exits before stop is
// called, died is called with the reason: the test's waits end at once.
func startWeir(t *testing.T, bin, name, config string, died context.CancelCauseFunc) *weir {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-config", config)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &weir{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		f.Close()
		if !w.stopping.Load() {
			died(fmt.Errorf("weir %s exited unexpectedly (%v); its log: %s", name, err, logPath))
		}
		w.done <- err
	}()
	t.Cleanup(func() {
		if w.stopping.CompareAndSwap(false, true) {
			_ = cmd.Process.Kill()
			<-w.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("log of weir %s (tail):\n%s", name, tail(string(b), 60))
		}
	})
	return w
}

var listenRE = regexp.MustCompile(`msg="weir running" listen=(\S+)`)

// addr waits for the "weir running" log line and returns the HTTP address.
func (w *weir) addr(t *testing.T, ctx context.Context) string {
	t.Helper()
	var addr string
	ok := waitFor(ctx, 100*time.Millisecond, func() bool {
		f, err := os.Open(w.log)
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr = m[1]
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("weir %s did not log that it is running: %v", w.name, context.Cause(ctx))
	}
	return addr
}

// stop sends SIGTERM and waits for a clean exit.
func (w *weir) stop(t *testing.T) {
	t.Helper()
	if !w.stopping.CompareAndSwap(false, true) {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("weir %s exited with %v", w.name, err)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("weir %s did not stop within 60s of SIGTERM", w.name)
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, every time.Duration, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(every):
		}
	}
}

// getJSON GETs base+path with query q into v and returns the status code.
func getJSON(ctx context.Context, base, path string, q url.Values, v any) (int, error) {
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GET %s: %s: %s", u, resp.Status, tail(string(b), 5))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: %w", u, err)
	}
	return resp.StatusCode, nil
}

// getText GETs u and returns the body of a 200 answer.
func getText(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return string(b), err
}
