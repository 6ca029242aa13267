#!/usr/bin/env bash
# Runs weir's benchmark harness against its peers (see main.go).
#
#   bench/run.sh            full run: 5 rounds, medians (a few minutes)
#   bench/run.sh --short    one short round on a small input: a smoke test
#                           that the harness and the peers still build and run
#
# Further arguments go to the harness (go run . -h lists them), e.g.
#   bench/run.sh -rounds 9 -cpuprofile cpu.prof -peers=false
set -euo pipefail
cd "$(dirname "$0")"
export GOTOOLCHAIN=local
# -mod=mod: this module follows weir's go.mod through its replace directive;
# when weir gains or raises a dependency, the build records the new
# requirement and checksums here instead of failing on a stale go.sum.
export GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=mod"

args=()
if [ "${1:-}" = "--short" ]; then
  args+=(-short)
  shift
  # The smoke test also runs the harness' own tests (its report format and
  # the determinism of its input).
  go test -count=1 ./...
fi

bin=$(mktemp -d)/weir-bench
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" .
"$bin" "${args[@]}" "$@"
