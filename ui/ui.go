// Package ui is weir's web page: pick a metric and its labels, see the series
// over the last minutes with their exemplars drawn on the chart, and click an
// exemplar to open its trace as a waterfall.
//
// The page is hand-written HTML, CSS and JavaScript embedded in the binary
// (no build step, nothing loaded from elsewhere), its chart its own: no
// charting library is packaged for Go, and one from npm would add a build
// step to `go run ./cmd/weir demo`. It reads only weir's own port: the
// Prometheus HTTP API under /api/v1/ (the demo's embedded store, or the
// proxy to the configured Prometheus-compatible storage under `weir run`),
// the Jaeger HTTP API under /api/traces/, and /metrics for the exemplar
// coverage. The server mounts the handler at "/".
package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Config is what the page is told about the deployment.
type Config struct {
	// JaegerUIURL is the base address of a Jaeger UI. When set, the
	// waterfall links to JaegerUIURL + "/trace/{id}". Only http and https
	// addresses are linked; the page ignores any other.
	JaegerUIURL string
	// DecisionWait is how far behind its spans weir exports a kept trace
	// (tail_sampling.decision_wait): the page tells a trace not decided yet
	// from one not exported by the exemplar's age.
	DecisionWait time.Duration
}

// pageConfig is /ui/config.json.
type pageConfig struct {
	JaegerUIURL         string  `json:"jaegerUIURL"`
	DecisionWaitSeconds float64 `json:"decisionWaitSeconds"`
}

// Paths the handler serves. Anything else under "/" answers 404.
const (
	indexPath  = "/"
	configPath = "/ui/config.json"
	assetDir   = "/ui/"
)

// contentSecurityPolicy forbids everything the page does not need: it loads
// nothing from another origin, runs no inline script and is never framed.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the UI: the page at "/" (and "/index.html"), its script and
// stylesheet under /ui/, and cfg as /ui/config.json. It answers GET and HEAD
// only (405 otherwise) and 404 for any other path, so that mounting it at "/"
// does not turn mistyped API paths into pages.
func Handler(cfg Config) http.Handler {
	conf, err := json.Marshal(pageConfig{JaegerUIURL: strings.TrimRight(cfg.JaegerUIURL, "/"), DecisionWaitSeconds: cfg.DecisionWait.Seconds()})
	if err != nil {
		// A struct of a string and a finite number always marshals.
		panic(fmt.Sprintf("ui: config: %v", err))
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(fmt.Sprintf("ui: embedded assets: %v", err))
	}
	index, err := fs.ReadFile(static, "index.html")
	if err != nil {
		panic(fmt.Sprintf("ui: embedded index.html: %v", err))
	}
	return &handler{static: static, index: index, config: conf}
}

type handler struct {
	static fs.FS
	index  []byte
	config []byte
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "ui: method "+r.Method+" not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	// The page is small and changes with the binary: revalidate rather than
	// serve a stale script after an upgrade.
	hdr.Set("Cache-Control", "no-cache")

	p := r.URL.Path
	switch {
	case p == indexPath || p == "/index.html":
		serve(w, r, "index.html", h.index)
	case p == configPath:
		serve(w, r, "config.json", h.config)
	case strings.HasPrefix(p, assetDir) && path.Clean(p) == p && p != "/ui/index.html":
		name := strings.TrimPrefix(p, assetDir)
		b, err := fs.ReadFile(h.static, name)
		if err != nil {
			http.Error(w, "ui: no asset "+p, http.StatusNotFound)
			return
		}
		serve(w, r, name, b)
	default:
		http.Error(w, "ui: no page at "+p+" (the UI is at /, the APIs under /api/)", http.StatusNotFound)
	}
}

// serve writes b with the content type of name's extension; ServeContent
// handles HEAD and Range.
func serve(w http.ResponseWriter, r *http.Request, name string, b []byte) {
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}
