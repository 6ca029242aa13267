#!/usr/bin/env bash
# Usage: test/kafka/start.sh [--owner PID] [--set KEY=VALUE]... [N]
#
# Starts a fresh Apache Kafka 4 cluster of N nodes (default 1; 3 for failure
# tests) in KRaft combined mode (process.roles=broker,controller), every
# listener on 127.0.0.1 on free ports, data under .cache/kafka/clusters/.
# Waits until every node is registered and unfenced, then prints
#
#   KAFKA_BROKERS=127.0.0.1:PORT[,127.0.0.1:PORT...]
#   KAFKA_DIR=/abs/path/of/the/cluster
#
# Stop it with test/kafka/stop.sh [KAFKA_DIR]; restart one node with
# test/kafka/restart.sh. With --owner PID the cluster is also stopped and
# removed once process PID exits (internal/testenv passes the test binary).
# --set adds or overrides a server.properties setting on every node.
#
# Topic settings are those tests want: no auto-created topics, 16 partitions
# by default, replication N, internal topics replicated N times with a
# min ISR of N-1 (at least 1) so that a 3-node cluster keeps committing
# transactions with one node down.
set -euo pipefail
# shellcheck source=test/kafka/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

owner=""
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--owner) owner="$2"; shift 2 ;;
	--set)
		case "$2" in *=*) extra+=("$2") ;; *) die "--set wants KEY=VALUE, got '$2'" ;; esac
		shift 2
		;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
	*) break ;;
	esac
done
n="${1:-1}"
case "$n" in [1-9]) ;; *) die "N must be 1..9, got '$n'" ;; esac

# attempt starts the cluster once. Free ports are picked before the brokers
# bind them, so a test binary starting a cluster at the same moment can take
# one first: then attempt exits 75 and is tried again with other ports.
attempt() {
	t0=$(now_ms)
	cp="$(kafka_classpath)"
	java="$(java_bin)"
	mkdir -p "$kafka_clusters"
	dir="$(mktemp -d "$kafka_clusters/c-XXXXXX")"
	# If anything below fails, leave nothing running behind.
	trap 'rc=$?; [ $rc -eq 0 ] || "$kafka_here/stop.sh" "$dir" >/dev/null 2>&1 || true' EXIT

	minisr=$((n > 1 ? n - 1 : 1))
	bootstrap="" voters="" brokers=""
	declare -a bport cport dirid fmtpid
	for i in $(seq 1 "$n"); do
		bport[i]="$(free_port)"
		cport[i]="$(free_port)"
		bootstrap="${bootstrap:+$bootstrap,}127.0.0.1:${cport[$i]}"
		brokers="${brokers:+$brokers,}127.0.0.1:${bport[$i]}"
	done

	# A Kafka Uuid (what `StorageTool random-uuid` prints) is 16 random bytes in
	# unpadded URL-safe base64; generating the cluster and directory ids here
	# saves a JVM start each (~1 s, far more on a busy machine). Like
	# Uuid.randomUuid, refuse ids that start with '-' (they read as options).
	kafka_uuid() {
		local u
		while :; do
			u="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
			case "$u" in -*) ;; *) echo "$u"; return ;; esac
		done
	}
	cluster_id="$(kafka_uuid)"
	if [ "$n" -gt 1 ]; then
		for i in $(seq 1 "$n"); do
			dirid[i]="$(kafka_uuid)"
			voters="${voters:+$voters,}$i@127.0.0.1:${cport[$i]}:${dirid[$i]}"
		done
	fi

	{
		echo "N=$n"
		echo "CLUSTER_ID=$cluster_id"
		echo "KAFKA_BROKERS=$brokers"
		for i in $(seq 1 "$n"); do echo "NODE_${i}_PORT=${bport[$i]}"; done
	} >"$dir/cluster.env"

	for i in $(seq 1 "$n"); do
		node="$dir/node-$i"
		mkdir -p "$node/data" "$node/logs"
		cat >"$node/server.properties" <<PROPS
# Written by test/kafka/start.sh for a test cluster; node $i of $n.
process.roles=broker,controller
node.id=$i
controller.quorum.bootstrap.servers=$bootstrap
listeners=PLAINTEXT://127.0.0.1:${bport[$i]},CONTROLLER://127.0.0.1:${cport[$i]}
advertised.listeners=PLAINTEXT://127.0.0.1:${bport[$i]},CONTROLLER://127.0.0.1:${cport[$i]}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$node/data

auto.create.topics.enable=false
num.partitions=16
default.replication.factor=$n
min.insync.replicas=1
offsets.topic.replication.factor=$n
offsets.topic.num.partitions=16
transaction.state.log.replication.factor=$n
transaction.state.log.min.isr=$minisr
transaction.state.log.num.partitions=16
share.coordinator.state.topic.replication.factor=$n
share.coordinator.state.topic.min.isr=$minisr
group.initial.rebalance.delay.ms=0
# The machine is shared and its 2 cores are often starved: with the default
# timeouts (Raft fetch 2 s, election 1 s, broker session 9 s) the quorum was
# seen losing its leader over and over at load averages of 60-90. Longer
# timeouts cost time when a node really dies: a killed Raft leader is
# replaced after the fetch timeout. The broker session keeps its default
# (9 s): a killed broker keeps leading its partitions until its session
# times out, and a killed node started again cannot register before that
# either (DUPLICATE_BROKER_REGISTRATION), so a kill -9 restart takes ~10 s.
controller.quorum.fetch.timeout.ms=5000
controller.quorum.election.timeout.ms=2000
broker.session.timeout.ms=9000
# Tests delete what they create; keep the background work small.
log.retention.check.interval.ms=60000
log.segment.bytes=67108864
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=2
PROPS
		# --set KEY=VALUE lines come last: the last value of a key wins.
		if [ ${#extra[@]} -gt 0 ]; then printf '%s\n' "${extra[@]}" >>"$node/server.properties"; fi
		if [ "$n" -eq 1 ]; then
			fmt=(--standalone)
		else
			fmt=(--initial-controllers "$voters")
		fi
		# The nodes are formatted in parallel: each format is a JVM start.
		"$java" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$cp" -Dlog4j2.configurationFile="$kafka_here/log4j2.xml" -Dkafka.logs.dir="$node/logs/format" \
			kafka.tools.StorageTool format -t "$cluster_id" -c "$node/server.properties" "${fmt[@]}" \
			>"$node/logs/format.log" 2>&1 &
		fmtpid[i]=$!
	done
	for i in $(seq 1 "$n"); do
		wait "${fmtpid[$i]}" ||
			{ cat "$dir/node-$i/logs/format.log" >&2; die "formatting node $i failed"; }
	done
	t1=$(now_ms)

	for i in $(seq 1 "$n"); do kafka_start_node "$dir" "$i"; done
	start_watchdog "$dir" "$owner" "$kafka_here/stop.sh" "$dir"
	for i in $(seq 1 "$n"); do kafka_wait_node "$dir" "$i" 180; done
	t2=$(now_ms)

	log "$n node(s) ready in $dir (classpath+format $((t1 - t0)) ms, start $((t2 - t1)) ms)"
	echo "KAFKA_BROKERS=$brokers"
	echo "KAFKA_DIR=$dir"
}

with_port_retries attempt
