// Package server is weir's one HTTP port: its own metrics, health, Go's
// profiles (/debug/pprof/), the query API the UI reads (the demo's embedded
// store, or a proxy to the configured Prometheus-compatible storage), the
// trace API, and the UI.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves weir's HTTP endpoints.
type Server struct {
	mux   *http.ServeMux
	ready atomic.Pointer[func() (bool, string)]
	log   *slog.Logger
}

// Opt configures a Server.
type Opt func(*Server)

// Query mounts h (a Prometheus HTTP API) under /api/v1/.
func Query(h http.Handler) Opt { return func(s *Server) { s.mux.Handle("/api/v1/", h) } }

// Traces mounts h (a Jaeger HTTP API) under /api/traces and /api/services.
func Traces(h http.Handler) Opt {
	return func(s *Server) {
		s.mux.Handle("/api/traces", h)
		s.mux.Handle("/api/traces/", h)
		s.mux.Handle("/api/services", h)
	}
}

// UI mounts h at /.
func UI(h http.Handler) Opt { return func(s *Server) { s.mux.Handle("/", h) } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Opt { return func(s *Server) { s.log = l } }

// Handle mounts any other handler.
func Handle(pattern string, h http.Handler) Opt { return func(s *Server) { s.mux.Handle(pattern, h) } }

// New returns a server exposing g's metrics on /metrics.
func New(g prometheus.Gatherer, opts ...Opt) *Server {
	s := &Server{mux: http.NewServeMux(), log: slog.New(slog.DiscardHandler)}
	s.mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "weir is healthy.")
	})
	s.mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := false, "starting"
		if f := s.ready.Load(); f != nil {
			ok, why = (*f)()
		}
		if !ok {
			http.Error(w, "weir is not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "weir is ready.")
	})
	// Go's profiles, as Prometheus and VictoriaMetrics serve them: where a
	// running weir spends its CPU and memory (go tool pprof URL).
	s.mux.HandleFunc("/debug/pprof/", pprof.Index)
	s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	for _, o := range opts {
		o(s)
	}
	return s
}

// SetReadiness makes /-/ready answer what f says: ready, or why not.
// Until it is called /-/ready answers "starting".
func (s *Server) SetReadiness(f func() (ready bool, why string)) { s.ready.Store(&f) }

// Handler returns the mux.
func (s *Server) Handler() http.Handler { return s.mux }

// Listen binds addr; Serve then serves on it. Binding first lets callers learn
// the port (addr ":0") before serving.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: listen on %s: %w", addr, err)
	}
	return l, nil
}

// Serve serves on l until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// Proxy returns a reverse proxy to base, for serving the query and trace APIs
// of a real deployment through weir's port.
func Proxy(base string) (http.Handler, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("server: proxy target %q is not a URL", base)
	}
	return httputil.NewSingleHostReverseProxy(u), nil
}
