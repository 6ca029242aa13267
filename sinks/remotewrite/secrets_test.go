package remotewrite

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/prompb"

	"github.com/weirdev/weir/internal/testenv"
)

// TestNoSecretInLogsOrErrors seeds secrets in every place a remote-write
// config holds one (URL user info and query, basic auth password, bearer
// token file, header values, proxy URL), drives every error path the client
// has (bad options, each refusing status with a body echoing the request's
// credentials, outages, TLS and proxy failures, unreadable files, giving up
// at Close), and fails if a secret shows in a log line or an error.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	secrets := []string{"url-SECRET-pw", "q-SECRET-tok", "ba-SECRET-pw", "bearer-SECRET-tok", "hdr-SECRET-val", "proxy-SECRET-pw",
		base64.StdEncoding.EncodeToString([]byte("weir:url-SECRET-pw")), base64.StdEncoding.EncodeToString([]byte("weir:ba-SECRET-pw"))}
	logs := &testenv.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("bearer-SECRET-tok"), 0o600); err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{"X-Api-Key": "hdr-SECRET-val"}
	withSecrets := func(u string) string {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		p.User = url.UserPassword("weir", "url-SECRET-pw")
		p.RawQuery = "token=q-SECRET-tok"
		return p.String()
	}
	basic := commoncfg.HTTPClientConfig{BasicAuth: &commoncfg.BasicAuth{Username: "weir", Password: "ba-SECRET-pw"}}
	bearer := commoncfg.HTTPClientConfig{Authorization: &commoncfg.Authorization{CredentialsFile: tokenFile}}
	opts := func(hc commoncfg.HTTPClientConfig, more ...Opt) []Opt {
		return append([]Opt{WithLogger(logger), WithHeaders(headers), WithHTTPClientConfig(hc), WithBatchSendDeadline(0),
			WithBackoff(1e6, 5e6), WithShards(1)}, more...)
	}
	giveUp := func(c *Client) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		note(c.Close(ctx))
	}

	// Options New refuses.
	for _, bad := range []struct {
		url  string
		opts []Opt
	}{
		{"http://weir:url-SECRET-pw@h\x7f/?token=q-SECRET-tok", nil},
		{"ftp://weir:url-SECRET-pw@h/?token=q-SECRET-tok", nil},
		{"http://h/", []Opt{WithHeaders(map[string]string{"X-Api-Key": "hdr-SECRET-val\r\n"})}},
		{"http://h/", []Opt{WithHeaders(map[string]string{"Authorization": "Bearer bearer-SECRET-tok"})}},
		{"http://weir:url-SECRET-pw@h/?token=q-SECRET-tok", []Opt{WithHTTPClientConfig(commoncfg.HTTPClientConfig{
			TLSConfig: commoncfg.TLSConfig{CAFile: filepath.Join(dir, "missing-ca.pem")},
		})}},
	} {
		_, err := New(bad.url, bad.opts...)
		if err == nil {
			t.Errorf("New(%q) succeeded", bad.url)
		}
		note(err)
	}

	// Every refusal, each echoing the request's credentials in its body.
	echo := func(code int) func(int, *received, http.ResponseWriter) int {
		return func(n int, r *received, w http.ResponseWriter) int {
			if n >= 2 {
				return 0
			}
			w.WriteHeader(code)
			fmt.Fprintf(w, "refused %s; token %s; key %s; uri %s", r.header.Get("Authorization"),
				strings.TrimPrefix(r.header.Get("Authorization"), "Bearer "), r.header.Get("X-Api-Key"), r.uri)
			return -1
		}
	}
	for _, code := range []int{301, 400, 401, 403, 404, 407, 409, 413, 422, 429, 500, 503} {
		for i, hc := range []commoncfg.HTTPClientConfig{basic, bearer, basic} {
			rc := newReceiver(t, echo(code))
			u := withSecrets(rc.url())
			if i == 2 { // user info would stand in for basic_auth
				u = rc.url() + "?token=q-SECRET-tok"
			}
			c, err := New(u, opts(hc)...)
			if err != nil {
				t.Fatal(err)
			}
			note(write(c, series("up", 1, 2, true), series("down", 1, 1, false)))
			note(c.Fault())
			note(c.Close(context.Background()))
			note(c.Enqueue(context.Background(), []prompb.TimeSeries{series("late", 1, 1, false)}))
			note(c.Flush(context.Background()))
		}
	}

	// Outages and faults without an answer, given up at Close.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	ca := testenv.SelfSigned(t, dir, "untrusted")
	tlsSrv := startReceiver(t, nil, &tls.Config{Certificates: []tls.Certificate{ca.TLS}})
	proxied := basic
	proxied.ProxyURL = commoncfg.URL{URL: &url.URL{Scheme: "http", User: url.UserPassword("p", "proxy-SECRET-pw"), Host: strings.TrimPrefix(closedURL, "http://")}}
	missing := commoncfg.HTTPClientConfig{Authorization: &commoncfg.Authorization{CredentialsFile: filepath.Join(dir, "missing-token")}}
	for _, tc := range []struct {
		url string
		hc  commoncfg.HTTPClientConfig
	}{
		{withSecrets(closedURL), basic},                               // connection refused
		{withSecrets(tlsSrv.url()), basic},                            // untrusted certificate
		{withSecrets("http://192.0.2.1"), basic},                      // unroutable
		{withSecrets("http://example.invalid/api/v1/write"), proxied}, // proxy down
		{closedURL + "?token=q-SECRET-tok", missing},                  // user info would stand in for the file
	} {
		c, err := New(tc.url, opts(tc.hc, WithTimeout(50e6))...)
		if err != nil {
			t.Fatal(err)
		}
		note(c.Enqueue(context.Background(), []prompb.TimeSeries{series("up", 1, 1, true)}))
		waitFor(t, "retries", func() bool { return testutil.ToFloat64(c.m.retries) >= 2 })
		note(c.Fault())
		giveUp(c)
	}

	out := logs.String() + strings.Join(errs, "\n")
	if testing.Verbose() {
		t.Log(out)
	}
	if !strings.Contains(out, "configuration fault") || !strings.Contains(out, "dropped") || !strings.Contains(out, "retrying") {
		t.Fatalf("the test did not reach the fault, drop and retry paths; output:\n%s", out)
	}
	for _, s := range secrets {
		if i := strings.Index(out, s); i >= 0 {
			lo, hi := max(i-200, 0), min(i+len(s)+50, len(out))
			t.Errorf("secret %q printed: ...%s...", s, out[lo:hi])
		}
	}
}
