// Package remotewrite sends series to Prometheus-compatible storage
// (Prometheus, M3, VictoriaMetrics, Mimir, Thanos receive) with the remote
// write 1.0 protocol: a snappy-compressed prompb.WriteRequest POSTed over
// HTTP. Exemplars travel in TimeSeries.Exemplars with trace_id and span_id
// labels.
//
// A Client splits what it is given into requests, queues them on a fixed
// number of shards (one series always on the same shard, so its samples stay
// in order) and sends them with retries, through sinks/sendqueue. Answers are
// classified as Prometheus' own remote-write client does, with weir's
// additions for exactly-once delivery:
//
//	2xx                       accepted
//	5xx, 429, 408, no answer  retried with backoff, waiting as a Retry-After
//	                          header asks when there is one
//	401, 403, 404, 407, 3xx,  a configuration fault: nothing is dropped; the
//	  TLS verification,       request is retried with backoff until accepted,
//	  unreadable credentials  Fault reports it, weir_remote_write_config_fault
//	                          is 1 and a log line says why
//	413                       the request is split in halves, down to one
//	                          sample; one still refused is dropped
//	                          (reason too_large)
//	400, 409                  the request is split in halves down to one
//	                          sample, and what is still refused is dropped
//	                          under the reason the answer names (out_of_order,
//	                          duplicate, too_old) or rejected. Prometheus rolls
//	                          back a whole request on one bad sample (Thanos
//	                          answers 409 for the same): splitting writes the
//	                          good samples and drops only the bad ones.
//	other 4xx, 1xx            dropped (reason rejected), as Prometheus does
//	                          with answers it does not retry
//
// Dropped samples and exemplars are counted by reason and logged; Flush then
// returns an error wrapping sendqueue.ErrPermanent. Any other Flush error
// means something is still unsent.
//
// No secret is logged or put in an error: the URL appears without user info,
// query and fragment, header values never appear, and the start of an
// answer's body, which errors quote, is scrubbed of the header values,
// credentials and URL query the request carried, in case the receiver
// echoes them.
package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/prompb"

	"github.com/weirdev/weir/sinks/sendqueue"
)

// Client writes series to one remote-write endpoint. It is safe for
// concurrent use. Enqueue queues, blocking while the shards are full; Flush
// waits until what was enqueued before it was accepted or dropped for good;
// Close flushes and stops.
type Client struct {
	url     string
	logURL  string // url without user info, query and fragment: safe to log and label
	cfg     config
	log     *slog.Logger
	hc      *http.Client
	headers http.Header
	m       *metrics
	bufs    sync.Pool // *encodeBuf
	seed    maphash.Seed
	q       *sendqueue.Queue[request]

	faultMu sync.Mutex
	fault   error       // the configuration fault the endpoint answers with now
	faulted atomic.Bool // fault != nil, read without the lock on every answer

	unsent atomic.Int64 // requests Close gave up on
}

