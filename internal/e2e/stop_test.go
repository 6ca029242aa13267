package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirdev/weir/internal/testenv"
)

// stopGrace is Kubernetes' default termination grace period: a weir that
// takes longer is killed mid-shutdown.
const stopGrace = 30 * time.Second

// TestStopWhileJoining: a weir process told to stop while its groups wait
// for a member that was killed (the join holds until that member's session
// timeout) exits within Kubernetes' grace period and cleanly.
func TestStopWhileJoining(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t, 1)
	_, _, _, cfg := scenario(t, brokers, "stopjoin")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := startWeir(t, "a", cfg("a"))
	addr := a.httpAddr(ctx)
	if !waitFor(ctx, 200*time.Millisecond, func() bool { return ready(ctx, addr) || exited(a) }) || exited(a) {
		t.Fatal("a did not become ready")
	}
	a.kill()
	b := startWeir(t, "b", cfg("b"))
	// b's sessions are joining groups that still count a.
	if !waitFor(ctx, 100*time.Millisecond, func() bool {
		log, _ := os.ReadFile(b.log)
		return strings.Contains(string(log), "cluster topology") || exited(b)
	}) || exited(b) {
		t.Fatal("b did not start")
	}
	time.Sleep(2 * time.Second) // into the join
	start := time.Now()
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.done:
		b.done <- err
		if err != nil {
			t.Errorf("b exited with %v", err)
		}
		if d := time.Since(start); d > stopGrace {
			t.Errorf("b took %v to stop, longer than the %v grace period", d.Round(time.Second), stopGrace)
		} else {
			t.Logf("b stopped in %v", d.Round(100*time.Millisecond))
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("b did not stop within 2 minutes")
	}
}

// ready reports whether the weir at addr answers /-/ready with 200.
func ready(ctx context.Context, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/-/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
