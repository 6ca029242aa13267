#!/usr/bin/env bash
# test/fuzz.sh [-budget DURATION] [-minimize DURATION] [-parallel N] [-fresh] [PATTERN]
#
# Runs every Fuzz* target of the main module, one after the other, for
# BUDGET each (default 1m), with a short minimisation time (default 5s; Go's
# default of 60s spent whole budgets minimising) and at most N fuzzing
# workers (default and cap: the machine's cores). PATTERN (an extended
# regular expression) keeps the targets whose "package.Name" matches it.
#
# Each package's test binary is built once, instrumented as go test -fuzz
# builds it, and lists its targets (-test.list, as go test -list); each
# target then runs as go test -run '^$' -fuzz '^Name$' runs it. New
# interesting inputs go to the corpus go test keeps,
# $(go env GOCACHE)/fuzz/PKG/Name, where later runs start from them; with
# -fresh they go to a temporary directory instead, so that a short run
# starts from the seeds and testdata alone and spends its budget fuzzing
# rather than replaying a grown corpus (.ci/run uses it).
#
# Per target it reports the executions, the new interesting inputs and
# whether it failed; a failing input is written to testdata/fuzz/Name/ of
# its package, where it stays as a regression test of plain `go test`.
# Logs: test/artifacts/fuzz/. Exits 1 if any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

budget=1m minimize=5s cores=$(nproc) parallel= fresh=
pattern=.
while [ $# -gt 0 ]; do
  case "$1" in
    -budget) budget=$2; shift 2 ;;
    -minimize) minimize=$2; shift 2 ;;
    -parallel) parallel=$2; shift 2 ;;
    -fresh) fresh=1; shift ;;
    -h|-help|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
# The test binary's alarm covers the fuzzing: allow the budget twice over
# and ten minutes for the baseline coverage; a count budget runs without one.
if s=$(seconds "$budget") && [ -n "$s" ]; then timeout="$((2 * s + 600))s"; else timeout=0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "$fresh" ]; then corpus=$work/corpus; else corpus=$(go env GOCACHE)/fuzz; fi
logs=test/artifacts/fuzz
mkdir -p "$logs"
module=$(go list -m)

# Packages with a Fuzz function in their tests whose name PATTERN may match
# (the test binary lists the targets themselves).
pkgs=$(go list -f '{{.ImportPath}} {{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./... |
  while read -r pkg dir files; do
    [ -n "$files" ] || continue
    for name in $(cd "$dir" && grep -ho '^func Fuzz[A-Za-z0-9_]*' $files | cut -c6-); do
      if grep -Eq -- "$pattern" <<<"$pkg.$name"; then echo "$pkg $dir"; break; fi
    done
  done)

echo "fuzzing for $budget per target, minimise $minimize, $parallel workers${fresh:+, fresh corpus}" >&2
results=() failed=0 count=0 start=$SECONDS
while read -r pkg dir; do
  short=${pkg#"$module"}; short=${short#/}; short=${short:-.}
  bin=$work/${short//\//_}.test
  if ! go test -c -fuzz . -o "$bin" "$pkg" </dev/null >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    results+=("$(printf '%-40s %-28s %12s %8s %7s  %s' "$short" '(build)' - - - FAIL)")
    failed=1
    continue
  fi
  for name in $( (cd "$dir" && "$bin" -test.list '^Fuzz' </dev/null) | grep '^Fuzz'); do
    grep -Eq -- "$pattern" <<<"$pkg.$name" || continue
    count=$((count + 1))
    log="$logs/${short//\//_}.$name.log"
    echo "--- $short $name" >&2
    t0=$SECONDS
    rc=0
    fuzz() {
      (cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^$name\$" -test.fuzztime "$budget" \
        -test.fuzzminimizetime "$minimize" -test.parallel "$parallel" -test.timeout "$timeout" \
        -test.fuzzcachedir "$corpus/$pkg") </dev/null >"$log" 2>&1
    }
    fuzz || rc=$?
    # Go's fuzzer can end its budget with a worker mid-input and report
    # only "context deadline exceeded", no failing input: that is the
    # engine, not a finding; the target gets one more budget.
    if [ "$rc" -ne 0 ] && ! grep -q 'Failing input written to' "$log" && grep -q 'context deadline exceeded' "$log"; then
      echo "fuzz.sh: $short $name ended on the fuzzer's deadline race; running it again" >&2
      rc=0
      fuzz || rc=$?
    fi
    # The coordinator's last status line holds the totals; a budget spent
    # replaying the corpus leaves only baseline lines.
    last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1 || true)
    execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
    new=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
    note=
    if [ -z "$last" ]; then
      note=" (budget spent on the baseline: $(grep -oE 'baseline coverage: [0-9]+/[0-9]+' "$log" | tail -n 1 | cut -d' ' -f3) inputs)"
    fi
    if [ "$rc" -eq 0 ]; then
      outcome="ok$note"
    else
      failed=1
      input=$(sed -nE 's/.*Failing input written to (.*)$/\1/p' "$log" | head -n 1)
      if [ -n "$input" ]; then outcome="FAIL $short/$input"; else outcome="FAIL (exit $rc, see $log)"; fi
      tail -n 30 "$log" >&2
    fi
    results+=("$(printf '%-40s %-28s %12s %8s %6ss  %s' "$short" "$name" "${execs:-0}" "${new:-0}" "$((SECONDS - t0))" "$outcome")")
  done
done <<<"$pkgs"

if [ "$count" -eq 0 ] && [ "$failed" -eq 0 ]; then
  echo "fuzz.sh: no Fuzz target matches $pattern" >&2; exit 1
fi
printf '\n%-40s %-28s %12s %8s %7s  %s\n' package target execs new time result
printf '%s\n' "${results[@]}"
printf '%d targets in %ds; logs in %s/\n' "$count" "$((SECONDS - start))" "$logs"
exit "$failed"
