package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/weirdev/weir/internal/testenv"
)

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []Opt
		health func() (bool, string)
		checks []struct {
			path   string
			status int
			body   string
		}
	}{
		{name: "defaults", checks: []struct {
			path   string
			status int
			body   string
		}{
			{"/-/healthy", http.StatusOK, "healthy"},
			{"/-/ready", http.StatusServiceUnavailable, "not ready"},
			{"/metrics", http.StatusOK, ""},
			// Profiles are off unless asked for.
			{"/debug/pprof/", http.StatusNotFound, ""},
			{"/debug/pprof/cmdline", http.StatusNotFound, ""},
		}},
		{name: "profiles", opts: []Opt{Profiles()}, checks: []struct {
			path   string
			status int
			body   string
		}{
			{"/debug/pprof/", http.StatusOK, "goroutine"},
			{"/debug/pprof/heap?debug=1", http.StatusOK, "heap profile"},
			{"/debug/pprof/cmdline", http.StatusOK, ""},
		}},
		{name: "unhealthy", health: func() (bool, string) { return false, "worker 0: cluster: boom" }, checks: []struct {
			path   string
			status int
			body   string
		}{
			{"/-/healthy", http.StatusServiceUnavailable, "worker 0: cluster: boom"},
		}},
	} {
		s := New(prometheus.NewRegistry(), tc.opts...)
		if tc.health != nil {
			s.SetHealth(tc.health)
		}
		ts := httptest.NewServer(s.Handler())
		for _, c := range tc.checks {
			status, body := get(t, ts.Client(), ts.URL+c.path)
			if status != c.status || !strings.Contains(body, c.body) {
				t.Errorf("%s: GET %s: %d, body %.80q; want %d containing %q", tc.name, c.path, status, body, c.status, c.body)
			}
		}
		ts.Close()
	}
	ps := httptest.NewServer(ProfilesHandler())
	defer ps.Close()
	if status, _ := get(t, ps.Client(), ps.URL+"/debug/pprof/"); status != http.StatusOK {
		t.Errorf("ProfilesHandler: %d", status)
	}
	if status, _ := get(t, ps.Client(), ps.URL+"/metrics"); status != http.StatusNotFound {
		t.Errorf("ProfilesHandler serves /metrics: %d", status)
	}
}

// backend records what reaches it through a proxy.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
	auth []string
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen = append(b.seen, r.Method+" "+r.URL.Path)
		b.auth = append(b.auth, r.Header.Get("Authorization")+r.Header.Get("Cookie"))
		b.mu.Unlock()
		fmt.Fprint(w, "backend")
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) take() (seen, auth []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen, auth, b.seen, b.auth = b.seen, b.auth, nil, nil
	return seen, auth
}

