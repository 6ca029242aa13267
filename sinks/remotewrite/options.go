package remotewrite

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"golang.org/x/net/http/httpguts"

	"github.com/weirdev/weir/sinks/sendqueue"
)

// Opt configures a Client.
type Opt func(*config)

type config struct {
	http          commoncfg.HTTPClientConfig
	headers       map[string]string
	tenantHeader  string
	tenantLabel   string
	timeout       time.Duration
	backoff       sendqueue.Backoff
	shards        int
	capacity      int
	maxSamples    int
	batchDeadline time.Duration
	logger        *slog.Logger
	registerer    prometheus.Registerer
	name          string
}

// The defaults are Prometheus' own queue_config defaults, but for the
// shards: weir runs a fixed number (it does not reshard, which would need a
// flush of every shard to keep each series in order).
func defaultConfig() config {
	return config{
		timeout:       30 * time.Second,
		backoff:       sendqueue.Backoff{Min: 30 * time.Millisecond, Max: 5 * time.Second},
		shards:        4,
		capacity:      10_000,
		maxSamples:    2000,
		batchDeadline: 5 * time.Second,
		logger:        slog.New(slog.DiscardHandler),
	}
}

// WithHTTPClientConfig sets how the client authenticates and connects:
// basic_auth, authorization (credentials files are read on every request, so
// a rotated token is used at once), oauth2, tls_config (certificate files
// are re-read when they change), proxy_url, follow_redirects and
// enable_http2, as Prometheus' remote_write reads them. Default: the zero
// HTTPClientConfig (no authentication, TLS verified against the system's
// roots, redirects not followed, HTTP/1.1).
func WithHTTPClientConfig(hc commoncfg.HTTPClientConfig) Opt { return func(c *config) { c.http = hc } }

// WithHeaders adds HTTP headers to every request, such as M3's
// storage-policy headers (M3-Metrics-Type, M3-Storage-Policy). New refuses
// names or values that are not valid in HTTP, the protocol headers
// (Content-Encoding, Content-Type, X-Prometheus-Remote-Write-Version,
// User-Agent), Authorization (use WithHTTPClientConfig) and the tenant
// header. Values are never logged. The map is copied.
func WithHeaders(h map[string]string) Opt { return func(c *config) { c.headers = maps.Clone(h) } }

// WithTenantHeader sends each tenant's series in requests of their own,
// carrying the value of the series' label as header (for Mimir and Cortex:
// X-Scope-OrgID and weir's tenant label). Series without the label go in
// requests without the header.
func WithTenantHeader(header, label string) Opt {
	return func(c *config) { c.tenantHeader, c.tenantLabel = header, label }
}

// WithTimeout bounds each HTTP attempt (default 30s). A timed-out attempt is
// retried like a network error.
func WithTimeout(d time.Duration) Opt { return func(c *config) { c.timeout = d } }

// WithBackoff sets the first and the largest wait between retries (default
// 30ms and 5s; 0 keeps the default). The wait doubles per attempt and is
// jittered by up to half.
func WithBackoff(min, max time.Duration) Opt {
	return func(c *config) {
		if min != 0 {
			c.backoff.Min = min
		}
		if max != 0 {
			c.backoff.Max = max
		}
	}
}

// WithShards sets how many requests are in flight at once (default 4). A
// series always goes to the same shard (chosen by a hash of its labels), and
// each shard sends in enqueue order, so the samples of one series arrive in
// the order they were enqueued, as receivers without out-of-order ingestion
// require.
func WithShards(n int) Opt { return func(c *config) { c.shards = n } }

// WithCapacity sets how many samples may wait on each shard before Enqueue
// blocks (default 10,000), counted in whole requests of
// WithMaxSamplesPerSend (at least one).
func WithCapacity(n int) Opt { return func(c *config) { c.capacity = n } }

// WithMaxSamplesPerSend caps the samples, histogram samples and exemplars in
// one request (default 2000). Bigger batches are split, and a single series
// with more than that is cut into several requests with the same labels.
func WithMaxSamplesPerSend(n int) Opt { return func(c *config) { c.maxSamples = n } }

// WithBatchSendDeadline sets how long a shard holds a request smaller than
// WithMaxSamplesPerSend, to send it together with the next ones of the same
// tenant (default 5s). Flush sends what is held at once, so a caller that
// flushes after each batch waits no longer. 0 sends every request as it is.
func WithBatchSendDeadline(d time.Duration) Opt { return func(c *config) { c.batchDeadline = d } }

// WithLogger sets the logger for faults, drops and retries (default:
// discard).
func WithLogger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// WithRegisterer registers the client's metrics on r (default nil: metrics
// are kept but not registered).
func WithRegisterer(r prometheus.Registerer) Opt { return func(c *config) { c.registerer = r } }

// WithName sets the value of the `name` label on the client's metrics
// (default ""), which tells apart clients writing to the same URL, such as
// one per storage policy. Every metric also carries the URL (without user
// info, query and fragment) as the `url` label.
func WithName(name string) Opt { return func(c *config) { c.name = name } }

// reservedHeaders are set by the client; letting options replace them would
// produce requests a remote-write receiver cannot decode, or bypass the
// HTTP client config's authentication.
var reservedHeaders = []string{
	"Content-Encoding", "Content-Type", "X-Prometheus-Remote-Write-Version", "User-Agent", "Content-Length",
	"Authorization",
}

func (c *config) validate() error {
	var errs []error
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %v: must be positive", c.timeout))
	}
	if err := c.backoff.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"shards", c.shards}, {"capacity", c.capacity}, {"max samples per send", c.maxSamples}} {
		if v.n < 1 {
			errs = append(errs, fmt.Errorf("%s %d: must be at least 1", v.name, v.n))
		}
	}
	if c.batchDeadline < 0 {
		errs = append(errs, fmt.Errorf("batch send deadline %v: negative", c.batchDeadline))
	}
	if c.logger == nil {
		errs = append(errs, errors.New("logger is nil"))
	}
	if c.tenantHeader != "" && !httpguts.ValidHeaderFieldName(c.tenantHeader) {
		errs = append(errs, fmt.Errorf("tenant header %q: not a valid HTTP token", c.tenantHeader))
	}
	if (c.tenantHeader == "") != (c.tenantLabel == "") {
		errs = append(errs, fmt.Errorf("tenant header %q and label %q: give both or neither", c.tenantHeader, c.tenantLabel))
	}
	reserved := reservedHeaders
	if c.tenantHeader != "" {
		reserved = append(reserved[:len(reserved):len(reserved)], c.tenantHeader)
	}
	for k, v := range c.headers {
		if !httpguts.ValidHeaderFieldName(k) {
			errs = append(errs, fmt.Errorf("header name %q: not a valid HTTP token", k))
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			errs = append(errs, fmt.Errorf("header %q: the value holds a byte HTTP does not allow", k))
		}
		for _, r := range reserved {
			if strings.EqualFold(k, r) {
				errs = append(errs, fmt.Errorf("header %q: set by the client, cannot be overridden", k))
			}
		}
	}
	if err := c.http.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
