package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/weirdev/weir/internal/config"
	"github.com/weirdev/weir/pipeline"
	"github.com/weirdev/weir/pipeline/pipelinetest"
	"github.com/weirdev/weir/plan"
	"github.com/weirdev/weir/rules"
)

// rwSink is a remote-write endpoint that records every sample with the M3
// headers of the request that carried it.
type rwSink struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	got []string // "M3-Metrics-Type M3-Storage-Policy | series@t=v"
}

func newReceiver(t *testing.T) *rwSink {
	rc := &rwSink{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *rwSink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	raw, err := snappy.Decode(nil, body)
	var wr prompb.WriteRequest
	if err == nil {
		err = wr.Unmarshal(raw)
	}
	if err != nil {
		rc.t.Errorf("receiver: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	head := strings.TrimSpace(r.Header.Get("M3-Metrics-Type") + " " + r.Header.Get("M3-Storage-Policy"))
	rc.mu.Lock()
	for _, ts := range wr.Timeseries {
		var ls []string
		name := ""
		for _, l := range ts.Labels {
			if l.Name == "__name__" {
				name = l.Value
				continue
			}
			ls = append(ls, fmt.Sprintf("%s=%q", l.Name, l.Value))
		}
		for _, s := range ts.Samples {
			rc.got = append(rc.got, fmt.Sprintf("%s | %s{%s}@%d=%g", head, name, strings.Join(ls, ","), (s.Timestamp-base)/1000, s.Value))
		}
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *rwSink) samples() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := slices.Clone(rc.got)
	slices.Sort(out)
	return out
}

// base is a minute boundary an hour ago; received timestamps are printed in
// seconds after it.
var base = time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()

// One rule, two storage policies.
const routedRules = `
rollup:
  - name: lat
    match: lat
    output: 'lat:svc'
    by: [svc]
    aggregations: [sum]
    policies: [10s:2d, 1m:40d]
`

// feed runs a minute of lat points (one per second, value 1) through a
// pipeline writing to the remote-write destinations of cfgText, and closes
// the queues. kafka replaces the kafka block (default: broker "a").
func feed(t *testing.T, cfgText string, kafka ...string) {
	t.Helper()
	rulesFile := writeTemp(t, "rules.yaml", routedRules)
	if kafka == nil {
		kafka = []string{"kafka: {brokers: [a]}\n"}
	}
	cfg, err := config.Parse([]byte(strings.Join(kafka, "") + "rules: [" + rulesFile + "]\n" + cfgText))
	if err != nil {
		t.Fatal(err)
	}
	s, err := rules.Load(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckRouting(s); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	series, queues, err := seriesSinks(context.Background(), cfg, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	l, err := pipelinetest.New(pipeline.Config{Plan: plan.Config{Rules: s, Unmatched: plan.Unmatched{Drop: cfg.Unmatched.Drop, Policies: cfg.UnmatchedPolicies()}},
		Series: series, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	for sec := range int64(60) {
		m := sm.Metrics().AppendEmpty()
		m.SetName("lat")
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.Timestamp((base + sec*1000) * int64(time.Millisecond)))
		dp.SetDoubleValue(1)
		dp.Attributes().PutStr("svc", "cart")
		dp.Attributes().PutStr("pod", fmt.Sprint("pod-", sec%3))
	}
	raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Handle(pipeline.Record{Value: raw}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range queues {
		if err := q.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoutingByStoragePolicy(t *testing.T) {
	// What each resolution writes: six 10s windows, one 1m window.
	var tenSec []string
	for end := 10; end <= 60; end += 10 {
		tenSec = append(tenSec, fmt.Sprintf(`lat:svc_sum{svc="cart"}@%d=10`, end))
	}
	oneMin := []string{`lat:svc_sum{svc="cart"}@60=60`}
	prefixed := func(head string, ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = head + " | " + s
		}
		return out
	}
	check := func(t *testing.T, rc *rwSink, want []string) {
		t.Helper()
		slices.Sort(want)
		if got := rc.samples(); !slices.Equal(got, want) {
			t.Errorf("%s received:\n%s\nwant:\n%s", rc.srv.URL, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	t.Run("a destination per policy", func(t *testing.T) {
		short, long := newReceiver(t), newReceiver(t)
		feed(t, fmt.Sprintf("remote_write:\n  - {url: '%s', policies: [10s:2d]}\n  - {url: '%s', policies: [1m:40d]}\n",
			short.srv.URL, long.srv.URL))
		check(t, short, prefixed("", tenSec))
		check(t, long, prefixed("", oneMin))
	})
	t.Run("one M3 coordinator, one namespace per policy", func(t *testing.T) {
		m3 := newReceiver(t)
		feed(t, fmt.Sprintf("remote_write:\n  - {url: '%s', policies: [10s:2d, 1m:40d], m3_storage_policy_headers: true}\n", m3.srv.URL))
		check(t, m3, append(prefixed("aggregated 10s:48h", tenSec), prefixed("aggregated 1m:960h", oneMin)...))
	})
	t.Run("M3 for the long tier, Prometheus for the rest", func(t *testing.T) {
		prom, m3 := newReceiver(t), newReceiver(t)
		feed(t, fmt.Sprintf("remote_write:\n  - {url: '%s'}\n  - {url: '%s', policies: [1m:40d], m3_storage_policy_headers: true}\n",
			prom.srv.URL, m3.srv.URL))
		check(t, prom, prefixed("", tenSec))
		check(t, m3, prefixed("aggregated 1m:960h", oneMin))
	})
}

func TestRunRefusesRulesItCannotRoute(t *testing.T) {
	rulesFile := writeTemp(t, "rules.yaml", routedRules)
	cfg := writeTemp(t, "weir.yaml", "kafka: {brokers: [127.0.0.1:1]}\nrules: ["+rulesFile+"]\n"+
		"listen: 127.0.0.1:0\nremote_write:\n  - {url: 'http://127.0.0.1:1/api/v1/write'}\n")
	code, _, stderr := weir(t, "run", "-config", cfg)
	want := rulesFile + `:3:5: rollup rule "lat": storage policies 10s:2d and 1m:40d both go to http://127.0.0.1:1/api/v1/write (remote_write[0]) without M3 storage-policy headers`
	if code != 2 || !strings.HasPrefix(stderr, want) {
		t.Errorf("weir run: exit %d, stderr:\n%s\nwant exit 2 and\n%s...", code, stderr, want)
	}
}
