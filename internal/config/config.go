// Package config reads weir's YAML configuration file (`weir run -config`).
//
// Every problem of a file is refused at once, each as FILE:LINE:COL:
// message at the offending key or value: YAML syntax, unknown keys (with
// the nearest valid one and the valid keys), keys given twice, values of
// the wrong type, and the settings validation refuses.
// Values may name environment variables as the OpenTelemetry Collector's
// do (${env:NAME}, ${env:NAME:-default}; see expandEnv).
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weirdev/weir/aggregator"
	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/internal/cluster"
	"github.com/weirdev/weir/rules"
)

// Duration is a time.Duration written as "10s", "1m30s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string. A negative one is refused:
// none of weir's durations has a meaning below zero (0 takes the default).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as 10s, got %s", describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("bad duration %q: %w", n.Value, err)
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as UnmarshalYAML reads it.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Config is the whole file.
type Config struct {
	// Listen is the HTTP address for /metrics, health, the query API and the UI.
	Listen string `yaml:"listen"`
	// WebConfigFile is a Prometheus web configuration file (TLS and basic
	// auth on Listen and DebugListen), as Prometheus' --web.config.file.
	WebConfigFile string `yaml:"web_config_file"`
	// DebugListen, when set, serves Go's profiles (/debug/pprof/) on an
	// address of its own; they are off otherwise (weir run -pprof serves
	// them on Listen).
	DebugListen  string        `yaml:"debug_listen"`
	Kafka        Kafka         `yaml:"kafka"`
	Rules        []string      `yaml:"rules"`
	Aggregation  Aggregation   `yaml:"aggregation"`
	TailSampling TailSampling  `yaml:"tail_sampling"`
	RemoteWrite  []RemoteWrite `yaml:"remote_write"`
	KafkaSinks   []KafkaSink   `yaml:"kafka_sinks"`
	Traces       Traces        `yaml:"traces"`
	Query        Query         `yaml:"query"`
	Unmatched    Unmatched     `yaml:"unmatched"`
	Receivers    Receivers     `yaml:"receivers"`
	Profiler     Profiler      `yaml:"profiler"`
	OTLP         OTLP          `yaml:"otlp"`

	// file is the config file's path and dir its directory; relative paths
	// resolve against dir.
	file, dir string
	// doc is the document, for the positions of later messages.
	doc *yaml.Node
}

// Unmatched says what happens to input series that no rule matches (and no
// drop rule drops). By default they pass through, aggregated by kind like a
// mapping rule, at the finest storage policy the rules use, as an M3
// coordinator keeps series that no rule names.
type Unmatched struct {
	// Drop discards them (they are still counted).
	Drop bool `yaml:"drop"`
	// Policies replace the finest policy of the rules ("1m:40d").
	Policies []string `yaml:"policies"`
}

// MaxWorkers bounds kafka.workers: each worker holds its own Kafka clients
// and transactional producer.
const MaxWorkers = 64

// Kafka says where the input is.
type Kafka struct {
	Brokers         []string `yaml:"brokers"`
	Group           string   `yaml:"group"`
	MetricsTopic    string   `yaml:"metrics_topic"`
	SpansTopic      string   `yaml:"spans_topic"`
	MetricsEncoding string   `yaml:"metrics_encoding"`
	TracesEncoding  string   `yaml:"traces_encoding"`
	DeadLetterTopic string   `yaml:"dead_letter_topic"`
	// PartialsTopic and DecisionsTopic are weir's own topics between its two
	// stages; created when missing.
	PartialsTopic  string `yaml:"partials_topic"`
	DecisionsTopic string `yaml:"decisions_topic"`
	// StateTopic holds stage 2's running totals (total and histogram
	// outputs): compacted, created when missing.
	StateTopic         string `yaml:"state_topic"`
	PartialsPartitions int32  `yaml:"partials_partitions"`
	// TransactionalID identifies this process' stage-1 producer; a restarted
	// process with the same ID fences its predecessor's open transaction at
	// once. Default: random per start.
	TransactionalID string `yaml:"transactional_id"`
	// Workers is how many stage-1/stage-2 pipelines this process runs, each
	// its own member of the groups with its own share of the partitions and
	// state (as Kafka Streams' num.stream.threads): a process uses that many
	// cores with no lock between them. Default 1.
	Workers int `yaml:"workers"`
	// SessionTimeout is how long the group waits for a silent member before
	// moving its partitions (default 45s).
	SessionTimeout  Duration `yaml:"session_timeout"`
	TenantHeader    string   `yaml:"tenant_header"`
	TenantAttribute string   `yaml:"tenant_attribute"`
	// Security is `tls` and `auth.sasl`, in the collector's shape, for
	// every Kafka client weir makes (see cluster.Security).
	cluster.Security `yaml:",inline"`
}

