# shellcheck shell=bash
# Shell helpers shared by the scripts under test/ that run real components.
# Source it; it defines functions and sets nothing else but $root.
#
# Conventions of those scripts:
#   - everything binds 127.0.0.1 only;
#   - state lives under $root/.cache/ (git-ignored);
#   - stdout carries only NAME=value lines meant for eval or for
#     internal/testenv; progress and errors go to stderr;
#   - every background process has its stdin, stdout and stderr on files, so
#     a caller reading the script's stdout sees EOF when the script exits.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

log() { echo "${0##*/}: $*" >&2; }

# free_port prints a TCP port that nothing listens on, below the kernel's
# ephemeral range so that outgoing connections cannot take it meanwhile.
# Ports already handed out by this shell are never handed out again.
_given_ports=" "
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		case "$_given_ports" in *" $p "*) continue ;; esac
		if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] &&
			! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			_given_ports="$_given_ports$p "
			echo "$p"
			return 0
		fi
	done
	die "no free TCP port found on 127.0.0.1"
}

# port_open PORT succeeds when something accepts TCP connections on
# 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_is PIDFILE PATTERN succeeds when the process named by PIDFILE is alive
# and its command line contains PATTERN; it guards every kill against a pid
# that was reused by an unrelated process. It is false while a process is
# being started (see spawn): use it on processes spawn has returned for.
pid_is() {
	local pid="" args IFS=' '
	[ -f "$1" ] || return 1
	read -r pid 2>/dev/null <"$1" || true
	[ -n "$pid" ] || return 1
	# Read in the shell: no pipeline that pipefail could fail on SIGPIPE.
	mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
	[[ " ${args[*]} " == *"$2"* ]]
}

# proc_alive PID succeeds when process PID exists and is not a zombie.
proc_alive() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat="${stat##*) }"
	[ "${stat%% *}" != Z ]
}

# running PIDFILE succeeds while the process of PIDFILE, a child this shell
# spawned, has not exited. Readiness loops use it rather than pid_is: whether
# a process we just started died needs no guard against pid reuse, and its
# command line may still change (see spawn).
running() {
	local pid=""
	read -r pid 2>/dev/null <"$1" || true
	[ -n "$pid" ] && proc_alive "$pid"
}

# spawn LOG PIDFILE PATTERN COMMAND... starts COMMAND in the background,
# immune to hangups as with nohup, stdin /dev/null, stdout and stderr to LOG;
# records its pid in PIDFILE and returns once the process runs COMMAND (its
# command line contains PATTERN) or has exited. Until then pid_is is false
# for a live process: /proc/PID/cmdline is this script's until the forked
# shell calls execve, and empty for a moment inside execve. On a busy machine
# both last long (measured at a load of 17: up to 0.4 s before the execve,
# up to 166 ms inside it for the 121 MB Jaeger binary). Hence a single
# execve (nohup would add a second one), and the wait.
spawn() {
	local log="$1" pf="$2" pat="$3" pid
	shift 3
	(
		trap '' HUP
		exec "$@"
	) </dev/null >"$log" 2>&1 &
	pid=$!
	echo "$pid" >"$pf"
	for _ in $(seq 1 3000); do
		if pid_is "$pf" "$pat" || ! proc_alive "$pid"; then return 0; fi
		sleep 0.02
	done
	log "process $pid had not exec'd $1 after 3000 checks (60 s or more)"
}

# stop_pid PIDFILE PATTERN GRACE_SECONDS sends SIGTERM to the process of
# PIDFILE (if it is still the one we started), waits up to GRACE_SECONDS and
# then sends SIGKILL. GRACE_SECONDS=0 kills at once.
stop_pid() {
	local f="$1" pat="$2" grace="$3" pid
	if ! pid_is "$f" "$pat"; then
		rm -f "$f"
		return 0
	fi
	pid="$(cat "$f")"
	if [ "$grace" -gt 0 ]; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 $((grace * 10))); do
			pid_is "$f" "$pat" || break
			sleep 0.1
		done
	fi
	if pid_is "$f" "$pat"; then
		kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			pid_is "$f" "$pat" || break
			sleep 0.1
		done
	fi
	rm -f "$f"
}

