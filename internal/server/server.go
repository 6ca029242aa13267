// Package server is weir's one HTTP port: its own metrics, health, the
// query API the UI reads (the demo's embedded store, or a read-only proxy
// to the configured Prometheus-compatible storage), the trace API, the UI
// and, when enabled, Go's profiles (/debug/pprof/). TLS and basic auth on
// the port take Prometheus' web configuration file (exporter-toolkit).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// Server serves weir's HTTP endpoints.
type Server struct {
	mux       *http.ServeMux
	ready     atomic.Pointer[func() (bool, string)]
	healthy   atomic.Pointer[func() (bool, string)]
	log       *slog.Logger
	webConfig string
}

// Opt configures a Server.
type Opt func(*Server)

// Query mounts h (a Prometheus HTTP API) under /api/v1/.
func Query(h http.Handler) Opt { return func(s *Server) { s.mux.Handle("/api/v1/", h) } }

// Traces mounts h (a Jaeger HTTP API) under /api/traces, /api/services,
// /api/operations and /api/v3/.
func Traces(h http.Handler) Opt {
	return func(s *Server) {
		for _, p := range []string{"/api/traces", "/api/traces/", "/api/services", "/api/services/", "/api/operations", "/api/v3/"} {
			s.mux.Handle(p, h)
		}
	}
}

// Profiles mounts Go's profiles under /debug/pprof/ (off by default: a
// profile costs CPU, and cmdline shows the process' arguments).
func Profiles() Opt {
	return func(s *Server) { mountProfiles(s.mux) }
}

// ProfilesHandler serves Go's profiles alone, for a debug port of its own.
func ProfilesHandler() http.Handler {
	mux := http.NewServeMux()
	mountProfiles(mux)
	return mux
}

// mountProfiles serves Go's profiles, as Prometheus and VictoriaMetrics
// do: where a running weir spends its CPU and memory (go tool pprof URL).
func mountProfiles(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// WebConfig serves with the TLS and basic-auth settings of a Prometheus
// web configuration file (tls_server_config, basic_auth_users with bcrypt
// hashes, http_server_config), read again for every request and
// connection as Prometheus does. Check it first with ValidateWebConfig.
func WebConfig(path string) Opt { return func(s *Server) { s.webConfig = path } }

// ValidateWebConfig reads a web configuration file, its users and its
// certificates; the error says what is wrong (never a password hash).
func ValidateWebConfig(path string) error {
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("server: web config %s: %w", path, err)
	}
	return nil
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
		if f := s.healthy.Load(); f != nil {
			if ok, why := (*f)(); !ok {
				http.Error(w, "weir is not healthy: "+why, http.StatusServiceUnavailable)
				return
			}
		}
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
	for _, o := range opts {
		o(s)
	}
	return s
}

// SetHealth makes /-/healthy answer what f says: healthy, or why not (503).
// Until it is called /-/healthy answers healthy: the process serves.
func (s *Server) SetHealth(f func() (healthy bool, why string)) { s.healthy.Store(&f) }

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

// Server timeouts: a client has a minute to send its request (a slow
// sender holds no connection longer), an answer three minutes (more than a
// query's timeout and a 30 s CPU profile).
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = time.Minute
	writeTimeout      = 3 * time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// Serve serves on l until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return serve(ctx, l, s.mux, s.webConfig, s.log)
}

// ServeHandler serves h on l as Serve does (the same timeouts), with the
// web configuration file webConfig ("" for none).
func ServeHandler(ctx context.Context, l net.Listener, h http.Handler, webConfig string, log *slog.Logger) error {
	return serve(ctx, l, h, webConfig, log)
}

func serve(ctx context.Context, l net.Listener, h http.Handler, webConfig string, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() {
		if webConfig == "" {
			errc <- srv.Serve(l)
			return
		}
		errc <- web.Serve(l, srv, &web.FlagConfig{WebConfigFile: &webConfig}, log.With("component", "web"))
	}()
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
