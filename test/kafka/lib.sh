# shellcheck shell=bash
# Helpers shared by start.sh, restart.sh and stop.sh. Source it.
# shellcheck source=test/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

kafka_here="$root/test/kafka"
kafka_cache="$root/.cache/kafka"
kafka_clusters="$kafka_cache/clusters"

# JVM options of the brokers (WEIR_KAFKA_JVM_OPTS replaces them): a small
# heap, and a JVM sized for a shared 2-core machine. C1 only: measured here,
# it halves the CPU a broker burns to start (3.0 s against 5.4 s), which is
# what a test run waits for on 2 busy cores; peak throughput is lower, so
# replace it to benchmark against the broker.
kafka_jvm_opts="-Xms128m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:ActiveProcessorCount=2 -XX:TieredStopAtLevel=1"

java_bin() {
	local j="${JAVA_HOME:+$JAVA_HOME/bin/}java"
	command -v "$j" >/dev/null || die "no java: Kafka 4 needs a JDK 17+ (apt-get install -y openjdk-17-jdk-headless)"
	echo "$j"
}

# kafka_classpath prints the broker's runtime classpath. Maven resolves it from
# pom.xml once; the result is cached in .cache/kafka/classpath.txt, whose
# first line holds the pom's sha256, and resolved again when the pom changed or
# a jar went missing from ~/.m2.
kafka_classpath() {
	local f="$kafka_cache/classpath.txt" key cp
	key="pom-sha256 $(sha256sum "$kafka_here/pom.xml" | cut -d' ' -f1)"
	mkdir -p "$kafka_cache"
	_cp_fresh() {
		[ -f "$f" ] && [ "$(head -n1 "$f")" = "$key" ] || return 1
		cp="$(sed -n 2p "$f")"
		[ -n "$cp" ] || return 1
		local IFS=: j
		for j in $cp; do [ -f "$j" ] || return 1; done
	}
	if ! _cp_fresh; then
		exec 8>"$kafka_cache/classpath.lock"
		flock 8
		if ! _cp_fresh; then
			command -v mvn >/dev/null || die "no mvn: apt-get install -y maven"
			log "resolving the Kafka classpath with Maven (cold: ~10 s plus downloads)"
			if ! nice -n 19 mvn -B -q -f "$kafka_here/pom.xml" dependency:build-classpath \
				-Dmdep.outputFile="$f.tmp" >"$kafka_cache/mvn.log" 2>&1; then
				tail -n 30 "$kafka_cache/mvn.log" >&2
				die "maven could not resolve $kafka_here/pom.xml (log: $kafka_cache/mvn.log)"
			fi
			{ echo "$key"; cat "$f.tmp"; echo; } >"$f"
			rm -f "$f.tmp"
			_cp_fresh || die "classpath from maven is incomplete: $f"
		fi
		exec 8>&-
	fi
	echo "$cp"
}

# kafka_cluster_dir DIR|"" prints the cluster directory to act on: the one
# given, else $KAFKA_DIR, else the only cluster under .cache/kafka/clusters.
kafka_cluster_dir() {
	local d="${1:-${KAFKA_DIR:-}}"
	if [ -z "$d" ]; then
		local all=("$kafka_clusters"/*/)
		[ -d "${all[0]}" ] || die "no Kafka cluster under $kafka_clusters"
		[ "${#all[@]}" -eq 1 ] || die "several Kafka clusters under $kafka_clusters: name one (or set KAFKA_DIR)"
		d="${all[0]%/}"
	fi
	[ -f "$d/cluster.env" ] || die "$d is not a Kafka cluster directory made by start.sh"
	(cd "$d" && pwd)
}

# kafka_start_node DIR ID starts node ID of the cluster in DIR (already
# formatted) in the background and records its pid in DIR/node-ID/pid.
kafka_start_node() {
	local dir="$1" id="$2" node="$1/node-$2" cp java
	cp="$(kafka_classpath)"
	java="$(java_bin)"
	mkdir -p "$node/logs"
	# A restarted node must not be taken for ready on its previous run's log.
	if [ -f "$node/logs/server.log" ]; then
		cat "$node/logs/server.log" >>"$node/logs/server.log.prev"
		rm -f "$node/logs/server.log"
	fi
	# The server.properties path is unique to this node: pid_is matches on it.
	# shellcheck disable=SC2086 # word splitting of the options is intended
	spawn "$node/logs/stdout.log" "$node/pid" "$node/server.properties" \
		"$java" ${WEIR_KAFKA_JVM_OPTS:-$kafka_jvm_opts} -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$kafka_here/log4j2.xml" \
		-Dkafka.logs.dir="$node/logs" \
		-cp "$cp" kafka.Kafka "$node/server.properties"
}

# kafka_wait_node DIR ID SECONDS waits until node ID logged that it started
# (which a KRaft broker does once it is registered and unfenced) and accepts
# connections on its broker port.
kafka_wait_node() {
	local dir="$1" id="$2" secs="$3" node="$1/node-$2" port
	port="$(sed -n "s/^NODE_${id}_PORT=//p" "$dir/cluster.env")"
	for _ in $(seq 1 $((secs * 10))); do
		if grep -q "Kafka Server started" "$node/logs/server.log" 2>/dev/null && port_open "$port"; then
			return 0
		fi
		if ! running "$node/pid"; then
			if grep -qs "Address already in use" "$node/logs/server.log" "$node/logs/stdout.log"; then
				log "Kafka node $id: its port was taken by another process"
				exit 75
			fi
			tail -n 40 "$node/logs/server.log" "$node/logs/stdout.log" >&2 2>/dev/null || true
			die "Kafka node $id exited during startup (logs: $node/logs)"
		fi
		sleep 0.1
	done
	tail -n 40 "$node/logs/server.log" >&2 2>/dev/null || true
	die "Kafka node $id not ready after ${secs}s (logs: $node/logs)"
}

# kafka_stop_node DIR ID GRACE stops node ID: SIGTERM (a controlled
# shutdown) with GRACE seconds to finish, then SIGKILL; GRACE=0 is kill -9.
kafka_stop_node() {
	local node="$1/node-$2"
	stop_pid "$node/pid" "$node/server.properties" "$3"
}
