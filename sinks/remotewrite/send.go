package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/weirdev/weir/sinks/sendqueue"
)

// errBodyBytes is how much of an error answer's body goes into the error.
const errBodyBytes = 256

type encodeBuf struct {
	raw, compressed []byte
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

// deliver sends one request as the package documentation says: retrying
// outages and configuration faults, splitting what the receiver refuses as
// a whole, dropping (and counting) what it refuses for good. The error, when
// not nil, wraps sendqueue.ErrPermanent when samples were dropped, and ctx's
// error when ctx ended with samples unsent.
func (c *Client) deliver(ctx context.Context, r request) error {
	var drops dropLog
	err := c.deliverPart(ctx, r, &drops)
	drops.report(c)
	return err
}

func (c *Client) deliverPart(ctx context.Context, r request, drops *dropLog) error {
	err := c.send(ctx, r)
	if err == nil {
		return nil
	}
	se, _ := errors.AsType[*statusError](err)
	switch {
	case !errors.Is(err, sendqueue.ErrPermanent):
		c.unsent.Add(1)
		c.drop(r.series, reasonClosed)
		return fmt.Errorf("remotewrite: POST %s: %w", c.logURL, err)
	case se != nil && se.split && r.weight > 1:
		var t sendqueue.Tally
		for _, part := range halves(r) {
			t.Add(c.deliverPart(ctx, part, drops))
		}
		return t.Take()
	default:
		reason := reasonRejected
		if se != nil {
			reason = se.reason
		}
		samples, exemplars := c.drop(r.series, reason)
		drops.add(reason, samples, exemplars, err)
		return fmt.Errorf("remotewrite: POST %s: %d samples and %d exemplars dropped: %w", c.logURL, samples, exemplars, err)
	}
}

// send makes one request, with retries, and returns nil once it was
// accepted, a permanent error when the receiver refused it for good, or an
// error wrapping ctx's when ctx ended first.
func (c *Client) send(ctx context.Context, r request) error {
	buf, _ := c.bufs.Get().(*encodeBuf)
	if buf == nil {
		buf = &encodeBuf{}
	}
	defer c.bufs.Put(buf)
	body, err := encode(buf, r.series)
	if err != nil {
		return sendqueue.Permanent(err)
	}
	attempt := 0
	err = c.cfg.backoff.Retry(ctx, func() error {
		attempt++
		return c.attempt(ctx, body, r.tenant)
	}, func(err error, wait time.Duration) {
		c.m.retries.Inc()
		level := slog.LevelDebug
		if attempt == 1 && !c.faulted.Load() { // a fault is logged when it starts
			level = slog.LevelWarn
		}
		c.log.Log(ctx, level, "remote write failed, retrying", "url", c.logURL, "attempt", attempt, "wait", wait, "err", err)
	})
	if err == nil {
		samples, exemplars := countSamples(r.series)
		c.m.samples.Add(float64(samples))
		c.m.exemplars.Add(float64(exemplars))
	}
	return err
}

// drop counts series as not written for reason.
func (c *Client) drop(series []prompb.TimeSeries, reason string) (samples, exemplars int) {
	samples, exemplars = countSamples(series)
	c.m.droppedSamples.WithLabelValues(reason).Add(float64(samples))
	c.m.droppedExemplars.WithLabelValues(reason).Add(float64(exemplars))
	return samples, exemplars
}

// discard counts a request that Close gave up on before it was sent.
func (c *Client) discard(r request) {
	c.unsent.Add(1)
	c.drop(r.series, reasonClosed)
}

// attempt makes one HTTP request. A nil error means accepted; the error is
// permanent when retrying cannot help, and may say how long to wait.
func (c *Client) attempt(ctx context.Context, body []byte, tenant string) error {
	actx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return sendqueue.Permanent(fmt.Errorf("building request: %w", unwrapURLError(err)))
	}
	req.Header = c.headers.Clone()
	if tenant != "" {
		req.Header.Set(c.cfg.tenantHeader, tenant)
	}

	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.m.duration.Observe(time.Since(start).Seconds())
		c.m.requests.WithLabelValues("error").Inc()
		// url.Error prints the URL, user info and query included.
		err = unwrapURLError(err)
		if hint := transportFault(err); hint != "" {
			c.setFault(&faultError{err: err, hint: hint})
		}
		return err
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyBytes))
	// Drain a little more so the connection can be reused, but never read an
	// unbounded error page.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	c.m.duration.Observe(time.Since(start).Seconds())
	c.m.requests.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()

	cl := classify(resp.StatusCode)
	if cl.kind == kindAccepted {
		c.clearFault()
		return nil
	}
	sent := req
	if resp.Request != nil {
		sent = resp.Request // as the transport sent it, with the credentials it added
	}
	se := &statusError{status: resp.Status, code: resp.StatusCode, body: c.scrub(string(bytes.TrimSpace(head)), sent)}
	switch cl.kind {
	case kindFault:
		c.setFault(&faultError{err: se, hint: cl.hint})
		return se
	case kindRetry:
		// Says nothing about the configuration: a fault stays until an
		// answer says otherwise.
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return sendqueue.RetryAfter(se, d)
		}
		return se
	case kindSplit:
		c.clearFault()
		se.split, se.reason = true, reasonTooLarge
		return sendqueue.Permanent(se)
	case kindPerSample:
		c.clearFault()
		se.split, se.reason = true, sampleReason(head)
		return sendqueue.Permanent(se)
	default:
		c.clearFault()
		se.reason = reasonRejected
		return sendqueue.Permanent(se)
	}
}

// unwrapURLError drops the "Post "URL": " that net/http puts before its
// errors, since the URL may hold credentials; callers name c.logURL.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// statusError is an answer other than 2xx.
type statusError struct {
	code   int
	status string
	body   string // the start of the answer, scrubbed of what the request carried
	reason string // why the samples are dropped, when they are
	split  bool   // the receiver refused the request as a whole: its parts may pass
}

func (e *statusError) Error() string {
	if e.body == "" {
		return "status " + e.status
	}
	return fmt.Sprintf("status %s: %q", e.status, e.body)
}
