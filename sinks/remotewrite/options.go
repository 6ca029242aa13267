package remotewrite

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Opt configures a Client.
type Opt func(*config)

type config struct {
	headers    map[string]string
	timeout    time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	httpClient *http.Client
	logger     *slog.Logger
	registerer prometheus.Registerer
	name       string
}

func defaultConfig() config {
	return config{
		timeout:    30 * time.Second,
		minBackoff: 30 * time.Millisecond,
		maxBackoff: 5 * time.Second,
		logger:     slog.New(slog.DiscardHandler),
	}
}

// WithHeaders adds HTTP headers to every request, such as a tenant header
// (X-Scope-OrgID) or M3's storage-policy headers (M3-Metrics-Type,
// M3-Storage-Policy). The protocol headers (Content-Encoding, Content-Type,
// X-Prometheus-Remote-Write-Version, User-Agent) cannot be overridden: New
// refuses them, and it refuses names or values that are not valid in HTTP.
// The map is copied.
func WithHeaders(h map[string]string) Opt {
	return func(c *config) {
		c.headers = make(map[string]string, len(h))
		for k, v := range h {
			c.headers[k] = v
		}
	}
}

// WithTimeout bounds each HTTP attempt (default 30s). A timed-out attempt is
// retried like a network error; the overall time is bounded by Send's context.
func WithTimeout(d time.Duration) Opt { return func(c *config) { c.timeout = d } }

// WithBackoff sets the first and the largest wait between retries (default
// 30ms and 5s). The wait doubles per attempt and is jittered by up to half.
func WithBackoff(min, max time.Duration) Opt {
	return func(c *config) { c.minBackoff, c.maxBackoff = min, max }
}

// WithHTTPClient sets the HTTP client (default: a client with no overall
// timeout, since WithTimeout bounds each attempt).
func WithHTTPClient(hc *http.Client) Opt { return func(c *config) { c.httpClient = hc } }

// WithLogger sets the logger for retries and rejections (default: discard).
func WithLogger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// WithRegisterer registers the client's metrics on r (default nil: metrics
// are kept but not registered).
func WithRegisterer(r prometheus.Registerer) Opt { return func(c *config) { c.registerer = r } }

// WithName sets the value of the `name` label on the client's metrics
// (default ""), which tells apart clients writing to the same URL, such as one
// per tenant. Every metric also carries the URL (without user info, query and
// fragment) as the `url` label.
func WithName(name string) Opt { return func(c *config) { c.name = name } }

// reservedHeaders are set by the client; letting options replace them would
// produce requests a remote-write receiver cannot decode.
var reservedHeaders = []string{
	"Content-Encoding", "Content-Type", "X-Prometheus-Remote-Write-Version", "User-Agent", "Content-Length",
}

func (c *config) validate() error {
	if c.timeout <= 0 {
		return fmt.Errorf("timeout %v: must be positive", c.timeout)
	}
	if c.minBackoff <= 0 || c.maxBackoff < c.minBackoff {
		return fmt.Errorf("backoff min %v max %v: need 0 < min <= max", c.minBackoff, c.maxBackoff)
	}
	if c.logger == nil {
		return fmt.Errorf("logger is nil")
	}
	for k, v := range c.headers {
		if !validHeaderName(k) {
			return fmt.Errorf("header name %q: not a valid HTTP token", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("header %q value %q: contains CR, LF or NUL", k, v)
		}
		for _, r := range reservedHeaders {
			if strings.EqualFold(k, r) {
				return fmt.Errorf("header %q: set by the client, cannot be overridden", k)
			}
		}
	}
	return nil
}

// validHeaderName reports whether s is an RFC 7230 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0:
		default:
			return false
		}
	}
	return true
}