// New returns a Client for the remote-write endpoint at rawURL, which must be
// an absolute http or https URL, and starts its shards. It does not connect.
// It fails when the URL or an option is invalid, when the HTTP client cannot
// be built from WithHTTPClientConfig (for example an unreadable CA file), or
// when the metrics cannot be registered (for example a second client with
// the same URL and name on one registerer).
func New(rawURL string, opts ...Opt) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse quotes its input: name the problem without it.
		return nil, fmt.Errorf("remotewrite: invalid URL: %w", errors.Unwrap(err))
	}
	safe := *u
	safe.User, safe.RawQuery, safe.Fragment = nil, "", ""
	logURL := safe.String()
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("remotewrite: invalid URL %q: scheme must be http or https", logURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("remotewrite: invalid URL %q: no host", logURL)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("remotewrite: client for %s: %w", logURL, err)
	}
	hc, err := commoncfg.NewClientFromConfig(cfg.http, "weir_remote_write")
	if err != nil {
		return nil, fmt.Errorf("remotewrite: client for %s: %w", logURL, err)
	}
	c := &Client{url: rawURL, logURL: logURL, cfg: cfg, log: cfg.logger, hc: hc, seed: maphash.MakeSeed()}
	c.headers = make(http.Header, len(cfg.headers)+4)
	for k, v := range cfg.headers {
		c.headers.Set(k, v)
	}
	c.headers.Set("Content-Encoding", "snappy")
	c.headers.Set("Content-Type", "application/x-protobuf")
	c.headers.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	c.headers.Set("User-Agent", "weir")
	c.m = newMetrics(c.logURL, cfg.name)
	if err := sendqueue.Register(cfg.registerer, c.m.collectors()...); err != nil {
		return nil, fmt.Errorf("remotewrite: metrics for url %q name %q: %w", c.logURL, cfg.name, err)
	}
	qc := sendqueue.Config[request]{
		Shards:   cfg.shards,
		Capacity: max(cfg.capacity/cfg.maxSamples, 1),
		Send:     c.deliver,
		Discard:  c.discard,
		Length:   c.m.queueLength,
	}
	if cfg.batchDeadline > 0 {
		qc.Merge, qc.Full, qc.BatchDeadline = c.merge, c.full, cfg.batchDeadline
	}
	if c.q, err = sendqueue.New(qc); err != nil {
		return nil, fmt.Errorf("remotewrite: client for %s: %w", c.logURL, err)
	}
	return c, nil
}

// Enqueue splits series into requests (by shard, by tenant when
// WithTenantHeader is set, and by WithMaxSamplesPerSend) and queues them,
// blocking while a shard is full. The client keeps references to series and
// their slices until they are sent: the caller must not modify them
// afterwards.
//
// When ctx ends (or Close is called) while Enqueue is blocked, it returns an
// error wrapping ctx's error (or sendqueue.ErrClosed) that says how many of
// the batch's requests were queued; those will still be sent, the others
// will not.
func (c *Client) Enqueue(ctx context.Context, series []prompb.TimeSeries) error {
	reqs := c.split(series)
	for i, r := range reqs {
		if err := c.q.Put(ctx, r.shard, r.request); err != nil {
			return fmt.Errorf("remotewrite: enqueue to %s: %d of %d requests queued: %w", c.logURL, i, len(reqs), err)
		}
	}
	return nil
}

// Flush returns once every request enqueued before the call has been
// accepted or dropped for good. A configuration fault or an outage keeps it
// waiting, since nothing is dropped for them. It returns an error wrapping
// ctx's error when ctx ends first; an error wrapping sendqueue.ErrPermanent
// when the receiver refused samples for good since the previous Flush (they
// were counted); or nil.
func (c *Client) Flush(ctx context.Context) error {
	if err := c.q.Flush(ctx); err != nil {
		return fmt.Errorf("remotewrite: flush %s: %w", c.logURL, err)
	}
	return nil
}

// Close refuses further Enqueue calls, flushes, and stops the shards. When
// ctx ends before the flush completes, the requests still queued or in
// flight are counted (reason closed) and logged as unsent, and the error
// wraps ctx's error. Close returns an error wrapping sendqueue.ErrClosed when
// called again.
func (c *Client) Close(ctx context.Context) error {
	err := c.q.Close(ctx)
	if n := c.unsent.Load(); n > 0 {
		c.log.Warn("remote write closed with requests unsent", "url", c.logURL, "requests", n)
	}
	if err != nil {
		return fmt.Errorf("remotewrite: close %s: %w", c.logURL, err)
	}
	return nil
}

// Fault returns the configuration fault that requests met last (see the
// package documentation), or nil once an answer said otherwise (accepted, or
// refused for a reason of its own; an outage says nothing either way).
// While it is not nil, requests are retried, nothing is dropped and Flush
// does not return: weir is not ready.
func (c *Client) Fault() error {
	if !c.faulted.Load() {
		return nil
	}
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	return c.fault
}

// URL returns the endpoint without user info, query and fragment, as it
// appears in logs, errors and the `url` metric label.
func (c *Client) URL() string { return c.logURL }
