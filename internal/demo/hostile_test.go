package demo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostileRSSBound is what the demo's resident memory must stay under
// through the hostile queries, load generator and pipeline running: its
// soft memory limit (DefaultMemoryLimit, 768 MiB, which the two queries
// that evaluate at once fill with garbage) and what the runtime holds
// beyond its heap: 1.25 GiB (measured: 866 MiB on 2 busy cores; without the
// engine's concurrency limit it passes 2.5 GiB).
const hostileRSSBound = 1280 << 20

const hostileChild = "WEIR_HOSTILE_QUERIES_CHILD"

// TestHostileQueries sends the demo the queries that took it down before
// it had Prometheus' guards: a 51-byte subquery of 2.6 billion steps, 20
// concurrent legal 3.6M-point queries, a 10 MB POSTed query, 100,000 nested
// parentheses, then 200 clients sending heavy queries for 30 s. Each gets a
// prompt answer of its kind, the demo still answers afterwards, and its
// peak resident memory (VmHWM) stays under hostileRSSBound. The demo runs in
// a child process (this test binary again), so that the peak is its own.
func TestHostileQueries(t *testing.T) {
	if os.Getenv(hostileChild) != "" {
		hostile(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostileQueries$", "-test.v")
	// The demo's own memory limit, not the caller's.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GOMEMLIMIT=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, hostileChild+"=1")
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`peak RSS (\d+) bytes`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("the demo under hostile queries: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "RSS") {
			t.Log(strings.TrimSpace(l))
		}
	}
	peak, _ := strconv.ParseInt(string(m[1]), 10, 64)
	t.Logf("peak RSS %d MiB (bound %d MiB)", peak>>20, hostileRSSBound>>20)
	if peak > hostileRSSBound {
		t.Errorf("peak RSS %d MiB, bound %d MiB", peak>>20, hostileRSSBound>>20)
	}
}

// procStatus reads a field of /proc/self/status in bytes (VmRSS, VmHWM).
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func hostile(t *testing.T) {
	// A build without the guards would take the machine's memory: stop
	// at twice the bound.
	go func() {
		for {
			if rss := procStatus("VmRSS"); rss > 2*hostileRSSBound {
				fmt.Printf("peak RSS %d bytes (stopped at twice the bound)\n", rss)
				os.Exit(3)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := Start(ctx, Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := d.Wait(); err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + d.Addr()
	client := &http.Client{Timeout: 5 * time.Minute}
	send := func(method, query string) (int, string) {
		var resp *http.Response
		var err error
		if method == http.MethodPost {
			resp, err = client.PostForm(base+"/api/v1/query", url.Values{"query": {query}})
		} else {
			resp, err = client.Get(base + "/api/v1/query?" + url.Values{"query": {query}}.Encode())
		}
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return resp.StatusCode, string(b)
	}
	const legal = "count_over_time(vector(1)[1h:1ms])" // 3.6M points
	for _, tc := range []struct {
		name, method, query string
		code                int
		body                string
	}{
		{"2.6 billion steps", http.MethodGet, "count_over_time(vector(1)[30d:1ms])", 400, "more than 10000000"},
		{"a legal 3.6M-point query", http.MethodGet, legal, 200, `"3600000"`},
		{"a 10 MB query", http.MethodPost, strings.Repeat("1+", 5<<20) + "1", 400, "cannot parse the form"},
		{"100,000 nested parentheses", http.MethodPost, strings.Repeat("(", 100_000) + "1" + strings.Repeat(")", 100_000), 400, "bytes long"},
		{"256 nested parentheses", http.MethodPost, strings.Repeat("(", 257) + "1" + strings.Repeat(")", 257), 400, "nests 257 levels deep"},
	} {
		if code, body := send(tc.method, tc.query); code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, code, body, tc.code, tc.body)
		}
		fmt.Printf("after %s: RSS %d MiB\n", tc.name, procStatus("VmRSS")>>20)
	}
	// Concurrent heavy queries wait for one of the engine's slots, within
	// their timeout: each answers 200 or 503 (timed out), none fails
	// otherwise.
	flood := func(clients int, until time.Time, once bool) map[int]int {
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for {
					code, body := send(http.MethodGet, legal)
					mu.Lock()
					codes[code]++
					mu.Unlock()
					if code != 200 && code != 503 {
						t.Errorf("a heavy query: %d %s", code, body)
					}
					if once || time.Now().After(until) {
						return
					}
				}
			})
		}
		wg.Wait()
		return codes
	}
	codes := flood(20, time.Time{}, true)
	t.Logf("20 concurrent 3.6M-point queries: %v; RSS %d MiB", codes, procStatus("VmRSS")>>20)
	if codes[200] == 0 {
		t.Errorf("none of 20 concurrent legal queries was answered: %v", codes)
	}
	codes = flood(200, time.Now().Add(30*time.Second), false)
	t.Logf("200 clients for 30 s: %v; RSS %d MiB", codes, procStatus("VmRSS")>>20)
	if code, body := send(http.MethodGet, "vector(1)"); code != 200 {
		t.Errorf("after the flood, a light query: %d %s", code, body)
	}
	fmt.Printf("peak RSS %d bytes\n", procStatus("VmHWM"))
}
