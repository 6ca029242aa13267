package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/prompb"

	"github.com/weirdev/weir/internal/pipeline"
)

type nopSink struct{}

func (nopSink) Enqueue(context.Context, []prompb.TimeSeries) error { return nil }

// Workers are whole pipelines on one registry: each registers its metrics
// under its own worker label, and the span buffer's bound is split between
// them.
func TestNewPipelines(t *testing.T) {
	for _, tc := range []struct {
		n        int
		maxBytes int64
		want     map[string]float64 // weir_tailsampling_max_bytes by worker
	}{
		{1, 0, map[string]float64{"0": 256 << 20}},
		{3, 3 << 20, map[string]float64{"0": 1 << 20, "1": 1 << 20, "2": 1 << 20}},
	} {
		reg := prometheus.NewRegistry()
		pipes, err := newPipelines(tc.n, pipeline.Config{
			Series: map[string]pipeline.SeriesSink{"": nopSink{}},
			Logger: slog.New(slog.DiscardHandler),
			Reg:    reg,
		}, tc.maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if len(pipes) != tc.n {
			t.Fatalf("%d pipelines, want %d", len(pipes), tc.n)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "weir_tailsampling_max_bytes" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "worker" {
						got[l.GetValue()] = m.GetGauge().GetValue()
					}
				}
			}
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%d workers: max bytes by worker %v, want %v", tc.n, got, tc.want)
		}
		for w, v := range tc.want {
			if got[w] != v {
				t.Errorf("%d workers: worker %s bounds its buffer at %v bytes, want %v", tc.n, w, got[w], v)
			}
		}
	}
	// A config no pipeline takes names the worker that refused it.
	_, err := newPipelines(2, pipeline.Config{Logger: slog.New(slog.DiscardHandler), Reg: prometheus.NewRegistry()}, 0)
	if err == nil || !strings.Contains(err.Error(), "worker 0: pipeline: no series sink configured") {
		t.Errorf("got %v, want worker 0's error", err)
	}
}
