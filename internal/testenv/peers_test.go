package testenv_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weirdev/weir/internal/testenv"
)

// poll calls f every 100 ms until it reports done or ctx ends.
func poll(t *testing.T, ctx context.Context, what string, f func() (done bool, err error)) {
	t.Helper()
	var last error
	for {
		done, err := f()
		if done {
			return
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func getJSON(ctx context.Context, u string, into any) (status int, err error) {
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
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GET %s: %d %s %v", u, resp.StatusCode, b, err)
	}
	return resp.StatusCode, json.Unmarshal(b, into)
}

// TestJaeger sends a span over OTLP gRPC and reads its trace back from the
// query API, as weir's trace sink and its end-to-end tests do.
func TestJaeger(t *testing.T) {
	otlp, query := testenv.Jaeger(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !strings.HasPrefix(otlp, "127.0.0.1:") || !strings.HasPrefix(query, "http://127.0.0.1:") {
		t.Fatalf("Jaeger at %s / %s, want 127.0.0.1", otlp, query)
	}

	var tid pcommon.TraceID
	var sid pcommon.SpanID
	rand.Read(tid[:])
	rand.Read(sid[:])
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "testenv-svc")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName("GET /checkout")
	start := time.Now().Add(-time.Second)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(1234 * time.Microsecond)))

	conn, err := grpc.NewClient(otlp, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		t.Fatalf("OTLP export to %s: %v", otlp, err)
	}

	var got struct {
		Data []struct {
			TraceID string `json:"traceID"`
			Spans   []struct {
				SpanID        string `json:"spanID"`
				OperationName string `json:"operationName"`
				Duration      int64  `json:"duration"`
			} `json:"spans"`
		} `json:"data"`
	}
	id := hex.EncodeToString(tid[:])
	poll(t, ctx, "the trace in Jaeger", func() (bool, error) {
		status, err := getJSON(ctx, query+"/api/traces/"+id, &got)
		return status == http.StatusOK && err == nil, err
	})
	if len(got.Data) != 1 || got.Data[0].TraceID != id || len(got.Data[0].Spans) != 1 {
		t.Fatalf("trace %s read back as %+v", id, got)
	}
	s := got.Data[0].Spans[0]
	if s.SpanID != hex.EncodeToString(sid[:]) || s.OperationName != "GET /checkout" || s.Duration != 1234 {
		t.Fatalf("span read back as %+v, want id %x, GET /checkout, 1234 µs", s, sid)
	}
}

// TestPrometheus remote-writes a sample with an exemplar and reads both
// back, as weir's remote-write sink and its end-to-end tests do.
func TestPrometheus(t *testing.T) {
	base := testenv.Prometheus(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("Prometheus at %s, want 127.0.0.1", base)
	}

	name := "testenv_requests_seconds"
	ts := time.Now().Add(-time.Minute).UnixMilli()
	traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
	wr := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:    []prompb.Label{{Name: "__name__", Value: name}, {Name: "quantile", Value: "0.99"}},
		Samples:   []prompb.Sample{{Value: 0.25, Timestamp: ts}},
		Exemplars: []prompb.Exemplar{{Labels: []prompb.Label{{Name: "trace_id", Value: traceID}}, Value: 0.25, Timestamp: ts}},
	}}}
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("remote write: %d %s, want 204", resp.StatusCode, body)
	}

	var q struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	sec := strconv.FormatFloat(float64(ts)/1000, 'f', 3, 64)
	if _, err := getJSON(ctx, base+"/api/v1/query?"+url.Values{"query": {name}, "time": {sec}}.Encode(), &q); err != nil {
		t.Fatal(err)
	}
	if len(q.Data.Result) != 1 || q.Data.Result[0].Value[1] != "0.25" {
		t.Fatalf("query %s = %+v, want one sample 0.25", name, q.Data.Result)
	}

	var ex struct {
		Data []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
				Value  string            `json:"value"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	from, to := strconv.FormatInt(ts/1000-60, 10), strconv.FormatInt(ts/1000+60, 10)
	if _, err := getJSON(ctx, base+"/api/v1/query_exemplars?"+url.Values{"query": {name}, "start": {from}, "end": {to}}.Encode(), &ex); err != nil {
		t.Fatal(err)
	}
	if len(ex.Data) != 1 || len(ex.Data[0].Exemplars) != 1 || ex.Data[0].Exemplars[0].Labels["trace_id"] != traceID {
		t.Fatalf("exemplars of %s = %+v, want one with trace_id %s", name, ex.Data, traceID)
	}
}

// TestChromium renders a page headless and reads its DOM back.
func TestChromium(t *testing.T) {
	bin := testenv.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	page := filepath.Join(t.TempDir(), "p.html")
	if err := os.WriteFile(page, []byte(`<html><body><p id="x"></p><script>document.getElementById("x").textContent = "weir-" + (20+22)</script></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+page).Output()
	if err != nil {
		t.Fatalf("%s --dump-dom: %v", bin, err)
	}
	if !bytes.Contains(out, []byte("weir-42")) {
		t.Fatalf("the DOM lacks the script's output weir-42:\n%s", out)
	}
}
