package rules

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Watcher keeps a Set loaded from files current: it polls the files for
// changes and reloads on demand (SIGHUP). A change that does not compile is
// refused: its errors are logged, counted, and the running Set stays.
type Watcher struct {
	paths    []string
	interval time.Duration
	logger   *slog.Logger
	reg      prometheus.Registerer
	check    func(*Set) error

	cur atomic.Pointer[Set]

	mu       sync.Mutex // serializes loads and calls of onChange
	onChange func(*Set)
	stamp    string   // names, sizes and mtimes of the files last read
	sum      [32]byte // hash of the contents last tried, good or bad

	reloads  prometheus.Counter
	failures prometheus.Counter
	loaded   prometheus.Gauge
}

// WatcherOpt configures a Watcher.
type WatcherOpt func(*Watcher)

// WatcherInterval sets how often the files are checked for changes; default 1s.
func WatcherInterval(d time.Duration) WatcherOpt {
	return func(w *Watcher) {
		if d > 0 {
			w.interval = d
		}
	}
}

// WatcherLogger sets where reloads and refused files are logged; default
// slog.Default().
func WatcherLogger(l *slog.Logger) WatcherOpt {
	return func(w *Watcher) {
		if l != nil {
			w.logger = l
		}
	}
}

// WatcherRegisterer registers the watcher's metrics (weir_rules_reloads_total,
// weir_rules_reload_failures_total, weir_rules_loaded) on r; nil, the
// default, registers nothing.
func WatcherRegisterer(r prometheus.Registerer) WatcherOpt {
	return func(w *Watcher) { w.reg = r }
}

// WatcherCheck adds a check that a Set must pass, besides compiling, to be
// put in force: for example that its storage policies are routed somewhere.
// A Set the check fails is refused like files that do not compile (logged,
// counted, the running Set stays). An Errors from check is logged error by
// error.
func WatcherCheck(check func(*Set) error) WatcherOpt {
	return func(w *Watcher) { w.check = check }
}

// NewWatcher loads the rules at paths (files or directories, as Load) and
// returns a Watcher holding them; changes are looked for from then on. When
// the files do not compile, their errors are logged and Current is nil until
// a change that compiles: to refuse to start on bad rules, call Load first.
// Like prometheus.MustRegister, NewWatcher panics when the metrics cannot be
// registered (a second watcher on one registry).
func NewWatcher(paths []string, opts ...WatcherOpt) *Watcher {
	w := &Watcher{
		paths:    paths,
		interval: time.Second,
		logger:   slog.Default(),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_rules_reloads_total",
			Help: "Reloads of the rules files attempted after the first load, on change or on demand.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_rules_reload_failures_total",
			Help: "Reloads of the rules files refused because the files did not compile; the previous rules stayed in force.",
		}),
		loaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_rules_loaded",
			Help: "Rules in force.",
		}),
	}
	for _, o := range opts {
		o(w)
	}
	if w.reg != nil {
		w.reg.MustRegister(w.reloads, w.failures, w.loaded)
	}
	stamp, sum, set, err := w.load()
	w.stamp, w.sum = stamp, sum
	if err != nil {
		w.logRefused(err)
		return w
	}
	w.cur.Store(set)
	w.loaded.Set(float64(set.Len()))
	return w
}

// Current returns the Set in force, nil when none ever compiled.
func (w *Watcher) Current() *Set { return w.cur.Load() }

// Run checks the files every interval until ctx is done, and calls onChange
// with each new Set it puts in force, including those put in force by Reload
// while Run runs. It does not call onChange for the Set in force when it
// starts (see Current). Calls of onChange never overlap; onChange must not
// call Reload.
func (w *Watcher) Run(ctx context.Context, onChange func(*Set)) {
	w.mu.Lock()
	w.onChange = onChange
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.onChange = nil
		w.mu.Unlock()
	}()

	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.poll()
		}
	}
}

// Reload reads the files now, whether they changed or not, as on SIGHUP. It
// returns the Errors that made it refuse the files, or the error of the
// WatcherCheck that refused them (the Set in force stays), or nil when the
// new Set is in force.
func (w *Watcher) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reload(true)
}

func (w *Watcher) poll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.reload(false) // logged and counted by reload
}

// reload loads the files and puts them in force if they compile. Unless
// forced, it does nothing when the files look the same as last time (names,
// sizes and mtimes) or hold the same bytes, so that a refused file is
// reported once, not every interval. w.mu is held.
func (w *Watcher) reload(force bool) error {
	if !force {
		if stamp, _, _ := stat(w.paths); stamp == w.stamp {
			return nil
		}
	}
	stamp, sum, set, err := w.load()
	if !force && sum == w.sum {
		w.stamp = stamp
		return nil
	}
	w.stamp, w.sum = stamp, sum
	w.reloads.Inc()
	if err != nil {
		w.failures.Inc()
		w.logRefused(err)
		return err
	}
	w.cur.Store(set)
	w.loaded.Set(float64(set.Len()))
	w.logger.Info("rules reloaded", "paths", strings.Join(w.paths, ","), "rules", set.Len())
	if w.onChange != nil {
		w.onChange(set)
	}
	return nil
}

// logRefused logs each problem of a refused load on its own line, in the
// form Load reports it ("FILE:LINE:COL: message").
func (w *Watcher) logRefused(err error) {
	var errs Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			w.logger.Error("bad rules", "error", e.Error())
		}
	} else {
		errs = Errors{{Msg: err.Error()}}
		w.logger.Error("bad rules", "error", err.Error())
	}
	w.logger.Error("rules refused, keeping the rules in force", "paths", strings.Join(w.paths, ","), "problems", len(errs))
}

// load reads and compiles the files, returning their stamp and content hash
// with the result.
func (w *Watcher) load() (stamp string, sum [32]byte, set *Set, err error) {
	// Stat before reading: if a file changes in between, the next poll sees
	// a new stamp, reads again and finds what is already in force.
	stamp, files, errs := stat(w.paths)
	srcs, rerrs := read(files)
	errs = append(errs, rerrs...)

	h := sha256.New()
	var n [8]byte
	for _, e := range errs {
		h.Write([]byte(e.Error()))
	}
	for _, s := range srcs {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s.name)))
		h.Write(n[:])
		h.Write([]byte(s.name))
		binary.LittleEndian.PutUint64(n[:], uint64(len(s.data)))
		h.Write(n[:])
		h.Write(s.data)
	}
	h.Sum(sum[:0])
	set, err = compile(srcs, errs)
	if err == nil && w.check != nil {
		if err = w.check(set); err != nil {
			set = nil
		}
	}
	return stamp, sum, set, err
}

// stat describes the files at paths by name, size and mtime, cheaply enough
// to run every interval.
func stat(paths []string) (string, []string, Errors) {
	files, errs := expand(paths)
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", f, err)
			continue
		}
		fmt.Fprintf(&b, "%s %d %d\n", f, st.Size(), st.ModTime().UnixNano())
	}
	return b.String(), files, errs
}