// TestProxyForwardsReadsOnly sends every endpoint of Prometheus' and
// Jaeger's APIs that writes, deletes or tells more than reads need through
// weir's port: each must answer 404 without reaching the backend, where the
// reads reach it with their path and without the client's credentials.
func TestProxyForwardsReadsOnly(t *testing.T) {
	prom, jaeger := newBackend(t), newBackend(t)
	ph, err := PrometheusProxy(prom.URL + "/prom")
	if err != nil {
		t.Fatal(err)
	}
	jh, err := JaegerProxy(jaeger.URL)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(prometheus.NewRegistry(), Query(ph), Traces(jh)).Handler())
	defer ts.Close()
	do := func(method, path string) int {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader("query=up"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Basic d2Vpcjp3ZWly")
		req.Header.Set("Cookie", "session=weir")
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	reads := []struct{ method, path, backend string }{
		{"GET", "/api/v1/query?query=up", "prom"},
		{"POST", "/api/v1/query", "prom"},
		{"GET", "/api/v1/query_range", "prom"},
		{"POST", "/api/v1/query_range", "prom"},
		{"GET", "/api/v1/query_exemplars", "prom"},
		{"POST", "/api/v1/query_exemplars", "prom"},
		{"GET", "/api/v1/series", "prom"},
		{"POST", "/api/v1/series", "prom"},
		{"GET", "/api/v1/labels", "prom"},
		{"POST", "/api/v1/labels", "prom"},
		{"GET", "/api/v1/label/__name__/values", "prom"},
		{"GET", "/api/v1/metadata", "prom"},
		{"GET", "/api/v1/status/buildinfo", "prom"},
		{"GET", "/api/traces/0af7651916cd43dd8448eb211c803101", "jaeger"},
		{"GET", "/api/traces?service=cart", "jaeger"},
		{"GET", "/api/services", "jaeger"},
		{"GET", "/api/services/cart/operations", "jaeger"},
		{"GET", "/api/operations?service=cart", "jaeger"},
		{"GET", "/api/v3/traces/0af7651916cd43dd8448eb211c803101", "jaeger"},
		{"GET", "/api/v3/traces?query.service_name=cart", "jaeger"},
		{"GET", "/api/v3/services", "jaeger"},
		{"GET", "/api/v3/operations?service=cart", "jaeger"},
	}
	for _, r := range reads {
		if got := do(r.method, r.path); got != http.StatusOK {
			t.Errorf("%s %s: %d, want it forwarded", r.method, r.path, got)
			continue
		}
		b, prefix := prom, "/prom"
		if r.backend == "jaeger" {
			b, prefix = jaeger, ""
		}
		seen, auth := b.take()
		want := r.method + " " + prefix + strings.SplitN(r.path, "?", 2)[0]
		if len(seen) != 1 || seen[0] != want {
			t.Errorf("%s %s reached %s as %q, want %q", r.method, r.path, r.backend, seen, want)
		}
		if len(auth) == 1 && auth[0] != "" {
			t.Errorf("%s %s: the client's credentials reached the backend: %q", r.method, r.path, auth[0])
		}
	}
	refused := []struct{ method, path string }{
		{"POST", "/api/v1/write"},
		{"PUT", "/api/v1/write"},
		{"POST", "/api/v1/otlp/v1/metrics"},
		{"POST", "/api/v1/admin/tsdb/delete_series"},
		{"PUT", "/api/v1/admin/tsdb/delete_series"},
		{"POST", "/api/v1/admin/tsdb/clean_tombstones"},
		{"POST", "/api/v1/admin/tsdb/snapshot"},
		{"PUT", "/api/v1/admin/tsdb/snapshot"},
		{"GET", "/api/v1/admin/tsdb/snapshot"},
		{"DELETE", "/api/v1/series"},
		{"PUT", "/api/v1/query"},
		{"DELETE", "/api/v1/query"},
		{"PATCH", "/api/v1/query_range"},
		{"POST", "/api/v1/label/__name__/values"},
		{"POST", "/api/v1/metadata"},
		{"GET", "/api/v1/read"},
		{"POST", "/api/v1/read"},
		{"GET", "/api/v1/status/config"},
		{"GET", "/api/v1/status/flags"},
		{"GET", "/api/v1/status/runtimeinfo"},
		{"GET", "/api/v1/status/tsdb"},
		{"GET", "/api/v1/status/walreplay"},
		{"GET", "/api/v1/targets"},
		{"GET", "/api/v1/targets/metadata"},
		{"GET", "/api/v1/rules"},
		{"GET", "/api/v1/alerts"},
		{"GET", "/api/v1/alertmanagers"},
		{"GET", "/api/v1/notifications/live"},
		{"GET", "/api/v1/scrape_pools"},
		{"POST", "/api/v1/format_query"},
		{"GET", "/api/v1/"},
		{"GET", "/api/v1/query/extra"},
		{"GET", "/api/v1/label/a/b/values"},
		{"GET", "/api/v1/label/a%2F..%2F..%2Fadmin/values"},
		{"POST", "/api/traces"},
		{"POST", "/api/traces/0af7651916cd43dd8448eb211c803101"},
		{"DELETE", "/api/traces/0af7651916cd43dd8448eb211c803101"},
		{"PUT", "/api/services"},
		{"GET", "/api/dependencies"},
		{"GET", "/api/v3/"},
		{"POST", "/api/v3/traces"},
		{"POST", "/api/v3/traces/0af7651916cd43dd8448eb211c803101"},
		{"GET", "/api/sampling"},
	}
	for _, r := range refused {
		// The mux may first redirect a path it cleans: follow it.
		if got := do(r.method, r.path); got != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", r.method, r.path, got)
		}
	}
	if seen, _ := prom.take(); len(seen) > 0 {
		t.Errorf("refused requests reached Prometheus: %q", seen)
	}
	if seen, _ := jaeger.take(); len(seen) > 0 {
		t.Errorf("refused requests reached Jaeger: %q", seen)
	}
	// Traversal, which the mux redirects to the cleaned path: that is
	// refused in turn.
	for _, p := range []string{"/api/v1/query/../admin/tsdb/snapshot", "/api/traces/../../api/v1/write"} {
		req, _ := http.NewRequest("POST", ts.URL+p, nil)
		req.URL.Opaque = p // sent as written
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMovedPermanently {
			t.Errorf("POST %s: %d", p, resp.StatusCode)
		}
	}
	if seen, _ := prom.take(); len(seen) > 0 {
		t.Errorf("traversal reached Prometheus: %q", seen)
	}
	for _, bad := range []string{"", "127.0.0.1:9090", "ftp://x/", "http://[::1"} {
		if _, err := PrometheusProxy(bad); err == nil {
			t.Errorf("PrometheusProxy(%q) accepted", bad)
		}
	}
}

// TestWebConfig serves with a Prometheus web configuration file: TLS with a
// certificate of the test's CA, and a basic-auth user with a bcrypt hash.
func TestWebConfig(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.SelfSigned(t, dir, "weir-test-ca")
	srvCert := ca.Sign(t, dir, "weir")
	hash, err := bcrypt.GenerateFromPassword([]byte("web-secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "web.yml")
	os.WriteFile(path, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  admin: %s\n",
		srvCert.CertFile, srvCert.KeyFile, hash)), 0o600)
	if err := ValidateWebConfig(path); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("basic_auth_users:\n  admin: not-a-hash\n"), 0o600)
	if err := ValidateWebConfig(bad); err == nil || strings.Contains(err.Error(), "not-a-hash") {
		t.Errorf("ValidateWebConfig(bad hash) = %v", err)
	}
	s := New(prometheus.NewRegistry(), WebConfig(path))
	s.SetReadiness(func() (bool, string) { return true, "" })
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}}}
	url := "https://" + l.Addr().String() + "/-/ready"
	if status, _ := get(t, c, url); status != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", status)
	}
	for _, tc := range []struct {
		user, pass string
		want       int
	}{{"admin", "wrong", http.StatusUnauthorized}, {"nobody", "web-secret", http.StatusUnauthorized}, {"admin", "web-secret", http.StatusOK}} {
		req, _ := http.NewRequest("GET", url, nil)
		req.SetBasicAuth(tc.user, tc.pass)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s/%s: %d, want %d", tc.user, tc.pass, resp.StatusCode, tc.want)
		}
	}
	// Go's server answers plain HTTP on a TLS port with 400.
	if resp, err := http.Get("http://" + l.Addr().String() + "/-/ready"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served")
		}
	}
}