// Aggregation tunes windows and sketches.
type Aggregation struct {
	AllowedLateness  Duration `yaml:"allowed_lateness"`
	IdleTimeout      Duration `yaml:"idle_timeout"`
	CloseTimeout     Duration `yaml:"close_timeout"`
	MaxFuture        Duration `yaml:"max_future"`
	RelativeAccuracy float64  `yaml:"relative_accuracy"`
	// ExemplarTolerance is aggregator.ExemplarTolerance; unset, the
	// aggregator's default (aggregator.DefaultExemplarTolerance·α).
	ExemplarTolerance *float64 `yaml:"exemplar_tolerance"`
}

// TailSampling tunes the second pass over the spans topic, which exports
// the kept traces a decision wait behind the first.
type TailSampling struct {
	DecisionWait Duration `yaml:"decision_wait"`
	// MaxKeptTraces bounds the keep decisions held per spans partition.
	MaxKeptTraces    int      `yaml:"max_kept_traces"`
	BaselineRate     *float64 `yaml:"baseline_rate"`
	LatencyThreshold Duration `yaml:"latency_threshold"`
}

// KafkaSink is a Kafka topic that receives rolled-up series, with their
// exemplars, as OTLP metrics in the collector's otlp_proto encoding (see
// package sinks/kafkaotlp for the mapping): a downstream collector's
// kafkareceiver, or another weir, reads it. It is written in addition to the
// remote_write destination of each policy it takes; a policy may also go to
// Kafka sinks alone. The topic is not created.
type KafkaSink struct {
	// Brokers default to kafka.brokers.
	Brokers []string `yaml:"brokers"`
	Topic   string   `yaml:"topic"`
	// Policies written here ("10s:2d"); empty takes every policy.
	// Validation rewrites them as for remote_write.
	Policies []string `yaml:"policies"`
	// Security is the sink's `tls` and `auth`. A sink without brokers of
	// its own, and without tls and auth of its own, takes kafka's.
	cluster.Security `yaml:",inline"`
}

// Query says where the UI reads from under `weir run`.
type Query struct {
	PrometheusURL string `yaml:"prometheus_url"`
	JaegerURL     string `yaml:"jaeger_url"`
	JaegerUIURL   string `yaml:"jaeger_ui_url"`
}

// Load reads and validates a config file. Its problems are returned as
// rules.Errors, "FILE:LINE:COL: message" each (see Parse).
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := parse(path, b, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	c.file = path
	return c, nil
}

// Parse decodes and validates a config. Defaults are filled in. Every
// problem found is returned, as rules.Errors named "config": YAML syntax,
// unknown keys (with the valid ones), keys given twice and values of the
// wrong type, each at its line and column; then the settings validation
// refuses, at the line and column of the setting when the file has it.
// When the file's shape is wrong, only the values it holds are validated:
// a misspelt key is not also reported missing.
func Parse(b []byte) (*Config, error) { return parse("config", b, "") }

