package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/prompb"

	"github.com/weirdev/weir/sinks/sendqueue"
)

// newClient starts a client with short backoffs and one shard, closed (at
// once, giving up) when the test ends.
func newClient(t *testing.T, url string, opts ...Opt) *Client {
	t.Helper()
	c, err := New(url, append([]Opt{WithBackoff(time.Millisecond, 5*time.Millisecond), WithShards(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = c.Close(ctx)
	})
	return c
}

// write enqueues series and flushes.
func write(c *Client, series ...prompb.TimeSeries) error {
	if err := c.Enqueue(context.Background(), series); err != nil {
		return err
	}
	return c.Flush(context.Background())
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEncodesRequest(t *testing.T) {
	rc := newReceiver(t, nil)
	c := newClient(t, rc.url(), WithHeaders(map[string]string{
		"M3-Metrics-Type":   "aggregated",
		"M3-Storage-Policy": "1m:40d",
	}))
	in := []prompb.TimeSeries{
		series("http_server_duration_p99", 1000, 2, true),
		series("http_server_duration_count", 1000, 1, false),
		series("http_server_duration_p50", 1000, 1, true),
	}
	in[1].Histograms = []prompb.Histogram{{Count: &prompb.Histogram_CountInt{CountInt: 3}, Sum: 1.5, Timestamp: 1000}}

	if err := write(c, in...); err != nil {
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
	ex := reqs[0].req.Timeseries[0].Exemplars
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

// refusing answers code with body to the requests when picks, and 204 to the
// others.
func refusing(code int, body string, when func(*received) bool) func(int, *received, http.ResponseWriter) int {
	return func(_ int, r *received, w http.ResponseWriter) int {
		if !when(r) {
			return 0
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
		return -1
	}
}

func holding(name string) func(*received) bool {
	return func(r *received) bool {
		return slices.ContainsFunc(r.req.Timeseries, func(ts prompb.TimeSeries) bool { return ts.Labels[0].Value == name })
	}
}

func always(*received) bool { return true }

func heavy(r *received) bool { return weightOf(r.req.Timeseries) > 1 }

type drop struct{ samples, exemplars float64 }

// TestAnswersAreClassified sends one batch (good1: 1 sample; bad: 1 sample
// and 1 exemplar; good2: 2 samples) to a receiver answering one way per case,
// and checks what was retried, split, written and dropped.
func TestAnswersAreClassified(t *testing.T) {
	batch := func() []prompb.TimeSeries {
		return []prompb.TimeSeries{series("good1", 1, 1, false), series("bad", 1, 1, true), series("good2", 1, 2, false)}
	}
	for _, tc := range []struct {
		name      string
		codes     []int // answered in turn before 204 (when respond is nil)
		respond   func(int, *received, http.ResponseWriter) int
		fault     bool // the client reports a configuration fault while codes are answered
		permanent bool // Flush reports samples dropped for good
		acked     drop
		dropped   map[string]drop
		requests  int // 0: not checked
	}{
		{name: "503 retried", codes: []int{503, 500}, acked: drop{4, 1}, requests: 3},
		{name: "429 retried", codes: []int{429}, acked: drop{4, 1}, requests: 2},
		{name: "408 retried", codes: []int{408}, acked: drop{4, 1}, requests: 2},
		{name: "401 is a fault", codes: []int{401, 401}, fault: true, acked: drop{4, 1}, requests: 3},
		{name: "403 is a fault", codes: []int{403}, fault: true, acked: drop{4, 1}, requests: 2},
		{name: "404 is a fault", codes: []int{404}, fault: true, acked: drop{4, 1}, requests: 2},
		{name: "407 is a fault", codes: []int{407}, fault: true, acked: drop{4, 1}, requests: 2},
		{name: "unfollowed redirect is a fault", codes: []int{308}, fault: true, acked: drop{4, 1}, requests: 2},
		{name: "413 splits until the parts pass", respond: refusing(413, "too big", heavy), acked: drop{4, 1}},
		{
			name: "413 for one sample drops it", respond: refusing(413, "too big", holding("bad")), permanent: true,
			acked: drop{3, 0}, dropped: map[string]drop{reasonTooLarge: {1, 1}},
		},
		{
			name: "400 out of order drops only those samples", respond: refusing(400, "out of order sample", holding("bad")), permanent: true,
			acked: drop{3, 0}, dropped: map[string]drop{reasonOutOfOrder: {1, 1}},
		},
		{
			name: "409 duplicate drops only those samples", respond: refusing(409, "duplicate sample for timestamp", holding("bad")), permanent: true,
			acked: drop{3, 0}, dropped: map[string]drop{reasonDuplicate: {1, 1}},
		},
		{
			name: "400 too old (Mimir)", respond: refusing(400, "err-mimir-sample-timestamp-too-old", holding("bad")), permanent: true,
			acked: drop{3, 0}, dropped: map[string]drop{reasonTooOld: {1, 1}},
		},
		{
			name: "400 without a reason", respond: refusing(400, "unexpected EOF", holding("bad")), permanent: true,
			acked: drop{3, 0}, dropped: map[string]drop{reasonRejected: {1, 1}},
		},
		{
			name: "422 drops the request whole", respond: refusing(422, "unprocessable", always), permanent: true,
			dropped: map[string]drop{reasonRejected: {4, 1}}, requests: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *Client
			var sawFault atomic.Bool
			respond := tc.respond
			if respond == nil {
				respond = func(n int, _ *received, _ http.ResponseWriter) int {
					if n == len(tc.codes) && c.Fault() != nil && testutil.ToFloat64(c.m.configFault) == 1 {
						sawFault.Store(true)
					}
					return answering(tc.codes...)(n, nil, nil)
				}
			}
			rc := newReceiver(t, respond)
			c = newClient(t, rc.url())
			err := write(c, batch()...)
			if tc.permanent {
				if !errors.Is(err, sendqueue.ErrPermanent) {
					t.Errorf("Flush = %v, want ErrPermanent", err)
				}
			} else if err != nil {
				t.Errorf("Flush = %v, want nil", err)
			}
			if sawFault.Load() != tc.fault {
				t.Errorf("fault reported while refused: %v, want %v", sawFault.Load(), tc.fault)
			}
			if c.Fault() != nil || testutil.ToFloat64(c.m.configFault) != 0 {
				t.Errorf("after the batch was accepted: Fault() = %v, gauge %v; want nil and 0", c.Fault(), testutil.ToFloat64(c.m.configFault))
			}
			if got := (drop{testutil.ToFloat64(c.m.samples), testutil.ToFloat64(c.m.exemplars)}); got != tc.acked {
				t.Errorf("acknowledged samples, exemplars = %v, want %v", got, tc.acked)
			}
			for _, r := range dropReasons {
				got := drop{testutil.ToFloat64(c.m.droppedSamples.WithLabelValues(r)), testutil.ToFloat64(c.m.droppedExemplars.WithLabelValues(r))}
				if got != tc.dropped[r] {
					t.Errorf("dropped{reason=%s} = %v, want %v", r, got, tc.dropped[r])
				}
			}
			if n := len(rc.requests()); tc.requests > 0 && n != tc.requests {
				t.Errorf("receiver got %d requests, want %d", n, tc.requests)
			}
			if n := testutil.ToFloat64(c.m.retries); n != float64(len(tc.codes)) {
				t.Errorf("retries_total = %v, want %d", n, len(tc.codes))
			}
		})
	}
}

// TestFaultHoldsFlush: while the receiver answers 401, Flush does not return
// and nothing is dropped; once it accepts, Flush returns nil with every
// sample written.
func TestFaultHoldsFlush(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	var refused atomic.Int64
	rc := newReceiver(t, func(_ int, _ *received, _ http.ResponseWriter) int {
		if refuse.Load() {
			refused.Add(1)
			return http.StatusUnauthorized
		}
		return 0
	})
	c := newClient(t, rc.url(), WithBatchSendDeadline(0)) // no Flush before the fault shows
	if err := c.Enqueue(context.Background(), []prompb.TimeSeries{series("up", 1, 3, true)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a configuration fault", func() bool { return c.Fault() != nil && refused.Load() >= 3 })
	if f := c.Fault(); !strings.Contains(f.Error(), "401") || !strings.Contains(f.Error(), "basic_auth") {
		t.Errorf("Fault() = %v, want the status and what to check", f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(ctx) }()
	waitFor(t, "more refused retries", func() bool { return refused.Load() >= 6 })
	cancel()
	if err := <-flushed; !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush during the fault = %v, want it held until its context ended", err)
	}
	refuse.Store(false)
	if err := c.Flush(context.Background()); err != nil {
		t.Fatalf("Flush once accepted = %v", err)
	}
	if n := testutil.ToFloat64(c.m.samples); n != 3 {
		t.Errorf("samples_total = %v, want 3", n)
	}
	for _, r := range dropReasons {
		if n := testutil.ToFloat64(c.m.droppedSamples.WithLabelValues(r)); n != 0 {
			t.Errorf("dropped{reason=%s} = %v, want 0", r, n)
		}
	}
	if c.Fault() != nil {
		t.Errorf("Fault() after acceptance = %v", c.Fault())
	}
}

// TestRetryAfterHonoured sets a backoff of an hour: the retry can only come
// within the test's deadline if the Retry-After of 0 seconds is obeyed.
func TestRetryAfterHonoured(t *testing.T) {
	rc := newReceiver(t, func(n int, _ *received, w http.ResponseWriter) int {
		if n == 0 {
			w.Header().Set("Retry-After", "0")
			return http.StatusTooManyRequests
		}
		return 0
	})
	c := newClient(t, rc.url(), WithBackoff(time.Hour, time.Hour))
	if err := write(c, series("up", 1, 1, false)); err != nil {
		t.Fatal(err)
	}
	if got := len(rc.requests()); got != 2 {
		t.Errorf("receiver got %d requests, want 2", got)
	}
}

func TestErrorBodyIsTruncated(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		w.Write(bytes.Repeat([]byte("x"), 100_000))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	err := write(c, series("up", 1, 1, false))
	if !errors.Is(err, sendqueue.ErrPermanent) {
		t.Fatalf("err = %v, want ErrPermanent", err)
	}
	if msg := err.Error(); !strings.Contains(msg, strings.Repeat("x", errBodyBytes)) || strings.Contains(msg, strings.Repeat("x", errBodyBytes+1)) {
		t.Errorf("error %q does not carry exactly %d bytes of the body", msg, errBodyBytes)
	}
}

// TestNetworkErrorRetriedUntilClose: nothing listens at the URL; the client
// retries until Close gives up, then counts the samples as unsent.
func TestNetworkErrorRetriedUntilClose(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()

	c := newClient(t, url, WithBatchSendDeadline(0))
	if err := c.Enqueue(context.Background(), []prompb.TimeSeries{series("up", 1, 2, true)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "retries", func() bool { return testutil.ToFloat64(c.m.requests.WithLabelValues("error")) >= 3 })
	if c.Fault() != nil {
		t.Errorf("an outage reported as a configuration fault: %v", c.Fault())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Close(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	if n := testutil.ToFloat64(c.m.droppedSamples.WithLabelValues(reasonClosed)); n != 2 {
		t.Errorf("dropped_samples{reason=closed} = %v, want 2", n)
	}
	if n := testutil.ToFloat64(c.m.retries); n < 2 {
		t.Errorf("retries_total = %v, want at least 2", n)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		url  string
		opts []Opt
		want string
	}{
		{url: "", want: "scheme must be http or https"},
		{url: "localhost:9090/api/v1/write", want: "scheme must be http or https"},
		{url: "ftp://host/write", want: `invalid URL "ftp://host/write"`},
		{url: "http:///api/v1/write", want: "no host"},
		{url: "http://h\x7f/", want: "invalid URL"},
		{url: "http://h/", opts: []Opt{WithTimeout(0)}, want: "timeout 0s"},
		{url: "http://h/", opts: []Opt{WithBackoff(time.Second, time.Millisecond)}, want: "backoff min 1s max 1ms"},
		{url: "http://h/", opts: []Opt{WithBackoff(-time.Second, 0)}, want: "backoff min -1s"},
		{url: "http://h/", opts: []Opt{WithBackoff(0, time.Millisecond)}, want: "backoff min 30ms max 1ms"},
		{url: "http://h/", opts: []Opt{WithShards(0)}, want: "shards 0"},
		{url: "http://h/", opts: []Opt{WithCapacity(0)}, want: "capacity 0"},
		{url: "http://h/", opts: []Opt{WithMaxSamplesPerSend(0)}, want: "max samples per send 0"},
		{url: "http://h/", opts: []Opt{WithBatchSendDeadline(-time.Second)}, want: "batch send deadline -1s"},
		{url: "http://h/", opts: []Opt{WithLogger(nil)}, want: "logger is nil"},
		{url: "http://h/", opts: []Opt{WithHeaders(map[string]string{"Bad Name": "x"})}, want: `header name "Bad Name"`},
		{url: "http://h/", opts: []Opt{WithHeaders(map[string]string{"X-A": "a\r\nX-B: b"})}, want: `header "X-A": the value holds a byte`},
		{url: "http://h/", opts: []Opt{WithHeaders(map[string]string{"content-encoding": "gzip"})}, want: `header "content-encoding": set by the client`},
		{url: "http://h/", opts: []Opt{WithHeaders(map[string]string{"Authorization": "Bearer x"})}, want: `header "Authorization": set by the client`},
		{url: "http://h/", opts: []Opt{WithTenantHeader("X-Scope-OrgID", "tenant"), WithHeaders(map[string]string{"x-scope-orgid": "a"})}, want: `header "x-scope-orgid": set by the client`},
		{url: "http://h/", opts: []Opt{WithTenantHeader("X Scope", "tenant")}, want: `tenant header "X Scope"`},
		{url: "http://h/", opts: []Opt{WithTenantHeader("X-Scope-OrgID", "")}, want: "give both or neither"},
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
	defer c.Close(context.Background())
	if got, want := c.URL(), "https://m3.example:7201/api/v1/prom/remote/write"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
}

func TestMetricsRegistration(t *testing.T) {
	rc := newReceiver(t, nil)
	reg := prometheus.NewPedanticRegistry()
	c := newClient(t, rc.url(), WithRegisterer(reg), WithName("policy-a"))
	if err := write(c, series("up", 1, 1, true)); err != nil {
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
			if url != rc.url() || name != "policy-a" {
				t.Errorf("%s has url=%q name=%q", mf.GetName(), url, name)
			}
		}
	}
	want := []string{
		"weir_remote_write_config_fault",
		"weir_remote_write_dropped_exemplars_total",
		"weir_remote_write_dropped_samples_total",
		"weir_remote_write_exemplars_total",
		"weir_remote_write_queue_length",
		"weir_remote_write_request_duration_seconds",
		"weir_remote_write_requests_total",
		"weir_remote_write_retries_total",
		"weir_remote_write_samples_total",
	}
	if !slices.Equal(names, want) {
		t.Errorf("registered metrics = %v, want %v", names, want)
	}

	if _, err := New(rc.url(), WithRegisterer(reg), WithName("policy-a")); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second client with the same url and name: err = %v, want already registered", err)
	}
	c2, err := New(rc.url(), WithRegisterer(reg), WithName("policy-b"))
	if err != nil {
		t.Fatalf("client with another name: %v", err)
	}
	c2.Close(context.Background())
}
