#!/usr/bin/env bash
# Usage: test/chromium/install.sh
#
# Installs Debian's chromium package when /usr/bin/chromium is missing (needs
# root, as on the project's machines and CI) and prints
#
#   CHROMIUM=/usr/bin/chromium
#
# Run it headless with --headless --no-sandbox --disable-gpu --disable-quic
# --no-first-run --disable-background-networking --disable-component-update
# --disable-sync and a fresh --user-data-dir.
set -euo pipefail
# shellcheck source=test/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

bin=/usr/bin/chromium
if [ ! -x "$bin" ]; then
	command -v apt-get >/dev/null || die "no apt-get: install Debian's chromium package by hand"
	[ "$(id -u)" -eq 0 ] || die "installing chromium needs root (apt-get install -y chromium)"
	t0=$(now_ms)
	log "installing Debian's chromium package (apt-get)"
	exec 9>/tmp/weir-chromium-install.lock
	flock 9
	if [ ! -x "$bin" ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >&2 || die "apt-get update failed"
		apt-get install -y -q chromium >&2 || die "apt-get install chromium failed"
	fi
	[ -x "$bin" ] || die "chromium installed but $bin is missing"
	log "chromium installed in $(since_ms "$t0") s"
fi
"$bin" --version >&2 || die "$bin does not run"
echo "CHROMIUM=$bin"
