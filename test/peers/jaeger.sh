#!/usr/bin/env bash
# Usage: test/peers/jaeger.sh start [--owner PID] [--prometheus URL]
#        test/peers/jaeger.sh stop [JAEGER_DIR... | --all]
#
# start runs Jaeger v2 (built by build.sh into .cache/bin/jaeger, building it
# first if missing) with in-memory storage, an OTLP receiver (gRPC and HTTP)
# and the query service, everything on 127.0.0.1 on free ports, waits until
# its health check reports ready and prints
#
#   JAEGER_OTLP_GRPC=127.0.0.1:PORT      (OTLP gRPC, plaintext)
#   JAEGER_OTLP_HTTP=http://127.0.0.1:PORT
#   JAEGER_QUERY=http://127.0.0.1:PORT   (GET /api/traces/{id}, /api/v3/...)
#   JAEGER_QUERY_GRPC=127.0.0.1:PORT
#   JAEGER_DIR=/abs/path/of/the/instance
#
# With --owner PID the instance is also stopped once process PID exits. With
# --prometheus URL its Monitor tab (SPM) reads span metrics from that
# Prometheus as the spanmetrics connector names them (metric_namespace
# traces_span_metrics, normalized: traces_span_metrics_calls_total and
# traces_span_metrics_duration_seconds_bucket); GET /api/metrics/calls,
# /api/metrics/latencies and /api/metrics/errors answer from it.
# stop stops the given instances and removes their directories. Without
# arguments: $JAEGER_DIR if set, else only the instances whose --owner process
# has exited (others may belong to another developer's running tests);
# --all stops every instance.
set -euo pipefail
# shellcheck source=test/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

base="$root/.cache/peers/jaeger"

stop_one() { stop_pid "$1/pid" "$1/config.yaml" 5; }
stop_all() { stop_instances "$base" "${JAEGER_DIR:-}" config.yaml stop_one "$@"; }

start() {
	local owner="" prom="" metrics="" backends=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--owner) owner="$2"; shift 2 ;;
		--prometheus) prom="$2"; shift 2 ;;
		*) die "unknown argument $1" ;;
		esac
	done
	if [ -n "$prom" ]; then
		metrics="
      metrics: promstore"
		backends="
    metric_backends:
      promstore:
        prometheus:
          endpoint: $prom
          metric_namespace: traces_span_metrics
          latency_unit: s
          normalize_calls: true
          normalize_duration: true"
	fi
	local bin dir grpc http query qgrpc health t0
	bin="$("$root/test/peers/build.sh" jaeger)"
	mkdir -p "$base"
	dir="$(mktemp -d "$base/j-XXXXXX")"
	trap 'rc=$?; [ $rc -eq 0 ] || stop_all "'"$dir"'" >/dev/null 2>&1 || true' EXIT
	grpc="$(free_port)" http="$(free_port)" query="$(free_port)" qgrpc="$(free_port)" health="$(free_port)"
	cat >"$dir/config.yaml" <<YAML
# Written by test/peers/jaeger.sh: a test Jaeger bound to 127.0.0.1 only.
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info

extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000$backends
  jaeger_query:
    storage:
      traces: memstore$metrics
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:$query
    grpc:
      endpoint: 127.0.0.1:$qgrpc
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:$health

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$grpc
      http:
        endpoint: 127.0.0.1:$http

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
YAML
	t0=$(now_ms)
	spawn "$dir/jaeger.log" "$dir/pid" "$dir/config.yaml" "$bin" --config "$dir/config.yaml"
	start_watchdog "$dir" "$owner" "$root/test/peers/jaeger.sh" stop "$dir"
	if ! wait_http "http://127.0.0.1:$health/status" 60 "$dir/pid" ||
		! port_open "$grpc" || ! port_open "$query"; then
		if grep -qi "address already in use" "$dir/jaeger.log"; then exit 75; fi
		tail -n 30 "$dir/jaeger.log" >&2
		die "Jaeger did not become ready (log: $dir/jaeger.log)"
	fi
	log "Jaeger ready in $(since_ms "$t0") s ($dir)"
	echo "JAEGER_OTLP_GRPC=127.0.0.1:$grpc"
	echo "JAEGER_OTLP_HTTP=http://127.0.0.1:$http"
	echo "JAEGER_QUERY=http://127.0.0.1:$query"
	echo "JAEGER_QUERY_GRPC=127.0.0.1:$qgrpc"
	echo "JAEGER_DIR=$dir"
}

case "${1:-}" in
start) shift; with_port_retries start "$@" ;;
stop) shift; stop_all "$@" ;;
*) die "usage: $0 start [--owner PID] [--prometheus URL] | stop [JAEGER_DIR... | --all]" ;;
esac
