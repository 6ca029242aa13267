package config

import (
	"fmt"
	"net"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/weirdev/weir/ingest"
	"github.com/weirdev/weir/receiver"
)

// Receivers are weir's network inputs (package receiver), in the shape of
// the collector's otlpreceiver: what they take is written to
// kafka.spans_topic and kafka.metrics_topic as the collector's
// kafkaexporter writes it, and read back from there like any other input.
// None is on unless configured. `grpc:` or `http:` with no settings turns
// that protocol on at its default endpoint (127.0.0.1:4317, 127.0.0.1:4318).
type Receivers struct {
	OTLP                  OTLPReceiver         `yaml:"otlp"`
	PrometheusRemoteWrite *RemoteWriteReceiver `yaml:"prometheus_remote_write"`
	// Timeout bounds the wait for Kafka's acknowledgement before a request
	// is refused as retryable (default 5s).
	Timeout Duration `yaml:"timeout"`
	// MaxInflightBytes bounds the record bytes waiting for Kafka; requests
	// beyond it are refused as retryable (429, RESOURCE_EXHAUSTED). Default
	// 64 MiB.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
}

// OTLPReceiver is receivers.otlp.
type OTLPReceiver struct {
	Protocols OTLPProtocols `yaml:"protocols"`
}

// OTLPProtocols are the protocols of receivers.otlp; nil is off.
type OTLPProtocols struct {
	GRPC *GRPCProtocol `yaml:"grpc"`
	HTTP *HTTPProtocol `yaml:"http"`
}

// GRPCProtocol is OTLP/gRPC.
type GRPCProtocol struct {
	Endpoint string `yaml:"endpoint"`
	// MaxRecvMsgSizeMiB caps a message (default 4).
	MaxRecvMsgSizeMiB int64 `yaml:"max_recv_msg_size_mib"`
}

// HTTPProtocol is OTLP/HTTP.
type HTTPProtocol struct {
	Endpoint string `yaml:"endpoint"`
	// MaxRequestBodySize caps a body in bytes, after decompression (default
	// 20 MiB).
	MaxRequestBodySize int64 `yaml:"max_request_body_size"`
}

// RemoteWriteReceiver is Prometheus remote write (1.0 and 2.0) on
// POST /api/v1/write.
type RemoteWriteReceiver struct {
	Endpoint           string `yaml:"endpoint"`
	MaxRequestBodySize int64  `yaml:"max_request_body_size"`
}

// Enabled reports whether any receiver is configured.
func (r Receivers) Enabled() bool {
	return r.OTLP.Protocols.GRPC != nil || r.OTLP.Protocols.HTTP != nil || r.PrometheusRemoteWrite != nil
}

// ReceiverConfig is the receiver.Config of the receivers section; it leaves
// the logger and registerer to the caller.
func (c *Config) ReceiverConfig() receiver.Config {
	r, k := c.Receivers, c.Kafka
	rc := receiver.Config{
		SpansTopic: k.SpansTopic, MetricsTopic: k.MetricsTopic,
		TracesEncoding: ingest.Encoding(k.TracesEncoding), MetricsEncoding: ingest.Encoding(k.MetricsEncoding),
		TenantHeader:     k.TenantHeader,
		MaxInflightBytes: r.MaxInflightBytes,
		Timeout:          time.Duration(r.Timeout),
	}
	if g := r.OTLP.Protocols.GRPC; g != nil {
		rc.GRPC, rc.MaxGRPCMessageBytes = g.Endpoint, g.MaxRecvMsgSizeMiB<<20
	}
	if h := r.OTLP.Protocols.HTTP; h != nil {
		rc.HTTP, rc.MaxRequestBytes = h.Endpoint, h.MaxRequestBodySize
	}
	if w := r.PrometheusRemoteWrite; w != nil {
		rc.RemoteWrite = w.Endpoint
		if w.MaxRequestBodySize > 0 && (rc.MaxRequestBytes == 0 || w.MaxRequestBodySize > rc.MaxRequestBytes) {
			// One cap serves both HTTP protocols: the larger.
			rc.MaxRequestBytes = w.MaxRequestBodySize
		}
	}
	return rc
}

// enableNullProtocols turns on the receivers written with no settings
// (`grpc:`), which YAML decodes as null and so as nil.
func (r *Receivers) enableNullProtocols(doc *yaml.Node) {
	if isNull(doc, "receivers", "otlp", "protocols", "grpc") && r.OTLP.Protocols.GRPC == nil {
		r.OTLP.Protocols.GRPC = &GRPCProtocol{}
	}
	if isNull(doc, "receivers", "otlp", "protocols", "http") && r.OTLP.Protocols.HTTP == nil {
		r.OTLP.Protocols.HTTP = &HTTPProtocol{}
	}
	if isNull(doc, "receivers", "prometheus_remote_write") && r.PrometheusRemoteWrite == nil {
		r.PrometheusRemoteWrite = &RemoteWriteReceiver{}
	}
}

// isNull reports whether the mapping path leads to an explicit null.
func isNull(n *yaml.Node, path ...string) bool {
	if n == nil {
		return false
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return false
		}
		n = next
	}
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func (r *Receivers) fillDefaults() {
	if g := r.OTLP.Protocols.GRPC; g != nil && g.Endpoint == "" {
		g.Endpoint = receiver.DefaultGRPCEndpoint
	}
	if h := r.OTLP.Protocols.HTTP; h != nil && h.Endpoint == "" {
		h.Endpoint = receiver.DefaultHTTPEndpoint
	}
	if r.Timeout == 0 {
		r.Timeout = Duration(receiver.DefaultTimeout)
	}
	if r.MaxInflightBytes == 0 {
		r.MaxInflightBytes = receiver.DefaultMaxInflightBytes
	}
}

func (c *Config) validateReceivers() []string {
	r := c.Receivers
	var errs []string
	seen := map[string]string{c.Listen: "listen"}
	endpoint := func(field, addr string) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %q is not host:port (%v)", field, addr, err))
			return
		}
		if prev, dup := seen[addr]; dup && port != "0" {
			errs = append(errs, fmt.Sprintf("%s: %s is %s's address too", field, addr, prev))
		}
		seen[addr] = field
	}
	size := func(field string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Sprintf("%s: %d is negative", field, v))
		}
	}
	if g := r.OTLP.Protocols.GRPC; g != nil {
		endpoint("receivers.otlp.protocols.grpc.endpoint", g.Endpoint)
		size("receivers.otlp.protocols.grpc.max_recv_msg_size_mib", g.MaxRecvMsgSizeMiB)
	}
	if h := r.OTLP.Protocols.HTTP; h != nil {
		endpoint("receivers.otlp.protocols.http.endpoint", h.Endpoint)
		size("receivers.otlp.protocols.http.max_request_body_size", h.MaxRequestBodySize)
	}
	if w := r.PrometheusRemoteWrite; w != nil {
		if w.Endpoint == "" {
			errs = append(errs, "receivers.prometheus_remote_write.endpoint: required (host:port; requests go to POST /api/v1/write)")
		} else {
			endpoint("receivers.prometheus_remote_write.endpoint", w.Endpoint)
		}
		size("receivers.prometheus_remote_write.max_request_body_size", w.MaxRequestBodySize)
	}
	if r.Timeout < 0 {
		errs = append(errs, "receivers.timeout: negative")
	}
	size("receivers.max_inflight_bytes", r.MaxInflightBytes)
	return errs
}
