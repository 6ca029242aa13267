package config

import (
	"fmt"
	"time"

	"github.com/weirdev/weir/cardinality"
	"github.com/weirdev/weir/internal/cluster"
)

// Profiler tunes the metrics profiler (package cardinality): each worker
// profiles its input partitions and publishes the profiles to Topic every
// Interval; every process merges the topic to answer /api/v1/status/tsdb
// and /api/v1/cardinality for the whole group.
type Profiler struct {
	// Disabled turns the profiler off (it is on by default).
	Disabled bool `yaml:"disabled"`
	// Period is how long a series stays active without a point (default
	// 1m).
	Period Duration `yaml:"period"`
	// MaxBytes bounds each worker's profiles (default 64 MiB).
	MaxBytes int64    `yaml:"max_bytes"`
	Interval Duration `yaml:"interval"`
	Topic    string   `yaml:"topic"`
}

func (p *Profiler) fillDefaults() {
	if p.Period == 0 {
		p.Period = Duration(cardinality.DefaultPeriod)
	}
	if p.MaxBytes == 0 {
		p.MaxBytes = cardinality.DefaultMaxBytes
	}
	if p.Interval == 0 {
		p.Interval = Duration(cluster.DefaultProfileInterval)
	}
	if p.Topic == "" {
		p.Topic = cluster.DefaultProfileTopic
	}
}

func (p *Profiler) validate() []string {
	var errs []string
	if p.Period < 0 || time.Duration(p.Period) > 24*time.Hour {
		errs = append(errs, fmt.Sprintf("profiler.period: %v is not in (0, 24h]", time.Duration(p.Period)))
	}
	if p.MaxBytes < 0 {
		errs = append(errs, "profiler.max_bytes: negative")
	}
	if p.Interval < 0 {
		errs = append(errs, "profiler.interval: negative")
	}
	return errs
}

// Config returns the profiler's settings for a worker, nil when disabled.
func (p *Profiler) Config() *cardinality.Config {
	if p.Disabled {
		return nil
	}
	return &cardinality.Config{Period: time.Duration(p.Period), MaxBytes: p.MaxBytes}
}
