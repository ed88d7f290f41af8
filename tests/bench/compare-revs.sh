#!/usr/bin/env bash
# The benchmark of two revisions in the same run: is HEAD within 5 % of
# BASE? Builds BASE (a git revision) in a worktree of its own and HEAD in
# build-bench, both release builds, then runs each one's psock-bench
# against its own psockd, alternating which goes first, ROUNDS times, and
# prints every figure's psock column as the median over the runs of each,
# their ratio, and whether HEAD is within 5 % of BASE (in the direction
# that is worse for the figure's unit: time and bytes up, rates down).
#
#   tests/bench/compare-revs.sh [--runs N] BASE [psock-bench options...]
#
# e.g. tests/bench/compare-revs.sh --runs 3 e6abe63 --only latency,throughput
# Must run as root (psockd, namespaces). docs/performance.md has figures.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=3
if [ "${1:-}" = "--runs" ]; then
  runs=$2
  shift 2
fi
base=${1:?usage: compare-revs.sh [--runs N] BASE [psock-bench options...]}
shift
bench_args=("$@")
nice_level=${NICE:--20}

if [ "$(id -u)" -ne 0 ]; then
  echo "compare-revs: must run as root" >&2
  exit 1
fi
./install-deps.sh >/dev/null

out=$(mktemp -d /tmp/psock-compare.XXXXXX)
src="$out/base-src"
git worktree add --detach "$src" "$base" >/dev/null
trap 'git worktree remove --force "$src" >/dev/null 2>&1 || true' EXIT

build_rev() { # source dir, build dir
  meson setup "$2" "$1" --buildtype=release >/dev/null </dev/null
  ninja -C "$2" daemon/psockd tests/bench/psock-bench >/dev/null </dev/null
}
build_rev "$src" "$out/base-build"
if [ ! -f build-bench/build.ninja ]; then
  meson setup build-bench --buildtype=release >/dev/null </dev/null
fi
ninja -C build-bench daemon/psockd tests/bench/psock-bench >/dev/null </dev/null

run_one() { # name, build dir
  local b=$2
  LD_LIBRARY_PATH="$b/client" nice -n "$nice_level" \
    "$b/tests/bench/psock-bench" --psockd "$b/daemon/psockd" \
    ${bench_args[@]+"${bench_args[@]}"} \
    >"$out/$1.$i.txt" 2>"$out/$1.$i.err" || {
    echo "compare-revs: $1 run $i failed; see $out/$1.$i.err" >&2
    exit 1
  }
}

echo "compare-revs: BASE $(git rev-parse --short "$base") vs HEAD" \
  "$(git rev-parse --short HEAD), $runs runs each; $(uptime)"
for i in $(seq 1 "$runs"); do
  if [ $((i % 2)) -eq 1 ]; then
    run_one base "$out/base-build"
    run_one head build-bench
  else
    run_one head build-bench
    run_one base "$out/base-build"
  fi
  echo "compare-revs: run $i of $runs done"
done

python3 - "$out" "$runs" <<'EOF'
import re, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
num = re.compile(r"^\s*([0-9.]+)\s*([A-Za-z/]+)")

def table(name):
    rows = {}
    for i in range(1, runs + 1):
        for line in open(f"{out}/{name}.{i}.txt"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 3 or not line.startswith("|"):
                continue
            m = num.match(cells[1])
            if m:
                rows.setdefault(cells[0], []).append((float(m.group(1)), m.group(2)))
    return rows

base, head = table("base"), table("head")
lower_better = ("us", "ms", "B", "KB", "KiB", "MB")
print("| figure | BASE (median) | HEAD (median) | HEAD/BASE | within 5 %? |")
print("| --- | --- | --- | --- | --- |")
worse = 0
for fig, hv in head.items():
    if fig not in base:
        continue
    b = statistics.median(v for v, _ in base[fig])
    h = statistics.median(v for v, _ in hv)
    unit = hv[0][1]
    ratio = h / b if b else float("nan")
    bad = ratio > 1.05 if unit in lower_better else ratio < 0.95
    worse += bad
    print(f"| {fig} | {b:g} {unit} | {h:g} {unit} | {ratio:.3f} | {'NO' if bad else 'yes'} |")
print(f"{worse} figure(s) more than 5 % worse; runs kept in {out}")
EOF
