#!/usr/bin/env bash
# Build psock and run the whole test suite twice: a normal build in build/
# and an AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
# (leak checks on). Installs missing packages first. Must run as root: the
# integration tests start psockd and run clients as nobody.
# Exits non-zero if anything fails; the last line is a plain summary.
set -uo pipefail
cd "$(dirname "$0")"

if ! ./install-deps.sh; then
  echo "run-tests: installing dependencies failed"
  echo "summary: 0 passed, 1 failed"
  exit 1
fi

passed=0
failed=0
skipped=0
report=()

count() { # count RESULT... in a testlog.json
  local log=$1 n=0 r c
  shift
  for r in "$@"; do
    c=$(grep -o "\"result\": \"$r\"" "$log" 2>/dev/null | wc -l)
    n=$((n + c))
  done
  echo "$n"
}

# run_suite NAME BUILDDIR [meson setup options...]
run_suite() {
  local name=$1 dir=$2 log ok bad skip status=0
  shift 2
  echo "=== $name build ($dir)"
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" </dev/null || status=$?
  elif [ "$#" -gt 0 ]; then
    # A build dir left by ./demo.sh or by hand: make its options ours.
    meson configure "$dir" "$@" </dev/null || status=$?
  fi
  if [ "$status" -eq 0 ]; then
    meson compile -C "$dir" </dev/null || status=$?
  fi
  if [ "$status" -ne 0 ]; then
    echo "run-tests: $name build failed"
    failed=$((failed + 1))
    report+=("$name: build failed")
    return
  fi
  log="$dir/meson-logs/testlog.json"
  rm -f "$log"
  meson test -C "$dir" --print-errorlogs </dev/null || status=$?
  ok=$(count "$log" OK EXPECTEDFAIL)
  bad=$(count "$log" FAIL TIMEOUT UNEXPECTEDPASS ERROR INTERRUPT)
  skip=$(count "$log" SKIP)
  # meson failed without a failing test to show for it: count it anyway.
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
    bad=1
  fi
  if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
    echo "run-tests: $name ran no test"
    bad=1
  fi
  passed=$((passed + ok))
  failed=$((failed + bad))
  skipped=$((skipped + skip))
  report+=("$name: $ok passed, $bad failed, $skip skipped")
}

run_suite normal build -Dtest_hooks=true

export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_suite asan build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dtest_hooks=true

echo
echo "=== results"
for line in "${report[@]}"; do
  echo "  $line"
done
echo "summary: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
