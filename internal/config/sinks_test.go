package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRemoteWriteSettings(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "weir.yaml")
	in := `
kafka: {brokers: [a]}
remote_write:
  - url: https://mimir.example/api/v1/push
    tenant_header: X-Scope-OrgID
    basic_auth: {username: weir, password_file: secrets/password}
    tls_config:
      ca_file: certs/ca.pem
      cert_file: certs/client.pem
      key_file: certs/client-key.pem
      server_name: mimir.internal
      insecure_skip_verify: false
      min_version: TLS13
    proxy_url: http://proxy.example:3128
    queue_config:
      capacity: 5000
      max_shards: 8
      min_shards: 1
      max_samples_per_send: 1000
      batch_send_deadline: 2s
      min_backoff: 50ms
      max_backoff: 10s
  - url: http://prom/api/v1/write
    policies: [1m:40d]
    authorization: {credentials_file: /run/secrets/token}
traces:
  endpoint: jaeger:4317
  ca_file: certs/ca.pem
  server_name: jaeger.internal
  headers: {x-scope-orgid: acme}
  header_files: {authorization: secrets/otlp-auth}
`
	if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	rw := c.RemoteWrite[0]
	hc := rw.HTTPClientConfig
	q := rw.QueueConfig
	for _, check := range []struct {
		what      string
		got, want any
	}{
		{"tenant_header", rw.TenantHeader, "X-Scope-OrgID"},
		{"basic_auth.username", hc.BasicAuth.Username, "weir"},
		{"basic_auth.password_file (resolved)", hc.BasicAuth.PasswordFile, filepath.Join(dir, "secrets/password")},
		{"tls_config.ca_file (resolved)", hc.TLSConfig.CAFile, filepath.Join(dir, "certs/ca.pem")},
		{"tls_config.key_file (resolved)", hc.TLSConfig.KeyFile, filepath.Join(dir, "certs/client-key.pem")},
		{"tls_config.server_name", hc.TLSConfig.ServerName, "mimir.internal"},
		{"tls_config.min_version", uint16(hc.TLSConfig.MinVersion), uint16(0x0304)},
		{"proxy_url", hc.ProxyURL.String(), "http://proxy.example:3128"},
		{"follow_redirects (Prometheus' default)", hc.FollowRedirects, true},
		{"enable_http2 (Prometheus' default for remote write)", hc.EnableHTTP2, false},
		{"queue_config", q, QueueConfig{5000, 8, 1, 1000, Duration(2 * time.Second), Duration(50 * time.Millisecond), Duration(10 * time.Second)}},
		{"authorization type defaults to Bearer", c.RemoteWrite[1].HTTPClientConfig.Authorization.Type, "Bearer"},
		{"authorization.credentials_file (absolute)", c.RemoteWrite[1].HTTPClientConfig.Authorization.CredentialsFile, "/run/secrets/token"},
		{"traces.server_name", c.Traces.ServerName, "jaeger.internal"},
		{"traces.header_files", c.Traces.HeaderFiles["authorization"], "secrets/otlp-auth"},
	} {
		if check.got != check.want {
			t.Errorf("%s = %v, want %v", check.what, check.got, check.want)
		}
	}
}

func TestSinkSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		name, rw, want string
	}{
		{"unknown field in basic_auth", "basic_auth: {username: a, pasword: b}", `config:4:31: unknown field "pasword" in remote_write[0].basic_auth; did you mean "password"?`},
		{"two passwords", "basic_auth: {username: a, password: b, password_file: f}", "remote_write[0]: at most one of basic_auth password, password_file"},
		{"basic auth and authorization", "basic_auth: {username: a}\n    authorization: {credentials: c}", "remote_write[0]: at most one of basic_auth, oauth2 & authorization"},
		{"secret manager ref", "authorization: {credentials_ref: vault/token}", "remote_write[0].authorization.credentials_ref: not supported"},
		{"two CAs", "tls_config: {ca: x, ca_file: y}", "config:4:5: remote_write[0].tls_config: at most one of ca, ca_file"},
		{"bad TLS version", "tls_config: {min_version: TLS99}", "config:4:31: remote_write[0].tls_config.min_version: unknown TLS version: TLS99"},
		{"authorization header", "headers: {Authorization: Bearer x}", "remote_write[0].headers.Authorization: set it with basic_auth or authorization"},
		{"protocol header", "headers: {content-type: text/plain}", "remote_write[0].headers.content-type: set by the remote-write protocol"},
		{"tenant header twice", "tenant_header: X-Scope-OrgID\n    headers: {x-scope-orgid: a}", "remote_write[0].headers.x-scope-orgid: set per tenant by tenant_header"},
		{"bad tenant header", "tenant_header: 'X Scope'", `remote_write[0].tenant_header: "X Scope" is not a valid`},
		{"negative capacity", "queue_config: {capacity: -1}", "remote_write[0].queue_config.capacity: -1 is negative"},
		{"min shards above max", "queue_config: {min_shards: 4, max_shards: 2}", "remote_write[0].queue_config.min_shards: 4 is more than max_shards 2"},
		{"backoffs reversed", "queue_config: {min_backoff: 1s, max_backoff: 10ms}", "remote_write[0].queue_config.max_backoff: less than min_backoff"},
		{"unknown queue field", "queue_config: {retry_on_http_429: true}", `config:4:20: unknown field "retry_on_http_429" in remote_write[0].queue_config; valid keys: capacity,`},
		{"negative timeout", "timeout: -1s", `config:4:14: remote_write[0].timeout: negative duration "-1s"`},
	} {
		in := "kafka: {brokers: [a]}\nremote_write:\n  - url: http://prom/api/v1/write\n    " + tc.rw + "\n"
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name, traces, want string
	}{
		{"server name without TLS", "{endpoint: 'j:4317', insecure: true, server_name: j}", "traces.server_name: no TLS with insecure"},
		{"header twice", "{endpoint: 'j:4317', headers: {authorization: a}, header_files: {Authorization: f}}", "traces.header_files.Authorization: also in traces.headers"},
		{"cert without key", "{endpoint: 'j:4317', cert_file: c}", "traces: cert_file and key_file: give both or neither"},
	} {
		in := "kafka: {brokers: [a]}\nremote_write: [{url: 'http://x/'}]\ntraces: " + tc.traces + "\n"
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

// TestConfigErrorsHideSecrets seeds secrets wherever a remote_write entry
// holds one, makes each entry invalid in some other way, and checks that the
// errors name the problems without the secrets.
func TestConfigErrorsHideSecrets(t *testing.T) {
	secrets := []string{"url-SECRET-pw", "q-SECRET-tok", "ba-SECRET-pw", "cred-SECRET-tok", "hdr-SECRET-val"}
	in := `
kafka: {brokers: [a]}
remote_write:
  - url: 'ftp://weir:url-SECRET-pw@prom/write?token=q-SECRET-tok'
  - url: "http://weir:url-SECRET-pw@prom\x7f/?token=q-SECRET-tok"
  - url: 'http://weir:url-SECRET-pw@prom/api/v1/write?token=q-SECRET-tok'
    basic_auth: {username: weir, password: ba-SECRET-pw}
  - url: http://prom/api/v1/write
    policies: [1m:40d]
    basic_auth: {username: weir, password: ba-SECRET-pw}
    authorization: {credentials: cred-SECRET-tok}
    headers: {X-Api-Key: "hdr-SECRET-val\r", Authorization: Bearer cred-SECRET-tok}
`
	_, err := Parse([]byte(in))
	if err == nil {
		t.Fatal("Parse accepted the invalid entries")
	}
	msg := err.Error()
	for _, want := range []string{"remote_write[0].url", "remote_write[1].url", "remote_write[2].url: user info together with basic_auth",
		"remote_write[3]: at most one of", "remote_write[3].headers.X-Api-Key", "remote_write[3].headers.Authorization"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q: %s", want, msg)
		}
	}
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error prints secret %q: %s", s, msg)
		}
	}
}
