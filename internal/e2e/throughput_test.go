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

// BenchmarkClusterThroughput measures end-to-end throughput of `weir run`
// on the real broker: 1 process, 1 process of 2 workers (kafka.workers), 3
// processes; the time from start until the remote-write receiver holds the
// whole output of a fixed input (1M points, ≈200k spans). Run with
// -benchtime=1x; compare them in one run.
func BenchmarkClusterThroughput(b *testing.B) {
	for _, sh := range benchShapes() {
		procs := sh.procs
		b.Run(fmt.Sprintf("procs=%d/workers=%d", sh.procs, sh.workers), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				brokers := testenv.Kafka(b, 1)
				prefix := fmt.Sprintf("tp%d_%d_%d", procs, i, time.Now().UnixNano())
				spans, metrics := prefix+"_spans", prefix+"_metrics"
				scale := benchScale(b)
				in := genInput(b, spans, metrics, 26_000*scale, 1000*scale)
				produce(b, brokers, in, spans, metrics)
				dir := b.TempDir()
				os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(e2eRules), 0o644)
				set, err := rules.Load(filepath.Join(dir, "rules.yaml"))
				if err != nil {
					b.Fatal(err)
				}
				want := reference(b, in, set, spans, metrics)
				rw := newReceiver(b)
				weirBinary(b) // built before the clock starts
				b.StartTimer()
				start := time.Now()
				var ps []*proc
				for n := range procs {
					name := fmt.Sprint("p", n)
					ps = append(ps, startWeir(b, name, writeConfig(b, dir, name, brokers, rw.URL, spans, metrics, sh.workers)))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				if path := os.Getenv("WEIR_E2E_CPUPROFILE"); path != "" {
					go profileProc(ctx, ps[0], path, 5*time.Second)
				}
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
				// Polled every 100 ms: the clock reads up to that much late on
				// a run of tens of seconds, and the poll costs weir no core.
				waitFor(ctx, 100*time.Millisecond, func() bool {
					return rw.count(func(k string) bool { return stampOf(k) <= in.cutoff }) >= data
				})
				elapsed := time.Since(start)
				var cpu time.Duration
				for _, p := range ps {
					cpu += procCPU(b, p.cmd.Process.Pid)
				}
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
				b.ReportMetric(float64(in.points+in.spans)/cpu.Seconds(), "points+spans/weir-cpu-s")
				b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "weir-cores")
			}
		})
	}
}

// profileProc writes a CPU profile of p, seconds long, to path (for
// WEIR_E2E_CPUPROFILE): where a `weir run` spends its time under load.
func profileProc(ctx context.Context, p *proc, path string, d time.Duration) {
	addr := p.httpAddr(ctx)
	if addr == "" {
		return
	}
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
	}
}

// procCPU returns the user+system CPU time process pid has used, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// stampOf returns the timestamp at the end of a receiver key.
func stampOf(k string) int64 {
	i := strings.LastIndexByte(k, ' ')
	v, _ := strconv.ParseInt(k[i+1:], 10, 64)
	return v
}

// benchScale is WEIR_E2E_SCALE (default 1): the input is that many times
// 1M points and ≈200k spans. At 1 the figure is dominated by start-up and
// group joins; a larger input shows the steady state.
func benchScale(b *testing.B) int {
	v := os.Getenv("WEIR_E2E_SCALE")
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("WEIR_E2E_SCALE=%q: want a positive integer", v)
	}
	return n
}

type benchShape struct{ procs, workers int }

// benchShapes lists the deployments BenchmarkClusterThroughput compares;
// WEIR_E2E_PROCS=1 keeps the single-process ones.
func benchShapes() []benchShape {
	all := []benchShape{{1, 1}, {1, 2}, {3, 1}}
	if os.Getenv("WEIR_E2E_PROCS") == "1" {
		return all[:2]
	}
	return all
}
