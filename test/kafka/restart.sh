#!/usr/bin/env bash
# Usage: test/kafka/restart.sh [--kill] [--stop|--start] NODE [KAFKA_DIR]
#
# Restarts node NODE (1..N) of a cluster made by start.sh (default cluster:
# $KAFKA_DIR, else the only one under .cache/kafka/clusters), keeping its data:
# a controlled shutdown (SIGTERM, up to 60 s), or kill -9 with --kill; then
# starts it again and waits until it is registered and unfenced.
# --stop only stops it, --start only starts a stopped node, so a test can act
# while the node is down.
set -euo pipefail
# shellcheck source=test/kafka/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

grace=60 do_stop=1 do_start=1
while [ $# -gt 0 ]; do
	case "$1" in
	--kill) grace=0; shift ;;
	--stop) do_start=0; shift ;;
	--start) do_stop=0; shift ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || die "usage: $0 [--kill] [--stop|--start] NODE [KAFKA_DIR]"
id="$1"
dir="$(kafka_cluster_dir "${2:-}")"
[ -f "$dir/node-$id/server.properties" ] || die "no node $id in $dir"

if [ $do_stop -eq 1 ]; then
	kafka_stop_node "$dir" "$id" "$grace"
	log "node $id stopped"
fi
if [ $do_start -eq 1 ]; then
	pid_is "$dir/node-$id/pid" "$dir/node-$id/server.properties" && die "node $id is running"
	t0=$(now_ms)
	kafka_start_node "$dir" "$id"
	kafka_wait_node "$dir" "$id" 180
	log "node $id ready in $(since_ms "$t0") s"
fi
