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

stop_nodes() {
	local node
	for node in "$1"/node-*; do
		[ -d "$node" ] || continue
		stop_pid "$node/pid" "$node/server.properties" 2 &
	done
	wait
}
stop_instances "$kafka_clusters" "${KAFKA_DIR:-}" cluster.env stop_nodes "$@"
