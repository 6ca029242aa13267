package config

import (
	"strings"
	"testing"
	"time"

	"github.com/weirdev/weir/receiver"
)

const base = "kafka: {brokers: [a], tenant_header: X-Scope-OrgID, metrics_encoding: otlp_json}\nremote_write: [{url: 'http://x/'}]\n"

func TestReceivers(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     receiver.Config
	}{
		{"none", "", receiver.Config{}},
		{"collector style, null protocols", "receivers:\n  otlp:\n    protocols:\n      grpc:\n      http:\n",
			receiver.Config{GRPC: receiver.DefaultGRPCEndpoint, HTTP: receiver.DefaultHTTPEndpoint}},
		{"endpoints and limits", `receivers:
  otlp:
    protocols:
      grpc: {endpoint: 0.0.0.0:14317, max_recv_msg_size_mib: 16}
      http: {endpoint: "[::1]:14318", max_request_body_size: 1000}
  prometheus_remote_write: {endpoint: 127.0.0.1:9201, max_request_body_size: 5000}
  timeout: 2s
  max_inflight_bytes: 1024
`, receiver.Config{GRPC: "0.0.0.0:14317", HTTP: "[::1]:14318", RemoteWrite: "127.0.0.1:9201",
			MaxGRPCMessageBytes: 16 << 20, MaxRequestBytes: 5000, MaxInflightBytes: 1024, Timeout: 2 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(base + tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got := c.ReceiverConfig()
			if got.GRPC != tc.want.GRPC || got.HTTP != tc.want.HTTP || got.RemoteWrite != tc.want.RemoteWrite {
				t.Errorf("endpoints %q %q %q, want %q %q %q", got.GRPC, got.HTTP, got.RemoteWrite, tc.want.GRPC, tc.want.HTTP, tc.want.RemoteWrite)
			}
			if c.Receivers.Enabled() != (tc.want.GRPC != "" || tc.want.HTTP != "" || tc.want.RemoteWrite != "") {
				t.Errorf("Enabled() = %v", c.Receivers.Enabled())
			}
			if tc.want.Timeout != 0 && (got.Timeout != tc.want.Timeout || got.MaxInflightBytes != tc.want.MaxInflightBytes ||
				got.MaxGRPCMessageBytes != tc.want.MaxGRPCMessageBytes || got.MaxRequestBytes != tc.want.MaxRequestBytes) {
				t.Errorf("limits %+v, want %+v", got, tc.want)
			}
			if got.SpansTopic != "otlp_spans" || got.MetricsTopic != "otlp_metrics" || got.MetricsEncoding != "otlp_json" || got.TenantHeader != "X-Scope-OrgID" {
				t.Errorf("topics, encodings and tenant header not handed over: %+v", got)
			}
		})
	}
	for _, tc := range []struct{ name, in, want string }{
		{"unknown key", "receivers:\n  otlp:\n    protocols:\n      grcp:\n", `config:6:7: unknown field "grcp" in receivers.otlp.protocols; did you mean "grpc"? valid keys: grpc, http`},
		{"bad endpoint", "receivers: {otlp: {protocols: {grpc: {endpoint: localhost}}}}\n", `receivers.otlp.protocols.grpc.endpoint: "localhost" is not host:port`},
		{"same endpoint twice", "receivers: {otlp: {protocols: {grpc: {endpoint: '127.0.0.1:5000'}, http: {endpoint: '127.0.0.1:5000'}}}}\n",
			"receivers.otlp.protocols.http.endpoint: 127.0.0.1:5000 is receivers.otlp.protocols.grpc.endpoint's address too"},
		{"weir's own port", "receivers: {otlp: {protocols: {http: {endpoint: '127.0.0.1:9464'}}}}\n", "is listen's address too"},
		{"remote write without endpoint", "receivers:\n  prometheus_remote_write:\n", "receivers.prometheus_remote_write.endpoint: required"},
		{"negative size", "receivers: {otlp: {protocols: {http: {max_request_body_size: -1}}}}\n", "max_request_body_size: -1 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base + tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
