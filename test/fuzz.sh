#!/usr/bin/env bash
# test/fuzz.sh [-budget DURATION] [-minimize DURATION] [-parallel N] [PATTERN]
#
# Runs every Fuzz* target of the main module (found with go test -list), one
# after the other, for BUDGET each (default 1m), with a short minimisation
# time (default 5s; Go's default of 60s spent whole budgets minimising) and
# at most N fuzzing workers (default and cap: the machine's cores). PATTERN
# (an extended regular expression) keeps the targets whose "package.Name"
# matches it.
#
# Per target it reports the executions, the new interesting inputs (they go
# to the Go build cache's fuzz corpus, $(go env GOCACHE)/fuzz) and whether it
# failed; a failing input is written to testdata/fuzz/FuzzX/ of its package,
# where it stays as a regression test of plain `go test`. Each target's log
# is kept under test/artifacts/fuzz/. Exits 1 if any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

budget=1m minimize=5s cores=$(nproc) parallel=
pattern=.
while [ $# -gt 0 ]; do
  case "$1" in
    -budget) budget=$2; shift 2 ;;
    -minimize) minimize=$2; shift 2 ;;
    -parallel) parallel=$2; shift 2 ;;
    -h|-help|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown flag $1" >&2; exit 2 ;;
    *) pattern=$1; shift ;;
  esac
done
parallel=${parallel:-$cores}
if ! [[ $parallel =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: -parallel $parallel is not a positive number" >&2; exit 2
fi
[ "$parallel" -gt "$cores" ] && parallel=$cores

# seconds converts a Go duration of h, m and s parts ("90s", "1h30m") to
# whole seconds; it prints nothing for other forms (such as "1000x").
seconds() {
  local d=$1 total=0 n u
  [[ $d =~ ^([0-9]+[hms])+$ ]] || return 0
  while [[ $d =~ ^([0-9]+)([hms])(.*)$ ]]; do
    n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]} d=${BASH_REMATCH[3]}
    case $u in h) total=$((total + n * 3600)) ;; m) total=$((total + n * 60)) ;; s) total=$((total + n)) ;; esac
  done
  echo "$total"
}
# The test binary's alarm (go test's -timeout, 10m by default) covers the
# fuzzing: allow the budget twice over and ten minutes for the build and the
# baseline coverage; a count budget runs without one.
if s=$(seconds "$budget") && [ -n "$s" ]; then timeout="$((2 * s + 600))s"; else timeout=0; fi

# Only packages with a Fuzz function in their tests are listed (go test
# -list builds the test binary).
pkgs=$(go list -f '{{.ImportPath}} {{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./... |
  while read -r pkg dir files; do
    if [ -n "$files" ] && (cd "$dir" && grep -q '^func Fuzz' $files); then echo "$pkg"; fi
  done)
targets=()
for pkg in $pkgs; do
  for name in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
    if grep -Eq -- "$pattern" <<<"$pkg.$name"; then targets+=("$pkg $name"); fi
  done
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no Fuzz target matches $pattern" >&2; exit 1
fi

logs=test/artifacts/fuzz
mkdir -p "$logs"
module=$(go list -m)
echo "fuzzing ${#targets[@]} targets, $budget each, minimise $minimize, $parallel workers" >&2
results=() failed=0 start=$SECONDS
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  short=${pkg#"$module"/}
  log="$logs/${short//\//_}.$name.log"
  echo "--- $short $name" >&2
  t0=$SECONDS
  rc=0
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$budget" -fuzzminimizetime "$minimize" \
    -parallel "$parallel" -timeout "$timeout" "$pkg" >"$log" 2>&1 || rc=$?
  # The coordinator's last status line holds the totals.
  last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1 || true)
  execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
  fresh=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
  if [ "$rc" -eq 0 ]; then
    outcome=ok
  else
    failed=1
    input=$(sed -nE 's/.*Failing input written to (.*)$/\1/p' "$log" | head -n 1)
    if [ -n "$input" ]; then outcome="FAIL $short/$input"; else outcome="FAIL (exit $rc, see $log)"; fi
    tail -n 30 "$log" >&2
  fi
  results+=("$(printf '%-40s %-28s %12s %8s %6ss  %s' "$short" "$name" "${execs:--}" "${fresh:--}" "$((SECONDS - t0))" "$outcome")")
done

printf '\n%-40s %-28s %12s %8s %7s  %s\n' package target execs new time result
printf '%s\n' "${results[@]}"
printf '%d targets in %ds; logs in %s/\n' "${#targets[@]}" "$((SECONDS - start))" "$logs"
exit "$failed"
