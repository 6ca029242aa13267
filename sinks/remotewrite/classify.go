package remotewrite

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type kind int

const (
	kindAccepted  kind = iota
	kindRetry          // an outage: retry with backoff
	kindFault          // a configuration fault: retry with backoff, report it
	kindSplit          // too large: split, drop what one sample still cannot pass
	kindPerSample      // refused for some samples: split, drop those under their reason
	kindRejected       // refused for good: drop
)

type class struct {
	kind kind
	hint string // for faults: what to check
}

// classify says what an HTTP status means for a request (see the package
// documentation).
func classify(code int) class {
	switch {
	case code/100 == 2:
		return class{kind: kindAccepted}
	case code/100 == 5, code == http.StatusTooManyRequests, code == http.StatusRequestTimeout:
		return class{kind: kindRetry}
	case code == http.StatusUnauthorized:
		return class{kind: kindFault, hint: "the receiver refuses the credentials: check basic_auth, authorization and their files"}
	case code == http.StatusProxyAuthRequired:
		return class{kind: kindFault, hint: "the proxy refuses the credentials: check proxy_url and proxy_connect_header"}
	case code == http.StatusForbidden:
		return class{kind: kindFault, hint: "the credentials may not write here: check the permissions and the tenant"}
	case code == http.StatusNotFound:
		return class{kind: kindFault, hint: "no remote-write endpoint at this URL: check url"}
	case code/100 == 3:
		return class{kind: kindFault, hint: "the receiver redirects: check url (or follow_redirects)"}
	case code == http.StatusRequestEntityTooLarge:
		return class{kind: kindSplit}
	case code == http.StatusBadRequest, code == http.StatusConflict:
		return class{kind: kindPerSample}
	default:
		return class{kind: kindRejected}
	}
}

// sampleReasons are the per-sample refusals of Prometheus (storage's
// ErrOutOfOrderSample, ErrDuplicateSampleForTimestamp, ErrOutOfBounds,
// ErrTooOldSample), of Thanos receive (the same texts) and of Mimir (its
// err-mimir-sample-* IDs), matched in an answer lowered and with '-' and '_'
// read as spaces.
var sampleReasons = []struct{ text, reason string }{
	{"out of order sample", reasonOutOfOrder},
	{"sample out of order", reasonOutOfOrder},
	{"duplicate sample for timestamp", reasonDuplicate},
	{"sample duplicate timestamp", reasonDuplicate},
	{"out of bounds", reasonTooOld},
	{"too old", reasonTooOld},
}

// sampleReason names the reason an answer gives for refusing samples, or
// rejected when it gives none of sampleReasons.
func sampleReason(body []byte) string {
	b := bytes.ToLower(body)
	b = bytes.Map(func(r rune) rune {
		if r == '-' || r == '_' {
			return ' '
		}
		return r
	}, b)
	for _, r := range sampleReasons {
		if bytes.Contains(b, []byte(r.text)) {
			return r.reason
		}
	}
	return reasonRejected
}

// transportFault says what to check when a request got no answer because of
// the client's own configuration: a certificate that does not verify, a
// handshake the server refused, a credentials file that cannot be read.
// It returns "" for outages (refused connections, timeouts, resets).
func transportFault(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		op       *net.OpError
	)
	switch {
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return "the server's certificate does not verify: check tls_config (ca_file, server_name)"
	case errors.As(err, &op) && op.Op == "remote error":
		// crypto/tls reports a TLS alert from the server so, for example
		// "tls: certificate required".
		return "the server refused the TLS handshake: check tls_config (cert_file, key_file, min_version)"
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return "a credentials or certificate file cannot be read: check the *_file settings"
	}
	return ""
}

// minSecret is the length from which scrub takes a value the request carried
// for a secret: shorter values are flags, and hiding them would garble the
// answer.
const minSecret = 4

// scrub hides in an answer's body what the request carried that may be
// secret, in case the receiver echoes it: every header value but the
// protocol's and the tenant's (whole, and an Authorization's credentials
// alone, decoded too for Basic), and the URL's password and query values.
func (c *Client) scrub(body string, req *http.Request) string {
	var secrets []string
	for k, vs := range req.Header {
		if k == "Content-Encoding" || k == "Content-Type" || k == "X-Prometheus-Remote-Write-Version" ||
			k == "User-Agent" || (c.cfg.tenantHeader != "" && http.CanonicalHeaderKey(c.cfg.tenantHeader) == k) {
			continue
		}
		for _, v := range vs {
			secrets = append(secrets, v)
			if k != "Authorization" {
				continue
			}
			scheme, cred, ok := strings.Cut(v, " ")
			if !ok {
				continue
			}
			secrets = append(secrets, cred)
			if strings.EqualFold(scheme, "Basic") {
				if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
					_, pass, _ := strings.Cut(string(dec), ":")
					secrets = append(secrets, string(dec), pass)
				}
			}
		}
	}
	if p, ok := req.URL.User.Password(); ok {
		secrets = append(secrets, p, url.QueryEscape(p))
	}
	for _, vs := range req.URL.Query() {
		for _, v := range vs {
			secrets = append(secrets, v, url.QueryEscape(v))
		}
	}
	for _, s := range secrets {
		if len(s) >= minSecret {
			body = strings.ReplaceAll(body, s, "<hidden>")
		}
	}
	return body
}

// faultError is a configuration fault, as Fault reports it.
type faultError struct {
	err  error
	hint string
}

func (e *faultError) Error() string {
	return "configuration fault: " + e.err.Error() + " (" + e.hint + ")"
}
func (e *faultError) Unwrap() error { return e.err }

// setFault records the fault the last attempt met, and says so when it is
// new.
func (c *Client) setFault(f *faultError) {
	c.faultMu.Lock()
	first := c.fault == nil
	c.fault = f
	c.faulted.Store(true)
	c.faultMu.Unlock()
	if first {
		c.m.configFault.Set(1)
		c.log.Error("remote write configuration fault: retrying, nothing is dropped and nothing committed until it is fixed",
			"url", c.logURL, "err", f.err, "check", f.hint)
	}
}

func (c *Client) clearFault() {
	if !c.faulted.Load() {
		return
	}
	c.faultMu.Lock()
	was := c.fault
	c.fault = nil
	c.faulted.Store(false)
	c.faultMu.Unlock()
	if was != nil {
		c.m.configFault.Set(0)
		c.log.Info("remote write configuration fault cleared", "url", c.logURL)
	}
}

// dropLog gathers the drops of one request, split or not, for one log line.
type dropLog struct {
	samples, exemplars map[string]int
	first              error
}

func (d *dropLog) add(reason string, samples, exemplars int, err error) {
	if d.samples == nil {
		d.samples, d.exemplars = map[string]int{}, map[string]int{}
		d.first = err
	}
	d.samples[reason] += samples
	d.exemplars[reason] += exemplars
}

func (d *dropLog) report(c *Client) {
	if d.samples == nil {
		return
	}
	c.log.Warn("remote write receiver refused samples for good: dropped", "url", c.logURL,
		"samples_by_reason", d.samples, "exemplars_by_reason", d.exemplars, "first_err", d.first)
}

// parseRetryAfter reads a Retry-After header value (RFC 9110 10.2.3): either a
// non-negative number of seconds or an HTTP date, taken relative to now. It
// reports false for an empty or malformed value; a date in the past is 0.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}
