#!/usr/bin/env bash
# Usage: test/kafka/start.sh [--owner PID] [--set KEY=VALUE]...
#                            [--tls-cert FILE --tls-key FILE --users FILE] [N]
#
# Starts a fresh Apache Kafka 4 cluster of N nodes (default 1; 3 for failure
# tests) in KRaft combined mode (process.roles=broker,controller), every
# listener on 127.0.0.1 on free ports, data under .cache/kafka/clusters/.
# Waits until every node is registered and unfenced, then prints
#
#   KAFKA_BROKERS=127.0.0.1:PORT[,127.0.0.1:PORT...]
#   KAFKA_PROTOCOL=PLAINTEXT (or SASL_SSL)
#   KAFKA_DIR=/abs/path/of/the/cluster
#
# Stop it with test/kafka/stop.sh [KAFKA_DIR]; restart one node with
# test/kafka/restart.sh. With --owner PID the cluster is also stopped and
# removed once process PID exits (internal/testenv passes the test binary).
# --set adds or overrides a server.properties setting on every node.
#
# --tls-cert, --tls-key and --users (all three) make the brokers' client
# listener, the one KAFKA_BROKERS names, SASL_SSL: TLS with the PEM
# certificate (chain) and the PEM PKCS#8 private key given (unencrypted), then
# SASL PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with the users of the --users
# file, one "MECHANISM NAME PASSWORD" a line (names and passwords of
# [A-Za-z0-9._-] only; blank lines and # comments skipped). SCRAM users are
# written into the cluster metadata when the storage is formatted, PLAIN ones
# into the listener's JAAS config. The listeners between the nodes and to the
# controllers stay PLAINTEXT on 127.0.0.1. There is no authorizer: every
# authenticated user may do everything.
#
# Topic settings are those tests want: no auto-created topics, 16 partitions
# by default, replication N, internal topics replicated N times with a
# min ISR of N-1 (at least 1) so that a 3-node cluster keeps committing
# transactions with one node down.
set -euo pipefail
# shellcheck source=test/kafka/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

owner="" tls_cert="" tls_key="" users=""
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--owner) owner="$2"; shift 2 ;;
	--tls-cert) tls_cert="$2"; shift 2 ;;
	--tls-key) tls_key="$2"; shift 2 ;;
	--users) users="$2"; shift 2 ;;
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

# The client listener's security: PLAINTEXT, or SASL_SSL with all three of
# --tls-cert, --tls-key and --users. Users are checked here, before a JVM
# starts; no message names a password.
protocol=PLAINTEXT
scram_args=() plain_users=""
if [ -n "$tls_cert$tls_key$users" ]; then
	if [ -z "$tls_cert" ] || [ -z "$tls_key" ] || [ -z "$users" ]; then
		die "--tls-cert, --tls-key and --users go together (a SASL_SSL listener)"
	fi
	grep -q -- "-----BEGIN CERTIFICATE-----" "$tls_cert" 2>/dev/null ||
		die "--tls-cert $tls_cert: no PEM certificate in it"
	grep -q -- "-----BEGIN PRIVATE KEY-----" "$tls_key" 2>/dev/null ||
		die "--tls-key $tls_key: no unencrypted PEM PKCS#8 private key (BEGIN PRIVATE KEY) in it"
	[ -r "$users" ] || die "--users $users: cannot read it"
	protocol=SASL_SSL
	lineno=0
	while read -r mech name pass rest || [ -n "$mech" ]; do
		lineno=$((lineno + 1))
		case "$mech" in "" | "#"*) continue ;; esac
		if [ -z "$pass" ] || [ -n "$rest" ]; then
			die "--users $users line $lineno: want MECHANISM NAME PASSWORD"
		fi
		case "$name$pass" in *[!A-Za-z0-9._-]*)
			die "--users $users line $lineno: the name and password may hold only A-Z a-z 0-9 . _ -" ;;
		esac
		case "$mech" in
		PLAIN) plain_users="$plain_users user_$name=\"$pass\"" ;;
		SCRAM-SHA-256 | SCRAM-SHA-512) scram_args+=(--add-scram "$mech=[name=$name,password=$pass]") ;;
		*) die "--users $users line $lineno: mechanism '$mech' is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" ;;
		esac
	done <"$users"
	[ -n "$plain_users" ] || [ ${#scram_args[@]} -gt 0 ] || die "--users $users names no user"
fi

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
	declare -a bport cport sport clport dirid fmtpid
	for i in $(seq 1 "$n"); do
		bport[i]="$(free_port)"
		cport[i]="$(free_port)"
		# The port clients use: the SASL_SSL listener's, if there is one.
		clport[i]="${bport[$i]}"
		if [ "$protocol" = SASL_SSL ]; then
			sport[i]="$(free_port)"
			clport[i]="${sport[$i]}"
		fi
		bootstrap="${bootstrap:+$bootstrap,}127.0.0.1:${cport[$i]}"
		brokers="${brokers:+$brokers,}127.0.0.1:${clport[$i]}"
	done
	if [ "$protocol" = SASL_SSL ]; then
		# Kafka reads a PEM keystore from one file: the key, then the chain.
		cat "$tls_key" "$tls_cert" >"$dir/keystore.pem"
		chmod 600 "$dir/keystore.pem"
	fi

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
		echo "KAFKA_PROTOCOL=$protocol"
		for i in $(seq 1 "$n"); do echo "NODE_${i}_PORT=${clport[$i]}"; done
	} >"$dir/cluster.env"

	for i in $(seq 1 "$n"); do
		node="$dir/node-$i"
		mkdir -p "$node/data" "$node/logs"
		listeners="PLAINTEXT://127.0.0.1:${bport[$i]},CONTROLLER://127.0.0.1:${cport[$i]}"
		protomap="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
		if [ "$protocol" = SASL_SSL ]; then
			listeners="$listeners,SASL_SSL://127.0.0.1:${sport[$i]}"
			protomap="$protomap,SASL_SSL:SASL_SSL"
		fi
		cat >"$node/server.properties" <<PROPS
# Written by test/kafka/start.sh for a test cluster; node $i of $n.
process.roles=broker,controller
node.id=$i
controller.quorum.bootstrap.servers=$bootstrap
listeners=$listeners
advertised.listeners=$listeners
listener.security.protocol.map=$protomap
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
		if [ "$protocol" = SASL_SSL ]; then
			# It holds the PLAIN passwords.
			chmod 600 "$node/server.properties"
			cat >>"$node/server.properties" <<PROPS

# The client listener: TLS (the test's certificate), then SASL.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$dir/keystore.pem
listener.name.sasl_ssl.ssl.client.auth=none
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
PROPS
		fi
		# --set KEY=VALUE lines come last: the last value of a key wins.
		if [ ${#extra[@]} -gt 0 ]; then printf '%s\n' "${extra[@]}" >>"$node/server.properties"; fi
		if [ "$n" -eq 1 ]; then
			fmt=(--standalone)
		else
			fmt=(--initial-controllers "$voters")
		fi
		# The nodes are formatted in parallel: each format is a JVM start.
		"$java" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$cp" -Dlog4j2.configurationFile="$kafka_here/log4j2.xml" -Dkafka.logs.dir="$node/logs/format" \
			kafka.tools.StorageTool format -t "$cluster_id" -c "$node/server.properties" "${fmt[@]}" ${scram_args[@]+"${scram_args[@]}"} \
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
	echo "KAFKA_PROTOCOL=$protocol"
	echo "KAFKA_DIR=$dir"
}

with_port_retries attempt
