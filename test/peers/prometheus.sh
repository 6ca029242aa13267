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

stop_all() {
	local dirs d
	if [ $# -eq 0 ] && [ -n "${PROMETHEUS_DIR:-}" ]; then set -- "$PROMETHEUS_DIR"; fi
	mapfile -t dirs < <(pick_dirs "$base" "$@")
	for d in "${dirs[@]}"; do
		d="${d%/}"
		[ -d "$d" ] || continue
		[ -f "$d/prometheus.yml" ] || die "$d is not a Prometheus instance directory made by prometheus.sh"
		stop_watchdog "$d"
		stop_pid "$d/pid" "$d/prometheus.yml" 5
		rm -rf "$d"
		log "stopped and removed $d"
	done
}

start() {
	local owner=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--owner) owner="$2"; shift 2 ;;
		*) die "unknown argument $1" ;;
		esac
	done
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
	nohup "$bin" --config.file="$dir/prometheus.yml" \
		--web.listen-address="127.0.0.1:$port" \
		--storage.tsdb.path="$dir/data" \
		--web.enable-remote-write-receiver \
		--enable-feature=exemplar-storage \
		--log.level=info \
		</dev/null >"$dir/prometheus.log" 2>&1 &
	echo $! >"$dir/pid"
	start_watchdog "$dir" "$owner" "$root/test/peers/prometheus.sh" stop "$dir"
	if ! wait_http "http://127.0.0.1:$port/-/ready" 60 "$dir/pid" "$dir/prometheus.yml"; then
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
