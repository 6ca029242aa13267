#!/usr/bin/env bash
# Usage: test/peers/prometheus.sh start [--owner PID]
#        test/peers/prometheus.sh stop [PROMETHEUS_DIR... | --all]
#
# start runs Prometheus (built by build.sh into .cache/bin/prometheus,
# building it first if missing) with the remote-write receiver
# (POST /api/v1/write) and exemplar storage, listening on 127.0.0.1 on a free
# port with a fresh TSDB directory and no scrape targets; waits for /-/ready
# and prints
#
#   PROMETHEUS_URL=http://127.0.0.1:PORT
#   PROMETHEUS_DIR=/abs/path/of/the/instance
#
# With --owner PID the instance is also stopped once process PID exits.
# stop stops the given instances and removes their directories. Without
# arguments: $PROMETHEUS_DIR if set, else only the instances whose --owner process
# has exited (others may belong to another developer's running tests);
# --all stops every instance.
set -euo pipefail
# shellcheck source=test/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

base="$root/.cache/peers/prometheus"

stop_one() { stop_pid "$1/pid" "$1/prometheus.yml" 5; }
stop_all() { stop_instances "$base" "${PROMETHEUS_DIR:-}" prometheus.yml stop_one "$@"; }

start() {
	local owner
	owner="$(owner_of "$@")"
	local bin dir port t0
	bin="$("$root/test/peers/build.sh" prometheus)"
	mkdir -p "$base"
	dir="$(mktemp -d "$base/p-XXXXXX")"
	trap 'rc=$?; [ $rc -eq 0 ] || stop_all "'"$dir"'" >/dev/null 2>&1 || true' EXIT
	port="$(free_port)"
	cat >"$dir/prometheus.yml" <<YAML
# Written by test/peers/prometheus.sh: a test Prometheus that only receives
# remote writes; it scrapes nothing.
global:
  evaluation_interval: 1m
scrape_configs: []
YAML
	t0=$(now_ms)
	spawn "$dir/prometheus.log" "$dir/pid" "$dir/prometheus.yml" \
		"$bin" --config.file="$dir/prometheus.yml" \
		--web.listen-address="127.0.0.1:$port" \
		--storage.tsdb.path="$dir/data" \
		--web.enable-remote-write-receiver \
		--web.enable-otlp-receiver \
		--enable-feature=exemplar-storage \
		--log.level=info
	start_watchdog "$dir" "$owner" "$root/test/peers/prometheus.sh" stop "$dir"
	if ! wait_http "http://127.0.0.1:$port/-/ready" 60 "$dir/pid"; then
		if grep -qi "address already in use" "$dir/prometheus.log"; then exit 75; fi
		tail -n 30 "$dir/prometheus.log" >&2
		die "Prometheus did not become ready (log: $dir/prometheus.log)"
	fi
	log "Prometheus ready in $(since_ms "$t0") s ($dir)"
	echo "PROMETHEUS_URL=http://127.0.0.1:$port"
	echo "PROMETHEUS_DIR=$dir"
}

case "${1:-}" in
start) shift; with_port_retries start "$@" ;;
stop) shift; stop_all "$@" ;;
*) die "usage: $0 start [--owner PID] | stop [PROMETHEUS_DIR... | --all]" ;;
esac
