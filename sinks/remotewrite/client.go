// Package remotewrite sends series to Prometheus-compatible storage
// (Prometheus, M3, VictoriaMetrics, Mimir, Thanos receive) with the remote
// write 1.0 protocol: a snappy-compressed prompb.WriteRequest POSTed over
// HTTP. Exemplars travel in TimeSeries.Exemplars with trace_id and span_id
// labels.
//
// A Client sends one batch at a time and retries what can be retried. A Queue
// puts a bounded buffer and a fixed number of workers in front of a Client so
// that callers get backpressure instead of unbounded memory.
package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// ErrRejected is wrapped by Send's error when the receiver answered with a
// status that retrying cannot fix (a 4xx other than 429, or an unexpected
// 1xx/3xx). The batch is lost; its samples are counted in
// weir_remote_write_rejected_samples_total.
var ErrRejected = errors.New("remote write rejected")

// errBodyBytes is how much of an error answer's body goes into the error.
const errBodyBytes = 256

// Client writes batches of series to one remote-write endpoint. It is safe
// for concurrent use.
type Client struct {
	url     string
	logURL  string // url without user info, query and fragment: safe to log and label
	cfg     config
	hc      *http.Client
	headers http.Header
	m       *metrics
	bufs    sync.Pool // *encodeBuf
}

type encodeBuf struct {
	raw, compressed []byte
}

// New returns a Client for the remote-write endpoint at rawURL, which must be
// an absolute http or https URL. It fails when the URL or an option is
// invalid, or when the metrics cannot be registered (for example a second
// client with the same URL and name on one registerer).
func New(rawURL string, opts ...Opt) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("remotewrite: invalid URL %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("remotewrite: invalid URL %q: scheme must be http or https", rawURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("remotewrite: invalid URL %q: no host", rawURL)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("remotewrite: client for %q: %w", rawURL, err)
	}
	safe := *u
	safe.User, safe.RawQuery, safe.Fragment = nil, "", ""
	c := &Client{url: rawURL, logURL: safe.String(), cfg: cfg, hc: cfg.httpClient}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	c.headers = make(http.Header, len(cfg.headers)+4)
	for k, v := range cfg.headers {
		c.headers.Set(k, v)
	}
	c.headers.Set("Content-Encoding", "snappy")
	c.headers.Set("Content-Type", "application/x-protobuf")
	c.headers.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	c.headers.Set("User-Agent", "weir")
	c.m, err = newMetrics(c.logURL, cfg.name, cfg.registerer)
	if err != nil {
		return nil, fmt.Errorf("remotewrite: %w", err)
	}
	return c, nil
}

// encode appends the snappy-compressed WriteRequest of series to b.compressed
// (reset first) and returns it.
func encode(b *encodeBuf, series []prompb.TimeSeries) ([]byte, error) {
	req := prompb.WriteRequest{Timeseries: series}
	n := req.Size()
	if cap(b.raw) < n {
		b.raw = make([]byte, n)
	}
	raw := b.raw[:n]
	if _, err := req.MarshalToSizedBuffer(raw); err != nil {
		return nil, fmt.Errorf("marshalling %d series: %w", len(series), err)
	}
	if m := snappy.MaxEncodedLen(n); cap(b.compressed) < m {
		b.compressed = make([]byte, m)
	}
	b.compressed = snappy.Encode(b.compressed[:cap(b.compressed)], raw)
	return b.compressed, nil
}

func countSamples(series []prompb.TimeSeries) (samples, exemplars int) {
	for i := range series {
		samples += len(series[i].Samples) + len(series[i].Histograms)
		exemplars += len(series[i].Exemplars)
	}
	return samples, exemplars
}

// Send writes series as one request and waits for the answer. It retries,
// with exponential backoff and jitter, on network errors, timeouts, 5xx and
// 429 (waiting as long as a Retry-After header asks, when one is present),
// until the receiver accepts the batch, answers with a status that cannot be
// retried, or ctx is done.
//
// The error, when not nil, wraps ErrRejected (with the status and the start of
// the answer's body) for a non-retryable answer, or, when ctx ended first,
// ctx's error together with the last error an attempt met. In both cases the
// batch was not written. Send does not modify series.
func (c *Client) Send(ctx context.Context, series []prompb.TimeSeries) error {
	buf, _ := c.bufs.Get().(*encodeBuf)
	if buf == nil {
		buf = &encodeBuf{}
	}
	defer c.bufs.Put(buf)
	body, err := encode(buf, series)
	if err != nil {
		return fmt.Errorf("remotewrite: POST %s: %w", c.logURL, err)
	}
	samples, exemplars := countSamples(series)

	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.m.retries.Inc()
		}
		retryAfter, err := c.attempt(ctx, body)
		if err == nil {
			c.m.samples.Add(float64(samples))
			c.m.exemplars.Add(float64(exemplars))
			return nil
		}
		if errors.Is(err, ErrRejected) {
			c.m.rejectedSamples.Add(float64(samples + exemplars))
			c.cfg.logger.Warn("remote write rejected", "url", c.logURL, "series", len(series),
				"samples", samples, "exemplars", exemplars, "err", err)
			return fmt.Errorf("remotewrite: POST %s: %w", c.logURL, err)
		}
		if ctx.Err() != nil {
			// An attempt cut short by ctx says less than the one before it.
			if lastErr == nil {
				lastErr = err
			}
			break
		}
		lastErr = err
		wait := backoff(attempt, c.cfg.minBackoff, c.cfg.maxBackoff)
		if retryAfter >= 0 {
			wait = retryAfter
		}
		c.cfg.logger.Debug("remote write failed, retrying", "url", c.logURL, "attempt", attempt+1,
			"wait", wait, "err", err)
		if !sleep(ctx, wait) {
			break
		}
	}
	return fmt.Errorf("remotewrite: POST %s: gave up (%d samples, %d exemplars not written): %w; last error: %w",
		c.logURL, samples, exemplars, ctx.Err(), lastErr)
}

// attempt makes one HTTP request. A nil error means accepted; an error
// wrapping ErrRejected must not be retried; any other error may be, after
// retryAfter when that is not negative.
func (c *Client) attempt(ctx context.Context, body []byte) (retryAfter time.Duration, err error) {
	retryAfter = -1
	actx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return retryAfter, fmt.Errorf("%w: building request: %w", ErrRejected, err)
	}
	req.Header = c.headers.Clone()

	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.m.duration.Observe(time.Since(start).Seconds())
		c.m.requests.WithLabelValues("error").Inc()
		return retryAfter, err
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyBytes))
	// Drain a little more so the connection can be reused, but never read an
	// unbounded error page.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	c.m.duration.Observe(time.Since(start).Seconds())
	c.m.requests.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()

	code := resp.StatusCode
	switch {
	case code/100 == 2:
		return retryAfter, nil
	case code/100 == 5 || code == http.StatusTooManyRequests:
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			retryAfter = d
		}
		return retryAfter, fmt.Errorf("status %s: %q", resp.Status, bytes.TrimSpace(head))
	default:
		return retryAfter, fmt.Errorf("%w: status %s: %q", ErrRejected, resp.Status, bytes.TrimSpace(head))
	}
}

// URL returns the endpoint without user info, query and fragment, as it
// appears in logs, errors and the `url` metric label.
func (c *Client) URL() string { return c.logURL }
