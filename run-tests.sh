#!/usr/bin/env bash
# Build psock and run the whole test suite twice: a normal build in build/
# and an AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
# (leak checks on); then, in build-fuzz/ (clang), run each libFuzzer target
# for a few seconds on its seed corpus (docs/fuzzing.md). Installs missing
# packages first. Must run as root: the integration tests start psockd and
# run clients as nobody.
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

# Why each skipped test in a testlog.json was skipped: its "skipped: ..."
# line (the system tests print one when the machine cannot run them).
skip_reasons() {
  python3 - "$1" <<'EOF' 2>/dev/null
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t.get("result") == "SKIP":
        why = [l for l in (t.get("stdo") or "").splitlines()
               if l.startswith("skipped: ")]
        print("  %s: %s" % (t["name"], why[-1] if why else "skipped"))
EOF
}

# run_suite NAME BUILDDIR [meson setup options...]
# $TEST_ARGS: extra `meson test` arguments for this build.
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
  # shellcheck disable=SC2086 # TEST_ARGS is a word list
  meson test -C "$dir" --print-errorlogs ${TEST_ARGS:-} </dev/null || status=$?
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
  if [ "$skip" -gt 0 ]; then
    while IFS= read -r line; do report+=("$line"); done < <(skip_reasons "$log")
  fi
}

run_suite normal build -Dtest_hooks=true

# The system suite (a container with systemd, a TIPC VM) builds and installs
# psock with a build of its own, so it runs once, with the normal build.
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TEST_ARGS="--no-suite system" \
  run_suite asan build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dtest_hooks=true

# The fuzz targets bring their own sanitizers; this build's other tests
# are the ones that ran above, and its warnings are gcc's to enforce.
CC=clang TEST_ARGS="--suite fuzz" \
  run_suite fuzz build-fuzz -Dfuzz=true

echo
echo "=== results"
for line in "${report[@]}"; do
  echo "  $line"
done
echo "summary: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
