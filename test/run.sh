#!/usr/bin/env bash
# The whole test suite: formatting, vet, staticcheck, unit, integration and
# end-to-end tests, a few seconds of every fuzz target, and one short round of
# the benchmark harness.
#
# test/setup.sh first installs or builds what the integration tests need (the
# Kafka broker's classpath from Maven Central, Jaeger and Prometheus built from
# the Go module proxy into .cache/bin, Debian's chromium); it is idempotent and
# takes seconds when everything is in place. The tests start each component
# themselves (internal/testenv), bound to 127.0.0.1, and stop it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }

step "setup: Kafka classpath, Jaeger, Prometheus, Chromium"
bash test/setup.sh

step "gofmt"
unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then
  echo "not gofmt-clean:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "go test"
go test -count=1 -timeout 30m ./...

step "fuzz: every Fuzz target for 3s from its seeds (test/fuzz.sh)"
bash test/fuzz.sh -budget 3s -minimize 1s -fresh

for extra in test/interop/run.sh deploy/test.sh bench/run.sh; do
  if [ -f "$extra" ]; then
    step "$extra"
    if [ "$extra" = bench/run.sh ]; then bash "$extra" --short; else bash "$extra"; fi
  fi
done