// FillDefaults sets every setting left empty to its default. Parse calls
// it; a program that builds a Config calls it before use.
func (c *Config) FillDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Listen, DefaultListen)
	def(&c.Kafka.Group, cluster.DefaultGroup)
	def(&c.Kafka.MetricsTopic, cluster.DefaultMetricsTopic)
	def(&c.Kafka.SpansTopic, cluster.DefaultSpansTopic)
	def(&c.Kafka.MetricsEncoding, string(ingest.EncodingProto))
	def(&c.Kafka.TracesEncoding, string(ingest.EncodingProto))
	def(&c.Kafka.DeadLetterTopic, cluster.DefaultDeadLetterTopic)
	def(&c.Kafka.PartialsTopic, cluster.DefaultPartialsTopic)
	def(&c.Kafka.DecisionsTopic, cluster.DefaultDecisionsTopic)
	def(&c.Kafka.StateTopic, cluster.DefaultStateTopic)
	dur := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	dur(&c.Kafka.SessionTimeout, DefaultSessionTimeout)
	a := &c.Aggregation
	dur(&a.AllowedLateness, aggregator.DefaultAllowedLateness)
	dur(&a.IdleTimeout, aggregator.DefaultIdleTimeout)
	// A window waits for a silent partition as long as the group may take
	// to hand a dead member's partitions over (aggregator.CloseTimeout).
	dur(&a.CloseTimeout, 2*time.Duration(c.Kafka.SessionTimeout)+30*time.Second)
	dur(&a.MaxFuture, aggregator.DefaultMaxFuture)
	if a.RelativeAccuracy == 0 {
		a.RelativeAccuracy = aggregator.DefaultRelativeAccuracy
	}
	c.Receivers.fillDefaults()
	c.Profiler.fillDefaults()
	c.OTLP.fillDefaults()
	t := &c.TailSampling
	dur(&t.DecisionWait, cluster.DefaultDecisionWait)
	if t.BaselineRate == nil {
		r := cluster.DefaultBaselineRate
		t.BaselineRate = &r
	}
}

// DefaultListen is the HTTP address without listen.
const DefaultListen = "127.0.0.1:9464"

// DefaultSessionTimeout is kafka.session_timeout's default, the Kafka
// clients' own.
const DefaultSessionTimeout = 45 * time.Second

// minCloseMargin is how much longer than the session timeout the close
// timeout must be: the group's rebalance after a member's death.
const minCloseMargin = 15 * time.Second

