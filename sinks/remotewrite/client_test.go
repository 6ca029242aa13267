package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/prompb"
)

func newClient(t *testing.T, url string, opts ...Opt) *Client {
	t.Helper()
	c, err := New(url, append([]Opt{WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSendEncodesRequest(t *testing.T) {
	rc := newReceiver(t, nil)
	c := newClient(t, rc.url(), WithHeaders(map[string]string{
		"X-Scope-OrgID":     "tenant-a",
		"M3-Metrics-Type":   "aggregated",
		"M3-Storage-Policy": "1m:40d",
	}))
	in := []prompb.TimeSeries{
		series("http_server_duration_p99", 1000, 2, true),
		series("http_server_duration_count", 1000, 1, false),
		series("http_server_duration_p50", 1000, 1, true),
	}
	in[1].Histograms = []prompb.Histogram{{Count: &prompb.Histogram_CountInt{CountInt: 3}, Sum: 1.5, Timestamp: 1000}}

	if err := c.Send(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	h := reqs[0].header
	for k, want := range map[string]string{
		"Content-Encoding":                  "snappy",
		"Content-Type":                      "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
		"User-Agent":                        "weir",
		"X-Scope-Orgid":                     "tenant-a",
		"M3-Metrics-Type":                   "aggregated",
		"M3-Storage-Policy":                 "1m:40d",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	want, err := (&prompb.WriteRequest{Timeseries: in}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reqs[0].raw, want) {
		t.Errorf("decoded body differs from the WriteRequest of the input")
	}
	got := reqs[0].req.Timeseries
	if len(got) != 3 || len(got[0].Samples) != 2 || got[0].Samples[1].Timestamp != 1001 || got[1].Histograms[0].Sum != 1.5 {
		t.Fatalf("decoded series = %+v", got)
	}
	ex := got[0].Exemplars
	if len(ex) != 1 || ex[0].Value != 0.25 || ex[0].Timestamp != 1001 ||
		!labelsEqual(ex[0].Labels, []prompb.Label{{Name: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}, {Name: "span_id", Value: "00f067aa0ba902b7"}}) {
		t.Errorf("decoded exemplars = %+v", ex)
	}
	if n := testutil.ToFloat64(c.m.samples); n != 5 {
		t.Errorf("samples_total = %v, want 5 (4 float + 1 histogram)", n)
	}
	if n := testutil.ToFloat64(c.m.exemplars); n != 2 {
		t.Errorf("exemplars_total = %v, want 2", n)
	}
	if n := testutil.ToFloat64(c.m.requests.WithLabelValues("204")); n != 1 {
		t.Errorf("requests_total{code=204} = %v, want 1", n)
	}
	if n := testutil.CollectAndCount(c.m.duration); n != 1 {
		t.Errorf("duration histogram series = %d, want 1", n)
	}
}

func TestSendRetries5xx(t *testing.T) {
	rc := newReceiver(t, func(n int, _ http.ResponseWriter) int {
		if n < 2 {
			return []int{http.StatusServiceUnavailable, http.StatusInternalServerError}[n]
		}
		return 0
	})
	c := newClient(t, rc.url())
	in := []prompb.TimeSeries{series("up", 1, 3, true)}
	if err := c.Send(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(reqs))
	}
	for i := range reqs[1:] {
		if !bytes.Equal(reqs[i+1].raw, reqs[0].raw) {
			t.Errorf("retry %d sent a different body", i+1)
		}
	}
	if n := testutil.ToFloat64(c.m.retries); n != 2 {
		t.Errorf("retries_total = %v, want 2", n)
	}
	if n := testutil.ToFloat64(c.m.samples); n != 3 {
		t.Errorf("samples_total = %v, want 3 (counted once)", n)
	}
	for code, want := range map[string]float64{"503": 1, "500": 1, "204": 1} {
		if n := testutil.ToFloat64(c.m.requests.WithLabelValues(code)); n != want {
			t.Errorf("requests_total{code=%s} = %v, want %v", code, n, want)
		}
	}
}

// TestSend429HonoursRetryAfter sets a backoff of an hour: the retry can only
// come within the test's deadline if the Retry-After of 0 seconds is obeyed.
func TestSend429HonoursRetryAfter(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
		if n == 0 {
			w.Header().Set("Retry-After", "0")
			return http.StatusTooManyRequests
		}
		return 0
	})
	c := newClient(t, rc.url(), WithBackoff(time.Hour, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Send(ctx, []prompb.TimeSeries{series("up", 1, 1, false)}); err != nil {
		t.Fatal(err)
	}
	if got := len(rc.requests()); got != 2 {
		t.Errorf("receiver got %d requests, want 2", got)
	}
	if n := testutil.ToFloat64(c.m.requests.WithLabelValues("429")); n != 1 {
		t.Errorf("requests_total{code=429} = %v, want 1", n)
	}
}

func TestSend4xxNotRetried(t *testing.T) {
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return http.StatusBadRequest })
	c := newClient(t, rc.url())
	err := c.Send(context.Background(), []prompb.TimeSeries{series("up", 1, 2, true), series("down", 1, 1, false)})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	for _, want := range []string{"400 Bad Request", "answer 400 to request 0", rc.srv.URL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if got := len(rc.requests()); got != 1 {
		t.Errorf("receiver got %d requests, want 1", got)
	}
	if n := testutil.ToFloat64(c.m.rejectedSamples); n != 4 {
		t.Errorf("rejected_samples_total = %v, want 4 (3 samples + 1 exemplar)", n)
	}
	if n := testutil.ToFloat64(c.m.retries); n != 0 {
		t.Errorf("retries_total = %v, want 0", n)
	}
	if n := testutil.ToFloat64(c.m.samples); n != 0 {
		t.Errorf("samples_total = %v, want 0", n)
	}
}

func TestSendErrorBodyIsTruncated(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		w.Write(bytes.Repeat([]byte("x"), 100_000))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	err := c.Send(context.Background(), []prompb.TimeSeries{series("up", 1, 1, false)})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	if n := strings.Count(err.Error(), "x"); n != errBodyBytes {
		t.Errorf("error carries %d bytes of the body, want %d", n, errBodyBytes)
	}
}

func TestSendNetworkErrorRetriedUntilContextDone(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more: every attempt fails to connect

	c := newClient(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := c.Send(ctx, []prompb.TimeSeries{series("up", 1, 1, false)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if errors.Is(err, ErrRejected) {
		t.Errorf("network error reported as rejection: %v", err)
	}
	if !strings.Contains(err.Error(), "last error") || !strings.Contains(err.Error(), url) {
		t.Errorf("error %q does not name the URL and the last attempt's error", err)
	}
	if n := testutil.ToFloat64(c.m.retries); n < 1 {
		t.Errorf("retries_total = %v, want at least 1", n)
	}
	if n := testutil.ToFloat64(c.m.requests.WithLabelValues("error")); n < 2 {
		t.Errorf("requests_total{code=error} = %v, want at least 2", n)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		url  string
		opts []Opt
		want string
	}{
		{url: "", want: `invalid URL ""`},
		{url: "localhost:9090/api/v1/write", want: "scheme must be http or https"},
		{url: "ftp://host/write", want: `invalid URL "ftp://host/write"`},
		{url: "http:///api/v1/write", want: "no host"},
		{url: "http://h\x7f/", want: "invalid URL"},
		{url: "http://h/", opts: []Opt{WithTimeout(0)}, want: "timeout 0s"},
		{url: "http://h/", opts: []Opt{WithBackoff(time.Second, time.Millisecond)}, want: "backoff min 1s max 1ms"},
		{url: "http://h/", opts: []Opt{WithBackoff(0, time.Millisecond)}, want: "backoff min 0s"},
		{url: "http://h/", opts: []Opt{WithLogger(nil)}, want: "logger is nil"},
		{url: "http://h/", opts: []Opt{WithHeaders(map[string]string{"Bad Name": "x"})}, want: `header name "Bad Name"`},
		{url: "http://h/", opts: []Opt{WithHeaders(map[string]string{"X-A": "a\r\nX-B: b"})}, want: `header "X-A" value`},
		{url: "http://h/", opts: []Opt{WithHeaders(map[string]string{"content-encoding": "gzip"})}, want: `header "content-encoding": set by the client`},
	} {
		_, err := New(tc.url, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q) error = %v, want one containing %q", tc.url, err, tc.want)
		}
	}
}

func TestURLHidesCredentials(t *testing.T) {
	c, err := New("https://user:secret@m3.example:7201/api/v1/prom/remote/write?token=abc")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.URL(), "https://m3.example:7201/api/v1/prom/remote/write"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
}

func TestMetricsRegistration(t *testing.T) {
	rc := newReceiver(t, nil)
	reg := prometheus.NewPedanticRegistry()
	c := newClient(t, rc.url(), WithRegisterer(reg), WithName("tenant-a"))
	q := NewQueue(c)
	if err := q.Enqueue(context.Background(), []prompb.TimeSeries{series("up", 1, 1, true)}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		for _, m := range mf.GetMetric() {
			var url, name string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "url":
					url = lp.GetValue()
				case "name":
					name = lp.GetValue()
				}
			}
			if url != rc.url() || name != "tenant-a" {
				t.Errorf("%s has url=%q name=%q", mf.GetName(), url, name)
			}
		}
	}
	want := []string{
		"weir_remote_write_exemplars_total",
		"weir_remote_write_queue_length",
		"weir_remote_write_rejected_samples_total",
		"weir_remote_write_request_duration_seconds",
		"weir_remote_write_requests_total",
		"weir_remote_write_retries_total",
		"weir_remote_write_samples_total",
	}
	if !slices.Equal(names, want) {
		t.Errorf("registered metrics = %v, want %v", names, want)
	}

	if _, err := New(rc.url(), WithRegisterer(reg), WithName("tenant-a")); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second client with the same url and name: err = %v, want already registered", err)
	}
	if _, err := New(rc.url(), WithRegisterer(reg), WithName("tenant-b")); err != nil {
		t.Errorf("client with another name: %v", err)
	}
}
