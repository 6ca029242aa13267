package otlptrace

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"

	"github.com/weirdev/weir/sinks/sendqueue"
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
	serverName                string

	headers     map[string]string
	headerFiles map[string]commoncfg.SecretReader
	timeout     time.Duration
	backoff     sendqueue.Backoff
	queueSize   int
	logger      *slog.Logger
	registerer  prometheus.Registerer
	name        string
}

func defaultConfig() config {
	return config{
		timeout:   10 * time.Second,
		backoff:   sendqueue.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second},
		queueSize: 256,
		logger:    slog.New(slog.DiscardHandler),
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

// WithTLS uses TLS with PEM files. caFile, when not empty, holds the roots
// that the server's certificate must chain to (instead of the system's); New
// reads it. certFile and keyFile, both or neither, are the client
// certificate for mutual TLS: New checks them, and every handshake reads
// them again, so that a renewed certificate is used without a restart.
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

// WithServerName sets the name the server's certificate must hold (by
// default, the host of the endpoint), for TLS through WithTLS or the
// default; with WithTLSConfig it replaces the config's ServerName.
func WithServerName(name string) Opt { return func(c *config) { c.serverName = name } }

// WithHeaders sends the pairs as gRPC metadata with every export, such as a
// tenant or an authorization header. Keys are lowercased; New refuses keys
// that gRPC does not allow and values that are not printable ASCII (except for
// keys ending in "-bin"). The map is copied.
func WithHeaders(h map[string]string) Opt { return func(c *config) { c.headers = maps.Clone(h) } }

// WithHeaderFiles sends, with every export, each key as gRPC metadata with
// the content of its file (surrounding white space trimmed), read again for
// every attempt so that a rotated secret is used at once. A file that cannot
// be read, or holds a value gRPC does not allow, fails the attempt, which is
// retried (and logged, without the value). Keys follow WithHeaders' rules and
// may not repeat one of its keys. The map is copied.
func WithHeaderFiles(files map[string]string) Opt {
	return func(c *config) {
		c.headerFiles = make(map[string]commoncfg.SecretReader, len(files))
		for k, f := range files {
			c.headerFiles[k] = commoncfg.NewFileSecret(f)
		}
	}
}

// WithTimeout bounds each export attempt (default 10s). A timed-out attempt
// is retried; the overall time is bounded by Export's context.
func WithTimeout(d time.Duration) Opt { return func(c *config) { c.timeout = d } }

// WithBackoff sets the first and the largest wait between retries (default
// 100ms and 5s). The wait doubles per attempt and is jittered by up to half.
func WithBackoff(min, max time.Duration) Opt {
	return func(c *config) { c.backoff = sendqueue.Backoff{Min: min, Max: max} }
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
	if c.security == securityInsecure && c.serverName != "" {
		return fmt.Errorf("server name %q: no TLS with WithInsecure", c.serverName)
	}
	if c.timeout <= 0 {
		return fmt.Errorf("timeout %v: must be positive", c.timeout)
	}
	if err := c.backoff.Validate(); err != nil {
		return err
	}
	if c.queueSize < 1 {
		return fmt.Errorf("queue size %d: must be at least 1", c.queueSize)
	}
	if c.logger == nil {
		return fmt.Errorf("logger is nil")
	}
	for k, v := range c.headers {
		if err := validMetadata(k, v); err != nil {
			return fmt.Errorf("header %q: %w", k, err)
		}
	}
	for k := range c.headerFiles {
		if err := validMetadata(k, ""); err != nil {
			return fmt.Errorf("header file for %q: %w", k, err)
		}
		for h := range c.headers {
			if strings.EqualFold(h, k) {
				return fmt.Errorf("header %q: given both as a value and as a file", k)
			}
		}
	}
	return nil
}

// validMetadata applies gRPC's rules for metadata, so that a bad header is
// refused by New and not by every export. The error never holds the value,
// which may be a secret.
func validMetadata(k, v string) error {
	lk := strings.ToLower(k)
	if lk == "" {
		return fmt.Errorf("empty key")
	}
	if strings.HasPrefix(lk, "grpc-") {
		return fmt.Errorf("keys starting with grpc- are reserved")
	}
	for i := 0; i < len(lk); i++ {
		b := lk[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return fmt.Errorf("key may only hold a-z, 0-9, '-', '_' and '.'")
		}
	}
	if strings.HasSuffix(lk, "-bin") {
		return nil
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return fmt.Errorf("byte %d of the value is not printable ASCII (use a key ending in -bin for binary values)", i)
		}
	}
	return nil
}
