package remotewrite

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/prompb"

	"github.com/weirdev/weir/internal/testenv"
)

// requiring answers 401 to requests whose Authorization is not want.
func requiring(want *atomic.Value) func(int, *received, http.ResponseWriter) int {
	return func(_ int, r *received, _ http.ResponseWriter) int {
		if r.header.Get("Authorization") != want.Load().(string) {
			return http.StatusUnauthorized
		}
		return 0
	}
}

// acceptedNames returns the series of the requests that carried want and
// were accepted.
func acceptedNames(rc *receiver, want string) []string {
	var out []string
	for _, r := range rc.requests() {
		if r.header.Get("Authorization") == want && r.code/100 == 2 {
			out = append(out, names([]received{r})...)
		}
	}
	return out
}

// assertFaultNothingDropped waits for c to report a configuration fault, and
// checks that nothing was written or dropped meanwhile.
func assertFaultNothingDropped(t *testing.T, c *Client) {
	t.Helper()
	waitFor(t, "a configuration fault", func() bool { return c.Fault() != nil })
	if n := testutil.ToFloat64(c.m.samples); n != 0 {
		t.Errorf("samples_total = %v during the fault, want 0", n)
	}
	for _, r := range dropReasons {
		if n := testutil.ToFloat64(c.m.droppedSamples.WithLabelValues(r)); n != 0 {
			t.Errorf("dropped{reason=%s} = %v during the fault, want 0", r, n)
		}
	}
	if n := testutil.ToFloat64(c.m.configFault); n != 1 {
		t.Errorf("config_fault = %v, want 1", n)
	}
}

func TestBasicAuth(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var want atomic.Value
	want.Store("Basic " + base64.StdEncoding.EncodeToString([]byte("weir:s3cret")))
	rc := newReceiver(t, requiring(&want))

	for _, tc := range []struct {
		name string
		auth commoncfg.BasicAuth
	}{
		{"password", commoncfg.BasicAuth{Username: "weir", Password: "s3cret"}},
		{"password_file", commoncfg.BasicAuth{Username: "weir", PasswordFile: pwFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, rc.url(), WithHTTPClientConfig(commoncfg.HTTPClientConfig{BasicAuth: &tc.auth}))
			if err := write(c, series(tc.name, 1, 2, true)); err != nil {
				t.Fatal(err)
			}
			if got := acceptedNames(rc, want.Load().(string)); !slices.Contains(got, tc.name) {
				t.Errorf("accepted %v, want %s among them", got, tc.name)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		c := newClient(t, rc.url(), WithBatchSendDeadline(0),
			WithHTTPClientConfig(commoncfg.HTTPClientConfig{BasicAuth: &commoncfg.BasicAuth{Username: "weir", Password: "guess"}}))
		if err := c.Enqueue(context.Background(), []prompb.TimeSeries{series("refused", 1, 1, false)}); err != nil {
			t.Fatal(err)
		}
		assertFaultNothingDropped(t, c)
	})
}

// TestBearerFileRotated: the receiver switches to a new token; the client,
// still sending the old one, is refused (a fault: nothing dropped) until the
// token file holds the new one, which it then sends without a restart.
func TestBearerFileRotated(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("token-A\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var want atomic.Value
	want.Store("Bearer token-A")
	rc := newReceiver(t, requiring(&want))
	c := newClient(t, rc.url(), WithBatchSendDeadline(0), WithHTTPClientConfig(commoncfg.HTTPClientConfig{
		Authorization: &commoncfg.Authorization{CredentialsFile: tokenFile},
	}))
	if err := write(c, series("before", 1, 1, false)); err != nil {
		t.Fatal(err)
	}

	want.Store("Bearer token-B") // the receiver now takes only the new token
	if err := c.Enqueue(context.Background(), []prompb.TimeSeries{series("after", 2, 1, false)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the old token refused", func() bool { return c.Fault() != nil })
	if err := os.WriteFile(tokenFile, []byte("token-B\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := acceptedNames(rc, "Bearer token-A"); !slices.Equal(got, []string{"before"}) {
		t.Errorf("requests with the old token: %v, want only [before]", got)
	}
	if got := acceptedNames(rc, "Bearer token-B"); !slices.Equal(got, []string{"after"}) {
		t.Errorf("requests with the new token: %v, want [after]", got)
	}
	if c.Fault() != nil {
		t.Errorf("Fault() after the rotation = %v", c.Fault())
	}
}

// TestMutualTLS: the receiver takes only clients with a certificate from its
// CA, and its own certificate names receiver.test, not 127.0.0.1.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.SelfSigned(t, dir, "weir-test-ca")
	server := ca.Sign(t, dir, "receiver", "receiver.test")
	client := ca.Sign(t, dir, "weir-client")
	rc := startReceiver(t, nil, &tls.Config{
		Certificates: []tls.Certificate{server.TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool,
	})
	full := commoncfg.TLSConfig{CAFile: ca.CertFile, CertFile: client.CertFile, KeyFile: client.KeyFile, ServerName: "receiver.test"}

	c := newClient(t, rc.url(), WithHTTPClientConfig(commoncfg.HTTPClientConfig{TLSConfig: full}))
	if err := write(c, series("mtls", 1, 1, true)); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 || reqs[0].peer != "weir-client" {
		t.Fatalf("receiver got %d requests, from %q; want 1 from weir-client", len(reqs), reqs[0].peer)
	}

	for _, tc := range []struct {
		name string
		edit func(*commoncfg.TLSConfig)
	}{
		{"no client certificate", func(c *commoncfg.TLSConfig) { c.CertFile, c.KeyFile = "", "" }},
		{"no server name", func(c *commoncfg.TLSConfig) { c.ServerName = "" }},
		{"system roots", func(c *commoncfg.TLSConfig) { c.CAFile = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := full
			tc.edit(&cfg)
			c := newClient(t, rc.url(), WithBatchSendDeadline(0), WithHTTPClientConfig(commoncfg.HTTPClientConfig{TLSConfig: cfg}))
			if err := c.Enqueue(context.Background(), []prompb.TimeSeries{series("refused", 1, 1, false)}); err != nil {
				t.Fatal(err)
			}
			assertFaultNothingDropped(t, c)
			t.Logf("fault: %v", c.Fault())
		})
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("receiver got %d requests, want only the one with the full TLS config", n)
	}
}
