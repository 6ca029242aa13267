package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// weirBinary builds cmd/weir once per test binary.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func weirBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "weir-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "weir")
		cmd := exec.Command("go", "build", "-o", binPath, "../../cmd/weir")
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running `weir run`.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan error
}

func startWeir(t testing.TB, name, config string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(weirBinary(t), "run", "-pprof", "-config", config)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("log of %s (tail):\n%s", name, b)
		}
	})
	return p
}

// exited reports whether any of ps has exited.
func exited(ps ...*proc) bool {
	for _, p := range ps {
		select {
		case err := <-p.done:
			p.done <- err
			return true
		default:
		}
	}
	return false
}

// kill sends SIGKILL: no flush, no commit, no leaving the group.
func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		p.done <- nil
	}
}

// stop sends SIGTERM and waits for the clean shutdown.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- nil
		if err != nil {
			t.Errorf("%s exited with %v", p.name, err)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("%s did not stop within 60s", p.name)
	}
}

// rwReceiver is a Prometheus remote-write endpoint that records every sample
// by (series, timestamp) and every conflicting rewrite. It can be told to
// answer every request with an error status (failWith).
type rwReceiver struct {
	*httptest.Server
	mu        sync.Mutex
	got       map[string]string
	conflicts []string
	requests  atomic.Int64
	failWith  atomic.Int32 // the status every request gets while not 0
}

func newReceiver(t testing.TB) *rwReceiver {
	r := &rwReceiver{got: map[string]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *rwReceiver) serve(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	if code := int(r.failWith.Load()); code != 0 {
		http.Error(w, http.StatusText(code), code)
		return
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	raw, err := snappy.Decode(nil, b)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, ts := range wr.Timeseries {
		for _, s := range ts.Samples {
			k := fmt.Sprint(ts.Labels, s.Timestamp)
			v := fmt.Sprint(s.Value, ts.Exemplars)
			if old, ok := r.got[k]; ok && old != v {
				r.conflicts = append(r.conflicts, fmt.Sprintf("%s: %s then %s", k, old, v))
			}
			r.got[k] = v
		}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// count returns how many of the samples held have a key keep accepts,
// without copying them (a benchmark polls it).
func (r *rwReceiver) count(keep func(key string) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k := range r.got {
		if keep(k) {
			n++
		}
	}
	return n
}

func (r *rwReceiver) snapshot() (map[string]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.got))
	for k, v := range r.got {
		out[k] = v
	}
	return out, append([]string(nil), r.conflicts...)
}

// waitFor polls cond until it holds or the deadline passes.
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
