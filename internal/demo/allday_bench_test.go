package demo

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkDemoAllDay runs the demo's whole process at 20 times its default
// trace rate for WEIR_DEMO_MINUTES minutes (default 18: six hours of the
// demo's traffic) and samples its resident memory every 30 s. After the
// first sixth (the first hour's worth), the RSS must stay within 20% of
// its value then: the embedded Kafka, the stores and the caches are bounded
// by bytes, not by how long the demo runs. A benchmark, not a test: it runs
// for many minutes (go test -run XXX -bench DemoAllDay -benchtime 1x
// ./internal/demo).
func BenchmarkDemoAllDay(b *testing.B) {
	minutes := 18
	if v, err := strconv.Atoi(os.Getenv("WEIR_DEMO_MINUTES")); err == nil && v > 0 {
		minutes = v
	}
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		d, err := Start(ctx, Config{Listen: "127.0.0.1:0", TraceRate: 20 * 200, Seed: 3})
		if err != nil {
			b.Fatal(err)
		}
		run := time.Duration(minutes) * time.Minute
		start := time.Now()
		var atHour int64
		lo, hi := int64(1<<62), int64(0)
		for time.Since(start) < run {
			time.Sleep(30 * time.Second)
			rss := selfRSS(b)
			elapsed := time.Since(start)
			b.Logf("%5.1f simulated hours: RSS %d MiB", 6*elapsed.Hours()/run.Hours(), rss>>20)
			switch {
			case atHour == 0 && elapsed >= run/6:
				atHour = rss
			case atHour != 0:
				lo, hi = min(lo, rss), max(hi, rss)
			}
		}
		cancel()
		if err := d.Wait(); err != nil {
			b.Errorf("shutdown: %v", err)
		}
		b.ReportMetric(float64(atHour>>20), "MiB-at-1h")
		b.ReportMetric(float64(hi>>20), "MiB-max-after")
		b.ReportMetric(float64(lo>>20), "MiB-min-after")
		if atHour == 0 || hi > atHour*12/10 || lo < atHour*8/10 {
			b.Fatalf("RSS after the first hour between %d and %d MiB, against %d MiB at the first hour: not flat within 20%%", lo>>20, hi>>20, atHour>>20)
		}
	}
}

func selfRSS(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmRSS in /proc/self/status")
	return 0
}
