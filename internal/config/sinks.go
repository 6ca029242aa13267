package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	commoncfg "github.com/prometheus/common/config"
	"golang.org/x/net/http/httpguts"
)

// RemoteWrite is one Prometheus remote-write destination. Its settings carry
// Prometheus' own remote_write names, so that a block from a Prometheus
// configuration reads the same (sigv4, azuread, google_iam, metadata_config,
// write_relabel_configs and the *_ref secrets are not supported).
type RemoteWrite struct {
	URL string `yaml:"url"`
	// Policies routed here ("10s:2d"); empty takes every policy no other
	// destination names. Validation rewrites them in the form
	// rules.StoragePolicy.String writes ("48h" becomes "2d").
	Policies []string `yaml:"policies"`
	// Headers are sent with every request; values are never logged.
	// Authorization is refused (basic_auth and authorization set it).
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds each HTTP attempt (Prometheus' remote_timeout).
	Timeout Duration `yaml:"timeout"`
	// M3StoragePolicyHeaders marks an M3 coordinator: each request carries
	// M3-Metrics-Type: aggregated and the M3-Storage-Policy of its samples,
	// so that each policy lands in its own aggregated namespace. It needs
	// Policies.
	M3StoragePolicyHeaders bool `yaml:"m3_storage_policy_headers"`
	// TenantHeader (X-Scope-OrgID for Mimir and Cortex) sends each tenant's
	// series in requests of their own, with weir's tenant (the series'
	// tenant label) as this header's value. Series without a tenant go
	// without it.
	TenantHeader string      `yaml:"tenant_header"`
	QueueConfig  QueueConfig `yaml:"queue_config"`
	// HTTPClientConfig holds basic_auth, authorization, oauth2, tls_config,
	// proxy_url, follow_redirects, enable_http2 and the rest of Prometheus'
	// HTTP client settings, with its defaults for remote write (redirects
	// followed, HTTP/1.1). Credentials files are read for every request.
	HTTPClientConfig commoncfg.HTTPClientConfig `yaml:",inline"`
}

// QueueConfig is Prometheus' remote_write queue_config; zero values take
// the sink's defaults (see sinks/remotewrite). Weir runs a fixed number of
// shards, MaxShards: it does not reshard. MinShards is accepted so that a
// Prometheus block reads unchanged, and has no other effect.
type QueueConfig struct {
	// Capacity is how many samples may wait per shard.
	Capacity          int      `yaml:"capacity"`
	MaxShards         int      `yaml:"max_shards"`
	MinShards         int      `yaml:"min_shards"`
	MaxSamplesPerSend int      `yaml:"max_samples_per_send"`
	BatchSendDeadline Duration `yaml:"batch_send_deadline"`
	MinBackoff        Duration `yaml:"min_backoff"`
	MaxBackoff        Duration `yaml:"max_backoff"`
}

// UnmarshalYAML starts from Prometheus' remote-write HTTP defaults. It has
// the older form so that a decoder refusing unknown fields keeps refusing
// them inside.
func (rw *RemoteWrite) UnmarshalYAML(unmarshal func(any) error) error {
	type plain RemoteWrite
	*rw = RemoteWrite{HTTPClientConfig: commoncfg.HTTPClientConfig{FollowRedirects: true, EnableHTTP2: false}}
	return unmarshal((*plain)(rw))
}

// protocolHeaders are set by the remote-write client itself.
var protocolHeaders = []string{"Content-Encoding", "Content-Type", "Content-Length", "User-Agent", "X-Prometheus-Remote-Write-Version"}

// redactedURL is u without user info, query and fragment: what may be
// printed of a URL that can hold credentials.
func redactedURL(u *url.URL) string {
	safe := *u
	safe.User, safe.RawQuery, safe.Fragment = nil, "", ""
	return safe.String()
}

func (rw *RemoteWrite) validate(at string) []string {
	var errs []string
	u, err := url.Parse(rw.URL)
	switch {
	case err != nil:
		// url.Parse quotes its input, which may hold credentials.
		errs = append(errs, fmt.Sprintf("%s.url: not a URL: %v", at, errors.Unwrap(err)))
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Sprintf("%s.url: %q is not an http(s) URL", at, redactedURL(u)))
	case u.User != nil:
		hc := &rw.HTTPClientConfig
		if hc.BasicAuth != nil || hc.Authorization != nil || hc.OAuth2 != nil || hc.BearerToken != "" || hc.BearerTokenFile != "" {
			errs = append(errs, fmt.Sprintf("%s.url: user info together with basic_auth, authorization or oauth2 (it would take their place): give one", at))
		}
	}
	if rw.Timeout < 0 {
		errs = append(errs, fmt.Sprintf("%s.timeout: negative", at))
	}
	if rw.TenantHeader != "" && !httpguts.ValidHeaderFieldName(rw.TenantHeader) {
		errs = append(errs, fmt.Sprintf("%s.tenant_header: %q is not a valid HTTP header name", at, rw.TenantHeader))
	}
	for h, v := range rw.Headers {
		switch {
		case !httpguts.ValidHeaderFieldName(h):
			errs = append(errs, fmt.Sprintf("%s.headers: %q is not a valid HTTP header name", at, h))
		case !httpguts.ValidHeaderFieldValue(v):
			errs = append(errs, fmt.Sprintf("%s.headers.%s: the value holds a byte HTTP does not allow", at, h))
		case strings.EqualFold(h, "Authorization"):
			errs = append(errs, fmt.Sprintf("%s.headers.%s: set it with basic_auth or authorization (credentials_file for a secret)", at, h))
		case strings.EqualFold(h, rw.TenantHeader):
			errs = append(errs, fmt.Sprintf("%s.headers.%s: set per tenant by tenant_header", at, h))
		}
		for _, p := range protocolHeaders {
			if strings.EqualFold(h, p) {
				errs = append(errs, fmt.Sprintf("%s.headers.%s: set by the remote-write protocol", at, h))
			}
		}
	}
	errs = append(errs, rw.QueueConfig.validate(at+".queue_config")...)
	hc := &rw.HTTPClientConfig
	for _, ref := range []struct{ field, v string }{
		{"basic_auth.username_ref", ptrField(hc.BasicAuth, func(b *commoncfg.BasicAuth) string { return b.UsernameRef })},
		{"basic_auth.password_ref", ptrField(hc.BasicAuth, func(b *commoncfg.BasicAuth) string { return b.PasswordRef })},
		{"authorization.credentials_ref", ptrField(hc.Authorization, func(a *commoncfg.Authorization) string { return a.CredentialsRef })},
		{"oauth2.client_secret_ref", ptrField(hc.OAuth2, func(o *commoncfg.OAuth2) string { return o.ClientSecretRef })},
		{"tls_config.ca_ref", hc.TLSConfig.CARef},
		{"tls_config.cert_ref", hc.TLSConfig.CertRef},
		{"tls_config.key_ref", hc.TLSConfig.KeyRef},
	} {
		if ref.v != "" {
			errs = append(errs, fmt.Sprintf("%s.%s: not supported (weir has no secret manager): use the *_file setting", at, ref.field))
		}
	}
	if err := hc.Validate(); err != nil {
		errs = append(errs, fmt.Sprintf("%s: %v", at, err))
	}
	return errs
}

