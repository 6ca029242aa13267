package server

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
)

// PrometheusReads are the read-only endpoints of Prometheus' HTTP API that
// PrometheusProxy forwards, as http.ServeMux patterns (GET also takes HEAD):
// queries, exemplars, series, labels, metadata and the build info. Every
// other path and method (remote write, admin, rules, targets, config,
// flags) answers 404.
var PrometheusReads = []string{
	"GET /api/v1/query", "POST /api/v1/query",
	"GET /api/v1/query_range", "POST /api/v1/query_range",
	"GET /api/v1/query_exemplars", "POST /api/v1/query_exemplars",
	"GET /api/v1/series", "POST /api/v1/series",
	"GET /api/v1/labels", "POST /api/v1/labels",
	"GET /api/v1/label/{name}/values",
	"GET /api/v1/metadata",
	"GET /api/v1/status/buildinfo",
}

// JaegerReads are the trace reads of Jaeger's query service that
// JaegerProxy forwards: its HTTP API (/api/...) and API v3.
var JaegerReads = []string{
	"GET /api/traces/{id}", "GET /api/traces",
	"GET /api/services", "GET /api/services/{service}/operations", "GET /api/operations",
	"GET /api/v3/traces/{id}", "GET /api/v3/traces",
	"GET /api/v3/services", "GET /api/v3/operations",
}

// maxProxiedBody bounds the body of a forwarded request (a POSTed query
// form); Go's own form parsing stops at 10 MB.
const maxProxiedBody = 1 << 20

// PrometheusProxy returns a reverse proxy to the Prometheus-compatible API
// at base that forwards PrometheusReads only.
func PrometheusProxy(base string) (http.Handler, error) { return readProxy(base, PrometheusReads) }

// JaegerProxy returns a reverse proxy to Jaeger's query service at base
// that forwards JaegerReads only.
func JaegerProxy(base string) (http.Handler, error) { return readProxy(base, JaegerReads) }

// readProxy forwards the requests that match one of routes to base, with
// the path that matched (cleaned by the mux, re-escaped) and without the
// client's credentials, which are weir's and not the backend's; anything
// else answers 404.
func readProxy(base string, routes []string) (http.Handler, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		// url.Parse's error quotes base, which may hold credentials.
		return nil, fmt.Errorf("server: proxy target is not an http(s) URL")
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.SetXForwarded()
		pr.Out.URL.RawPath = ""
		pr.Out.URL.Path = singleJoin(u.Path, pr.In.URL.Path)
		for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
			pr.Out.Header.Del(h)
		}
	}}
	fwd := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The mux matches escaped segments: {name} of "a%2F..%2Fadmin"
		// would reach the backend as a/../admin.
		if path.Clean(r.URL.Path) != r.URL.Path {
			http.NotFound(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxProxiedBody)
		rp.ServeHTTP(w, r)
	})
	mux := http.NewServeMux()
	for _, p := range routes {
		mux.Handle(p, fwd)
	}
	mux.HandleFunc("/", http.NotFound)
	return mux, nil
}

func singleJoin(a, b string) string {
	switch {
	case a == "" || a == "/":
		return b
	case a[len(a)-1] == '/':
		return a + b[1:]
	}
	return a + b
}
