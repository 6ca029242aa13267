#!/usr/bin/env bash
# Usage: test/interop/run.sh [go test flags...]
#
# Runs the interoperability tests of the test-only module test/interop: the
# OpenTelemetry Collector's own kafkaexporter and kafkareceiver against two
# `weir run` processes, a real Kafka broker, Prometheus and Jaeger. The
# module is separate so that the collector's dependency tree (~220 modules)
# never enters weir's go.mod; its first build takes a few minutes.
#
# It prepares the components first (test/setup.sh kafka jaeger prometheus:
# seconds when already in place, ~10 min for a cold Jaeger or Prometheus
# build), then runs go test ./... in the module. Extra arguments go to go
# test (for example -run or -v).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export GOTOOLCHAIN=local
# One package at a time: the collector's tree is large and the machine small.
export GOFLAGS="${GOFLAGS:-} -p=1 -buildvcs=false"

"$root/test/setup.sh" kafka jaeger prometheus

cd "$here"
nice -n 10 go vet ./...
nice -n 10 go test -count=1 -timeout 20m "$@" ./...