func ptrField[T any](p *T, f func(*T) string) string {
	if p == nil {
		return ""
	}
	return f(p)
}

func (q QueueConfig) validate(at string) []string {
	var errs []string
	for _, v := range []struct {
		field string
		n     int
	}{{"capacity", q.Capacity}, {"max_shards", q.MaxShards}, {"min_shards", q.MinShards}, {"max_samples_per_send", q.MaxSamplesPerSend}} {
		if v.n < 0 {
			errs = append(errs, fmt.Sprintf("%s.%s: %d is negative", at, v.field, v.n))
		}
	}
	if q.MinShards > 0 && q.MaxShards > 0 && q.MinShards > q.MaxShards {
		errs = append(errs, fmt.Sprintf("%s.min_shards: %d is more than max_shards %d", at, q.MinShards, q.MaxShards))
	}
	for _, d := range []struct {
		field string
		v     Duration
	}{{"batch_send_deadline", q.BatchSendDeadline}, {"min_backoff", q.MinBackoff}, {"max_backoff", q.MaxBackoff}} {
		if d.v < 0 {
			errs = append(errs, fmt.Sprintf("%s.%s: negative", at, d.field))
		}
	}
	if q.MinBackoff > 0 && q.MaxBackoff > 0 && q.MaxBackoff < q.MinBackoff {
		errs = append(errs, fmt.Sprintf("%s.max_backoff: less than min_backoff", at))
	}
	return errs
}

// Traces is the OTLP gRPC destination of kept traces.
type Traces struct {
	Endpoint string `yaml:"endpoint"`
	Insecure bool   `yaml:"insecure"`
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the server's certificate must hold, when it
	// is not the endpoint's host.
	ServerName string `yaml:"server_name"`
	// Headers are sent as gRPC metadata with every export; values are
	// never logged.
	Headers map[string]string `yaml:"headers"`
	// HeaderFiles name, per header, a file holding its value (such as
	// "Bearer <token>"), read for every export so that a rotated secret
	// takes effect at once.
	HeaderFiles map[string]string `yaml:"header_files"`
}

func (t Traces) validate() []string {
	var errs []string
	if t.Insecure && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "") {
		errs = append(errs, "traces: insecure together with TLS files")
	}
	if t.Insecure && t.ServerName != "" {
		errs = append(errs, "traces.server_name: no TLS with insecure")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, "traces: cert_file and key_file: give both or neither")
	}
	for h := range t.HeaderFiles {
		for k := range t.Headers {
			if strings.EqualFold(h, k) {
				errs = append(errs, fmt.Sprintf("traces.header_files.%s: also in traces.headers", h))
			}
		}
	}
	return errs
}
