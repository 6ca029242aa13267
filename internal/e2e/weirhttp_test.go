package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listenRe finds the HTTP address in `weir run`'s start-up log line
// (listen: 127.0.0.1:0 picks a free port).
var listenRe = regexp.MustCompile(`msg="weir running" listen=(\S+)`)

// httpAddr waits until p logged its HTTP address and returns it, or "" when
// ctx ends or p exits first.
func (p *proc) httpAddr(ctx context.Context) string {
	var addr string
	waitFor(ctx, 50*time.Millisecond, func() bool {
		b, _ := os.ReadFile(p.log)
		if m := listenRe.FindSubmatch(b); m != nil {
			addr = string(m[1])
			return true
		}
		return exited(p)
	})
	return addr
}

// scrape returns the Prometheus text exposition of a weir process' /metrics.
func scrape(ctx context.Context, addr string) (metricsText, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("scrape %s: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("scrape %s: %s", addr, resp.Status)
	}
	return metricsText(b), nil
}

// metricsText is a scraped text exposition.
type metricsText string

// sum adds the values of the samples of metric name whose label set
// contains every one of labels (each written `key="value"`), and reports
// whether there was any.
func (m metricsText) sum(name string, labels ...string) (float64, bool) {
	var total float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(string(m)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		metric, lset, _ := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(lset, l) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			continue
		}
		total += v
		found = true
	}
	return total, found
}

// progressPrefixes are the metrics that tell why windows stay open.
var progressPrefixes = []string{"weir_stage2_open_windows", "weir_stage2_sources_behind", "weir_stage2_oldest_open_window_end_seconds",
	"weir_aggregator_watermark_seconds", "weir_stage1_transaction_aborts_total", "weir_stage2_transaction_aborts_total"}

// logProgress logs, for processes still running, the metrics that say why
// windows stay open: for a test whose output stopped short.
func logProgress(t *testing.T, ctx context.Context, ps ...*proc) {
	t.Helper()
	for _, p := range ps {
		addr := p.httpAddr(ctx)
		if addr == "" {
			continue
		}
		m, err := scrape(ctx, addr)
		if err != nil {
			t.Logf("%s: %v", p.name, err)
			continue
		}
		var lines []string
		for line := range strings.Lines(string(m)) {
			for _, pre := range progressPrefixes {
				if strings.HasPrefix(line, pre) && !strings.HasSuffix(strings.TrimSpace(line), " 0") {
					lines = append(lines, strings.TrimSpace(line))
				}
			}
		}
		t.Logf("%s's progress:\n%s", p.name, strings.Join(lines, "\n"))
	}
}
