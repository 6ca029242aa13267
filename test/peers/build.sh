#!/usr/bin/env bash
# Usage: test/peers/build.sh [--check] jaeger|prometheus
#
# Builds the peer binary pinned by the tools module test/peers/<name>/go.mod
# into .cache/bin/<name>, unless .cache/bin/<name>.version already names the
# pinned version (and Go version) and the binary is there. Prints the binary's
# path on stdout. With --check it builds nothing: it exits 0 when the cached
# binary is up to date and 3 when a build is needed.
#
# The tools modules are modules of their own so that the peers' dependency
# trees never enter weir's go.mod. A cold build is long (Jaeger ~10 min,
# Prometheus ~8 min on 2 cores) and memory hungry, so it runs at the lowest
# priority with one package at a time, and a lock keeps two test binaries from
# building the same peer at once.
set -euo pipefail

check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
name="${1:-}"
case "$name" in
jaeger) module=github.com/jaegertracing/jaeger pkg=github.com/jaegertracing/jaeger/cmd/jaeger ;;
prometheus) module=github.com/prometheus/prometheus pkg=github.com/prometheus/prometheus/cmd/prometheus ;;
*)
	echo "usage: $0 jaeger|prometheus" >&2
	exit 2
	;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tools="$here/$name"
bindir="$root/.cache/bin"
bin="$bindir/$name"
stamp="$bindir/$name.version"

export GOTOOLCHAIN=local GOWORK=off
# Keep whatever GOFLAGS the caller has (e.g. -buildvcs=false) and build one
# package at a time: the machine is shared.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-p=1 -mod=readonly"

# The pinned version is the tool requirement of the tools module.
version="$(sed -n "s#^[[:space:]]*$module \(v[^ ]*\).*#\1#p" "$tools/go.mod" | head -n1)"
if [ -z "$version" ]; then
	echo "build.sh: $tools/go.mod does not require $module" >&2
	exit 1
fi
want="$module@$version $(go env GOVERSION)"

fresh() { [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }

if fresh; then
	echo "$bin"
	exit 0
fi
[ $check -eq 0 ] || exit 3
mkdir -p "$bindir"

exec 9>"$bindir/$name.lock"
flock 9
if fresh; then # another process built it while we waited for the lock
	echo "$bin"
	exit 0
fi

echo "build.sh: building $name ($module@$version) into $bin; a cold build takes ~10 min" >&2
start=$(date +%s)
rm -f "$stamp"
(cd "$tools" && nice -n 19 go build -trimpath -o "$bin.tmp" "$pkg")
mv -f "$bin.tmp" "$bin"
printf '%s\n' "$want" >"$stamp"
echo "build.sh: built $name in $(($(date +%s) - start)) s" >&2
echo "$bin"
