package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirdev/weir/internal/testenv"
	"github.com/weirdev/weir/rules"
)

// BenchmarkClusterThroughput measures end-to-end throughput of 1 and of 3
// `weir run` processes on the real broker: the time from start until the
// remote-write receiver holds the whole output of a fixed input (1M
// points, ≈200k spans). Run with -benchtime=1x; compare the two in one run.
func BenchmarkClusterThroughput(b *testing.B) {
	for _, procs := range benchProcs() {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				brokers := testenv.Kafka(b, 1)
				prefix := fmt.Sprintf("tp%d_%d_%d", procs, i, time.Now().UnixNano())
				spans, metrics := prefix+"_spans", prefix+"_metrics"
				in := genInput(b, spans, metrics, 26_000, 1000)
				produce(b, brokers, in, spans, metrics)
				dir := b.TempDir()
				os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(e2eRules), 0o644)
				set, err := rules.Load(filepath.Join(dir, "rules.yaml"))
				if err != nil {
					b.Fatal(err)
				}
				want := reference(b, in, set, spans, metrics)
				rw := newReceiver(b)
				b.StartTimer()
				start := time.Now()
				var ps []*proc
				for n := range procs {
					name := fmt.Sprint("p", n)
					ps = append(ps, startWeir(b, name, writeConfig(b, dir, name, brokers, rw.URL, spans, metrics)))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				// The end markers close every data window by watermark; the
				// markers' own windows wait for the idle timeout, which is not
				// work: the clock stops when every data sample arrived.
				data := 0
				for k := range want {
					if stampOf(k) <= in.cutoff {
						data++
					}
				}
				if os.Getenv("WEIR_E2E_LOGS") != "" {
					go func() {
						time.Sleep(10 * time.Second)
						lb, _ := os.ReadFile(ps[0].log)
						i := strings.Index(string(lb), "listen=")
						addr := strings.Fields(string(lb[i+7:]))[0]
						resp, err := http.Get("http://" + addr + "/metrics")
						if err == nil {
							mb, _ := io.ReadAll(resp.Body)
							for _, l := range strings.Split(string(mb), "\n") {
								if strings.HasPrefix(l, "weir_stage") || strings.HasPrefix(l, "weir_aggregator") {
									fmt.Fprintln(os.Stderr, "M", l)
								}
							}
						}
					}()
				}
				waitFor(ctx, 20*time.Millisecond, func() bool {
					got, _ := rw.snapshot()
					n := 0
					for k := range got {
						if stampOf(k) <= in.cutoff {
							n++
						}
					}
					return n >= data
				})
				elapsed := time.Since(start)
				cancel()
				b.StopTimer()
				for _, p := range ps {
					p.kill()
					if os.Getenv("WEIR_E2E_LOGS") != "" {
						lb, _ := os.ReadFile(p.log)
						fmt.Fprintf(os.Stderr, "log of %s:\n%s\n", p.name, lb)
					}
				}
				b.ReportMetric(float64(in.points+in.spans)/elapsed.Seconds(), "points+spans/s")
			}
		})
	}
}

// stampOf returns the timestamp at the end of a receiver key.
func stampOf(k string) int64 {
	i := strings.LastIndexByte(k, ' ')
	v, _ := strconv.ParseInt(k[i+1:], 10, 64)
	return v
}

func benchProcs() []int {
	if os.Getenv("WEIR_E2E_PROCS") == "1" {
		return []int{1}
	}
	return []int{1, 3}
}