// validate returns the problems of the settings, each "path: message" with
// the setting's dotted path (remote_write[0].url) first.
func (c *Config) validate() []string {
	var errs []string
	if c.DebugListen != "" && c.DebugListen == c.Listen {
		errs = append(errs, "debug_listen: the same address as listen (weir run -pprof serves the profiles there)")
	}
	if len(c.Kafka.Brokers) == 0 {
		errs = append(errs, "kafka.brokers: at least one broker is required")
	}
	switch w := c.Kafka.Workers; {
	case w == 0:
		c.Kafka.Workers = 1
	case w < 0 || w > MaxWorkers:
		errs = append(errs, fmt.Sprintf("kafka.workers: %d is not between 1 and %d", w, MaxWorkers))
	}
	if p := c.Kafka.PartialsPartitions; p < 0 {
		errs = append(errs, fmt.Sprintf("kafka.partials_partitions: %d is negative", p))
	}
	for _, enc := range []struct{ field, v string }{
		{"kafka.metrics_encoding", c.Kafka.MetricsEncoding}, {"kafka.traces_encoding", c.Kafka.TracesEncoding},
	} {
		if enc.v != "otlp_proto" && enc.v != "otlp_json" {
			errs = append(errs, fmt.Sprintf("%s: %q is not otlp_proto or otlp_json", enc.field, enc.v))
		}
	}
	if len(c.RemoteWrite) == 0 && len(c.KafkaSinks) == 0 {
		errs = append(errs, "remote_write: at least one destination is required (or a kafka_sinks entry)")
	}
	errs = append(errs, fieldErrors("kafka", c.Kafka.Security.Validate())...)
	for i := range c.KafkaSinks {
		ks := &c.KafkaSinks[i]
		if len(ks.Brokers) == 0 {
			ks.Brokers = c.Kafka.Brokers
			if ks.TLS == nil && ks.Auth.SASL == nil {
				ks.Security = c.Kafka.Security
			}
		}
		errs = append(errs, fieldErrors(fmt.Sprintf("kafka_sinks[%d]", i), ks.Security.Validate())...)
		if ks.Topic == "" {
			errs = append(errs, fmt.Sprintf("kafka_sinks[%d].topic: required", i))
		}
		for j, p := range ks.Policies {
			sp, err := rules.ParseStoragePolicy(p)
			if err != nil {
				errs = append(errs, fmt.Sprintf("kafka_sinks[%d].policies[%d]: %v", i, j, err))
				continue
			}
			ks.Policies[j] = sp.String()
		}
	}
	catchAll := 0
	routed := make(map[string]int)
	for i := range c.RemoteWrite {
		rw := &c.RemoteWrite[i]
		errs = append(errs, rw.validate(fmt.Sprintf("remote_write[%d]", i))...)
		if len(rw.Policies) == 0 {
			catchAll++
		}
		for j, p := range rw.Policies {
			sp, err := rules.ParseStoragePolicy(p)
			if err != nil {
				errs = append(errs, fmt.Sprintf("remote_write[%d].policies[%d]: %v", i, j, err))
				continue
			}
			rw.Policies[j] = sp.String()
			if prev, dup := routed[sp.String()]; dup {
				errs = append(errs, fmt.Sprintf("remote_write[%d].policies[%d]: %s is already routed to remote_write[%d]", i, j, p, prev))
				continue
			}
			routed[sp.String()] = i
		}
		if rw.M3StoragePolicyHeaders {
			if len(rw.Policies) == 0 {
				errs = append(errs, fmt.Sprintf("remote_write[%d]: m3_storage_policy_headers needs the policies this destination takes listed (each gets its own M3-Storage-Policy)", i))
			}
			for h := range rw.Headers {
				if strings.EqualFold(h, M3MetricsTypeHeader) || strings.EqualFold(h, M3StoragePolicyHeader) {
					errs = append(errs, fmt.Sprintf("remote_write[%d].headers: %s is set by m3_storage_policy_headers", i, h))
				}
			}
		}
	}
	if catchAll > 1 {
		errs = append(errs, "remote_write: more than one destination without policies")
	}
	if c.Unmatched.Drop && len(c.Unmatched.Policies) > 0 {
		errs = append(errs, "unmatched: drop together with policies")
	}
	for j, p := range c.Unmatched.Policies {
		sp, err := rules.ParseStoragePolicy(p)
		if err != nil {
			errs = append(errs, fmt.Sprintf("unmatched.policies[%d]: %v", j, err))
			continue
		}
		c.Unmatched.Policies[j] = sp.String()
	}
	if a := c.Aggregation.RelativeAccuracy; a != 0 && !(a > 0 && a < 1) {
		errs = append(errs, fmt.Sprintf("aggregation.relative_accuracy: %v is not in (0, 1)", a))
	}
	if r := c.Aggregation.ExemplarTolerance; r != nil && !(*r >= 0 && *r < 1) {
		errs = append(errs, fmt.Sprintf("aggregation.exemplar_tolerance: %v is not in [0, 1)", *r))
	}
	if r := c.TailSampling.BaselineRate; r != nil && !(*r >= 0 && *r <= 1) { // NaN too
		errs = append(errs, fmt.Sprintf("tail_sampling.baseline_rate: %v is not in [0, 1]", *r))
	}
	if c.TailSampling.MaxKeptTraces < 0 {
		errs = append(errs, "tail_sampling.max_kept_traces: negative")
	}
	if ct, st := time.Duration(c.Aggregation.CloseTimeout), time.Duration(c.Kafka.SessionTimeout); ct < st+minCloseMargin {
		errs = append(errs, fmt.Sprintf("aggregation.close_timeout: %v is shorter than kafka.session_timeout (%v) and %v: "+
			"windows would close while a dead member's partitions are handed over, without their points; set it to %v or more (default: twice the session timeout and 30s)",
			ct, st, minCloseMargin, st+minCloseMargin))
	}
	errs = append(errs, c.Traces.validate()...)
	errs = append(errs, c.validateReceivers()...)
	errs = append(errs, c.Profiler.validate()...)
	errs = append(errs, c.OTLP.validate()...)
	return errs
}

// fieldErrors prefixes each of err's joined errors with at.
func fieldErrors(at string, err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, at+"."+e.Error())
		}
		return out
	}
	return []string{at + "." + err.Error()}
}

// Path resolves a path named in the config relative to the config's folder.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}
