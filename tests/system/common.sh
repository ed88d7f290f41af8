# shellcheck shell=bash
# Shared by the system tests (sourced, not run): messages, skip and fail,
# bounded commands, and the dedicated --prefix=/usr build they install.
#
# A system test exits 0 (pass), 1 (fail) or 77 (skipped: meson reports
# SKIP); a skip prints "skipped: <reason>" as its last line.

T0=$(date +%s%N)

log() { # log MESSAGE...: a line with the seconds since the start
  local ds=$((($(date +%s%N) - T0) / 100000000))
  printf '[%4d.%ds] %s\n' $((ds / 10)) $((ds % 10)) "$*"
}

skip() {
  echo "skipped: $*"
  exit 77
}

fail() {
  echo "FAIL: $*"
  exit 1
}

# need_cmd CMD PACKAGE: skip unless CMD is on PATH.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 ||
    skip "$1 is not installed (package $2; ./install-deps.sh installs it)"
}

# The source tree and this build, as meson passes them.
: "${PSOCK_SOURCE_ROOT:?run this through meson test}"
: "${PSOCK_BUILD_ROOT:?run this through meson test}"
# Downloads and images that later runs reuse, outside the repository.
PSOCK_TEST_CACHE=${PSOCK_TEST_CACHE:-/var/cache/psock-test}
# A build of its own with --prefix=/usr (units in /usr/lib/systemd/system),
# without the test hooks and sanitizers the build under test may have.
PSOCK_SYSTEM_BUILD=${PSOCK_SYSTEM_BUILD:-$PSOCK_BUILD_ROOT/build-system}

# build_and_install DESTDIR: configure (once) and build the dedicated
# build, then `meson install --destdir DESTDIR`. Output goes to
# DESTDIR.log; on failure its tail is shown.
build_and_install() {
  local destdir=$1 out=$1.log
  {
    if [ ! -f "$PSOCK_SYSTEM_BUILD/build.ninja" ]; then
      meson setup "$PSOCK_SYSTEM_BUILD" "$PSOCK_SOURCE_ROOT" \
        --prefix=/usr -Dtests=false -Dtest_hooks=false -Db_sanitize=none
    fi &&
      meson compile -C "$PSOCK_SYSTEM_BUILD" &&
      meson install -C "$PSOCK_SYSTEM_BUILD" --no-rebuild --destdir "$destdir"
  } </dev/null >"$out" 2>&1 || {
    tail -n 40 "$out"
    fail "building or installing psock with --prefix=/usr (log: $out)"
  }
}

# cc_against ROOT OUT SOURCE [CFLAGS...]: compile a client against the
# libpsock-client installed under ROOT, through its installed .pc file.
cc_against() {
  local root=$1 out=$2 src=$3 pc flags
  shift 3
  pc=$(find "$root/usr/lib" -name libpsock-client.pc -print -quit)
  [ -n "$pc" ] || fail "no libpsock-client.pc installed under $root/usr/lib"
  flags=$(PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=${pc%/*} \
    pkg-config --cflags --libs libpsock-client) ||
    fail "pkg-config cannot use the installed $pc"
  # shellcheck disable=SC2086 # flags is a word list
  cc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE "$@" -o "$out" "$src" \
    $flags || fail "cannot compile $src against the installed library"
}
