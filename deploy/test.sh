#!/usr/bin/env bash
# Usage: deploy/test.sh [go test flags...]
#
# Checks the Helm chart (helm/weir) and the Grafana dashboard
# (grafana/weir-red.json) without a cluster: the chart is rendered with the
# Helm Go SDK for several value sets, each document decoded into its
# Kubernetes type, the mounted weir.yaml checked by `weir config check`
# (weir is built from the repository root), the dashboard's PromQL parsed
# with Prometheus' parser. A module of its own so that Helm and the
# Kubernetes API types never enter weir's go.mod; its first build compiles
# them (a few minutes on 2 cores), later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")"
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

nice -n 10 go vet ./...
nice -n 10 go test -count=1 -timeout 20m "$@" ./...
