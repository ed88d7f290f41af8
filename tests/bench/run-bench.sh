#!/usr/bin/env bash
# The psock benchmark (issue #7), in one command: install what it needs,
# build it in its own release build dir, run every comparison, print the
# table (figure, psock, reference or peer, ratio, target, met?, placement).
#
#   tests/bench/run-bench.sh [psock-bench options...]
#
# e.g. --rounds 9 (more rounds, steadier medians), --cpu 1 (the CPU of the
# same-CPU figures), --only latency,bind, --smoke. Must run as root: it
# starts psockd and makes network namespaces. docs/performance.md explains
# each figure and what limits it.
#
# The peers psock is measured against (pasta from passt, slirp4netns,
# authbind) are installed here, not by install-deps.sh: the tests do not
# need them. A peer that is missing (no root, no network) is reported as
# "not installed" in its row.
#
# Environment: BUILD_DIR (default build-bench), NICE (default -20: the
# benchmark's processes outrank other work on a shared machine; set NICE=0
# to run at normal priority).
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${BUILD_DIR:-build-bench}
nice_level=${NICE:--20}

if [ "$(id -u)" -ne 0 ]; then
  echo "run-bench: must run as root (psockd, namespaces, clients as nobody)" >&2
  exit 1
fi

./install-deps.sh

peers=(passt slirp4netns authbind)
missing=()
for p in "${peers[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "run-bench: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends \
    "${missing[@]}"; } </dev/null; then
    echo "run-bench: could not install ${missing[*]}: their rows will say" \
      "\"not installed\"" >&2
  fi
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release </dev/null
else
  meson configure "$build" --buildtype=release </dev/null
fi
# Only what the benchmark runs: psockd, the client library, psock-bench,
# and the preload shim with its own benchmark.
targets=(daemon/psockd tests/bench/psock-bench)
shim_args=()
if [ -f client/preload/meson.build ] && [ -f tests/bench/shim_bench.c ]; then
  targets+=(client/preload/libpsock-preload.so tests/integration/shim_bench)
  shim_args=(--shim-bench "$build/tests/integration/shim_bench"
    --preload "$build/client/preload/libpsock-preload.so")
fi
ninja -C "$build" "${targets[@]}" </dev/null

echo "run-bench: $(uptime)"
exec nice -n "$nice_level" "$build/tests/bench/psock-bench" \
  --psockd "$build/daemon/psockd" "${shim_args[@]}" "$@"
