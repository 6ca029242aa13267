#!/usr/bin/env bash
# Usage: test/kafka/stop.sh [KAFKA_DIR... | --all]
#
# Stops the nodes of the given clusters and removes their data directories.
# Without arguments: $KAFKA_DIR if set, else only the clusters under
# .cache/kafka/clusters whose --owner process has exited (others may belong
# to another developer's running tests); --all stops every cluster there.
# The data is thrown away, so nodes get 2 s to shut down before SIGKILL (the
# last nodes of a cluster cannot finish a controlled shutdown anyway).
set -euo pipefail
# shellcheck source=test/kafka/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -eq 0 ] && [ -n "${KAFKA_DIR:-}" ]; then set -- "$KAFKA_DIR"; fi
mapfile -t dirs < <(pick_dirs "$kafka_clusters" "$@")
for d in "${dirs[@]}"; do
	d="${d%/}"
	[ -d "$d" ] || continue
	[ -f "$d/cluster.env" ] || die "$d is not a Kafka cluster directory made by start.sh"
	stop_watchdog "$d"
	for node in "$d"/node-*; do
		[ -d "$node" ] || continue
		stop_pid "$node/pid" "$node/server.properties" 2 &
	done
	wait
	rm -rf "$d"
	log "stopped and removed $d"
done
