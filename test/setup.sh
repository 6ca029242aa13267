#!/usr/bin/env bash
# Usage: test/setup.sh [kafka] [jaeger] [prometheus] [chromium]   (default: all)
#
# Prepares what the integration tests (internal/testenv) need, so that no test
# waits for an install or a cold build: the Kafka broker's classpath (Maven,
# jars cached in ~/.m2), the Jaeger and Prometheus binaries (built into
# .cache/bin from the tools modules under test/peers, ~10 and ~8 min cold),
# and Debian's chromium. Idempotent: whatever is already in place is kept, so
# a second run takes seconds. .ci/run calls it before the tests.
set -euo pipefail
# shellcheck source=test/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(kafka jaeger prometheus chromium)

apt_install() {
	[ "$(id -u)" -eq 0 ] || die "need root to apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2
}

for part in "${parts[@]}"; do
	t0=$(now_ms)
	case "$part" in
	kafka)
		command -v java >/dev/null || apt_install openjdk-17-jdk-headless
		command -v mvn >/dev/null || apt_install maven
		# shellcheck source=test/kafka/lib.sh
		(. "$root/test/kafka/lib.sh" && kafka_classpath >/dev/null)
		;;
	jaeger | prometheus)
		"$root/test/peers/build.sh" "$part" >/dev/null
		;;
	chromium)
		"$root/test/chromium/install.sh" >/dev/null
		;;
	*) die "unknown part '$part': kafka, jaeger, prometheus or chromium" ;;
	esac
	log "$part ready ($(since_ms "$t0") s)"
done