# start_watchdog DIR OWNER_PID STOP_COMMAND... runs STOP_COMMAND once the
# process OWNER_PID has exited (a test binary that died without cleaning up),
# and records its own pid in DIR/watchdog.pid. No-op when OWNER_PID is empty.
start_watchdog() {
	local dir="$1" owner="$2"
	shift 2
	[ -n "$owner" ] || return 0
	kill -0 "$owner" 2>/dev/null || die "owner process $owner is not running"
	echo "$owner" >"$dir/owner.pid"
	spawn "$dir/watchdog.log" "$dir/watchdog.pid" weir-watchdog \
		bash -c 'owner=$1; shift; while kill -0 "$owner" 2>/dev/null; do sleep 1; done; exec "$@"' \
		weir-watchdog "$owner" "$@"
}

# stop_watchdog DIR ends the watchdog of DIR, unless it is the caller itself
# (the watchdog runs the stop command once its owner is gone).
stop_watchdog() {
	local f="$1/watchdog.pid"
	[ -f "$f" ] || return 0
	if [ "$(cat "$f")" != "$$" ]; then
		stop_pid "$f" weir-watchdog 0
	fi
	rm -f "$f"
}

# wait_http URL SECONDS PIDFILE waits until URL answers 2xx, failing early
# when the process of PIDFILE has died.
wait_http() {
	local url="$1" secs="$2" pf="$3"
	for _ in $(seq 1 $((secs * 10))); do
		if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
			return 0
		fi
		running "$pf" || return 1
		sleep 0.1
	done
	return 1
}

# now_ms prints a monotonic-enough wall clock in milliseconds; since_ms T
# prints the seconds (one decimal) elapsed since now_ms printed T.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
since_ms() {
	local d=$(($(now_ms) - $1))
	printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}

# pick_dirs BASE ARGS... prints (one a line) the instance directories a stop
# command acts on: the ones named in ARGS; with --all every directory under
# BASE; with nothing, only those under BASE whose owner process (--owner of
# start) has exited. Never, by default, one that a running test binary or a
# person started: the tree is shared by several developers.
pick_dirs() {
	local base="$1" d o
	shift
	if [ $# -gt 0 ] && [ "$1" != --all ]; then
		printf '%s\n' "$@"
		return
	fi
	for d in "$base"/*/; do
		[ -d "$d" ] || continue
		d="${d%/}"
		if [ "${1:-}" = --all ]; then
			echo "$d"
		elif [ -f "$d/owner.pid" ] && o="$(cat "$d/owner.pid")" && ! kill -0 "$o" 2>/dev/null; then
			echo "$d"
		fi
	done
}

# stop_instances BASE DEFAULT MARKER STOP ARGS... stops the instances that
# pick_dirs chooses under BASE from ARGS (DEFAULT, the caller's $X_DIR, when
# ARGS is empty) and removes their directories. Each must hold the file
# MARKER; the function STOP, called with the directory, stops its processes.
# The watchdog goes last: a stop cut short (testenv kills it at the test
# binary's deadline) leaves the watchdog to finish once the owner is gone.
stop_instances() {
	local base="$1" default="$2" marker="$3" stop="$4" dirs d
	shift 4
	if [ $# -eq 0 ] && [ -n "$default" ]; then set -- "$default"; fi
	mapfile -t dirs < <(pick_dirs "$base" "$@")
	for d in "${dirs[@]}"; do
		d="${d%/}"
		[ -d "$d" ] || continue
		[ -f "$d/$marker" ] || die "$d is not an instance directory made by ${0##*/}"
		"$stop" "$d"
		stop_watchdog "$d"
		rm -rf "$d"
		log "stopped and removed $d"
	done
}

# owner_of ARGS... prints the PID of a start command's --owner PID (nothing
# without one) and refuses any other argument.
owner_of() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--owner) echo "$2"; shift 2 ;;
		*) die "unknown argument $1" ;;
		esac
	done
}

# with_port_retries FUNC ARGS... runs FUNC in a subshell, up to 3 times while
# it exits 75: free_port checks a port before the server binds it, so a
# process starting at the same moment can take it first.
with_port_retries() {
	local try rc
	for try in 1 2 3; do
		# Not `(...) || rc=$?`: errexit is off in a command tested with ||.
		set +e
		(
			set -e
			"$@"
		)
		rc=$?
		set -e
		[ $rc -eq 75 ] || return $rc
		log "a port was taken meanwhile (try $try); trying again with other ports"
	done
	die "ports kept being taken by other processes"
}
