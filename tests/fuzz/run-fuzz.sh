#!/bin/sh
# Run one libFuzzer target for a short time on its seed corpus (the 'fuzz'
# meson test suite). New inputs go to WORKDIR/corpus, never into the seed
# directory; a crashing input is saved in WORKDIR/ and the exit status is
# 1 (libFuzzer's own default, 77, is what meson reads as "skipped": a
# crash must never pass as a skip). Longer runs: docs/fuzzing.md.
#
# usage: run-fuzz.sh FUZZER SEED_DIR WORKDIR SECONDS
set -eu
fuzzer=$1
seeds=$2
work=$3
seconds=$4

rm -rf "$work"
mkdir -p "$work/corpus"
exec "$fuzzer" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$seeds"
