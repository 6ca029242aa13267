package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weirdev/weir/internal/testenv"
)

// TestBadFlags: every bad flag value is refused with exit 2 and a message
// naming it, none panics and none starts anything (see also
// TestBadCommandLines).
func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "-trace-rate", "NaN"}, "-trace-rate NaN: want a positive number"},
		{[]string{"demo", "-trace-rate", "+Inf"}, "-trace-rate +Inf: want a positive number"},
		{[]string{"demo", "-trace-rate", "1e9"}, "-trace-rate 1e+09: at most 100000 traces per second"},
		{[]string{"demo", "-trace-rate", "fast"}, `invalid value "fast" for flag -trace-rate`},
		{[]string{"demo", "-listen", ""}, "-listen: empty"},
		{[]string{"demo", "-pprof=maybe"}, `invalid boolean value "maybe" for -pprof`},
		{[]string{"demo", "-web.config.file", "/nonexistent/web.yml"}, "web config /nonexistent/web.yml"},
		{[]string{"demo", "-seed", "-3"}, `invalid value "-3" for flag -seed`},
		{[]string{"run", "-pprof", "extra"}, `unexpected argument "extra"`},
		{[]string{"run", "-config", "/nonexistent/weir.yaml"}, "/nonexistent/weir.yaml"},
	} {
		var out strings.Builder
		code := run(context.Background(), tc.args, &out, &out)
		if code != 2 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("weir %s: exit %d, output %q; want exit 2 and %q", strings.Join(tc.args, " "), code, out.String(), tc.want)
		}
	}
}

// TestDemoProfiles: weir demo -pprof serves Go's profiles on its port.
func TestDemoProfiles(t *testing.T) {
	out := &testenv.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "-pprof", "-listen", "127.0.0.1:0", "-trace-rate", "1"}, out, out)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("weir demo exited %d:\n%s", code, out.String())
		}
	}()
	running := regexp.MustCompile(`weir demo is running on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(2 * time.Minute); base == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := running.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("weir demo did not start:\n%s", out.String())
	}
	resp, err := http.Get(base + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /debug/pprof/: %d", resp.StatusCode)
	}
}
