package otlptrace

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Opt configures an Exporter.
type Opt func(*config)

type security int

const (
	securityDefault  security = iota // TLS with the system's roots
	securityInsecure                 // plaintext
	securityFiles                    // TLS from PEM files
	securityConfig                   // TLS from a *tls.Config
)

type config struct {
	security                  security
	securitySet               []string // names of the security options given, to refuse conflicts
	caFile, certFile, keyFile string
	tlsConfig                 *tls.Config

	headers    map[string]string
	timeout    time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	queueSize  int
	logger     *slog.Logger
	registerer prometheus.Registerer
	name       string
}

func defaultConfig() config {
	return config{
		timeout:    10 * time.Second,
		minBackoff: 100 * time.Millisecond,
		maxBackoff: 5 * time.Second,
		queueSize:  256,
		logger:     slog.New(slog.DiscardHandler),
	}
}

// WithInsecure sends over plaintext HTTP/2. Without it, or one of WithTLS and
// WithTLSConfig, the exporter uses TLS and verifies the server against the
// system's roots.
func WithInsecure() Opt {
	return func(c *config) {
		c.security = securityInsecure
		c.securitySet = append(c.securitySet, "WithInsecure")
	}
}

// WithTLS uses TLS with PEM files read by New. caFile, when not empty, holds
// the roots that the server's certificate must chain to (instead of the
// system's). certFile and keyFile, both or neither, are the client
// certificate for mutual TLS.
func WithTLS(caFile, certFile, keyFile string) Opt {
	return func(c *config) {
		c.security = securityFiles
		c.caFile, c.certFile, c.keyFile = caFile, certFile, keyFile
		c.securitySet = append(c.securitySet, "WithTLS")
	}
}

// WithTLSConfig uses TLS with a copy of cfg.
func WithTLSConfig(cfg *tls.Config) Opt {
	return func(c *config) {
		c.security = securityConfig
		c.tlsConfig = cfg
		c.securitySet = append(c.securitySet, "WithTLSConfig")
	}
}

// WithHeaders sends the pairs as gRPC metadata with every export, such as a
// tenant or an authorization header. Keys are lowercased; New refuses keys
// that gRPC does not allow and values that are not printable ASCII (except for
// keys ending in "-bin"). The map is copied.
func WithHeaders(h map[string]string) Opt {
	return func(c *config) {
		c.headers = make(map[string]string, len(h))
		for k, v := range h {
			c.headers[k] = v
		}
	}
}

// WithTimeout bounds each export attempt (default 10s). A timed-out attempt
// is retried; the overall time is bounded by Export's context.
func WithTimeout(d time.Duration) Opt { return func(c *config) { c.timeout = d } }

// WithBackoff sets the first and the largest wait between retries (default
// 100ms and 5s). The wait doubles per attempt and is jittered by up to half.
func WithBackoff(min, max time.Duration) Opt {
	return func(c *config) { c.minBackoff, c.maxBackoff = min, max }
}

// WithQueueSize sets how many ptrace.Traces batches Enqueue may hold before
// it blocks (default 256).
func WithQueueSize(n int) Opt { return func(c *config) { c.queueSize = n } }

// WithLogger sets the logger for retries and failures (default: discard).
func WithLogger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// WithRegisterer registers the exporter's metrics on r (default nil: metrics
// are kept but not registered).
func WithRegisterer(r prometheus.Registerer) Opt { return func(c *config) { c.registerer = r } }

// WithName sets the value of the `name` label on the exporter's metrics
// (default ""), to tell apart exporters to the same endpoint. Every metric
// also carries the endpoint as the `endpoint` label.
func WithName(name string) Opt { return func(c *config) { c.name = name } }

func (c *config) validate() error {
	if len(c.securitySet) > 1 {
		return fmt.Errorf("conflicting transport security options %s: give one", strings.Join(c.securitySet, ", "))
	}
	if c.security == securityConfig && c.tlsConfig == nil {
		return fmt.Errorf("WithTLSConfig: nil *tls.Config")
	}
	if c.timeout <= 0 {
		return fmt.Errorf("timeout %v: must be positive", c.timeout)
	}
	if c.minBackoff <= 0 || c.maxBackoff < c.minBackoff {
		return fmt.Errorf("backoff min %v max %v: need 0 < min <= max", c.minBackoff, c.maxBackoff)
	}
	if c.queueSize < 1 {
		return fmt.Errorf("queue size %d: must be at least 1", c.queueSize)
	}
	if c.logger == nil {
		return fmt.Errorf("logger is nil")
	}
	for k, v := range c.headers {
		if err := validMetadata(k, v); err != nil {
			return err
		}
	}
	return nil
}

// validMetadata applies gRPC's rules for metadata, so that a bad header is
// refused by New and not by every export.
func validMetadata(k, v string) error {
	lk := strings.ToLower(k)
	if lk == "" {
		return fmt.Errorf("header with an empty key")
	}
	if strings.HasPrefix(lk, "grpc-") {
		return fmt.Errorf("header %q: keys starting with grpc- are reserved", k)
	}
	for i := 0; i < len(lk); i++ {
		b := lk[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return fmt.Errorf("header %q: key may only hold a-z, 0-9, '-', '_' and '.'", k)
		}
	}
	if strings.HasSuffix(lk, "-bin") {
		return nil
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return fmt.Errorf("header %q value %q: byte %d is not printable ASCII (use a key ending in -bin for binary values)", k, v, i)
		}
	}
	return nil
}
