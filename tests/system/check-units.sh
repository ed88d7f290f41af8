#!/usr/bin/env bash
# The systemd files as `meson install` puts them, checked offline:
#
# - where they go: units in pkg-config systemd's systemdsystemunitdir (its
#   root prefix set to ours), sysusers.d and tmpfiles.d entries, and the
#   binaries, library, header, .pc file and man pages next to them;
# - `systemd-analyze verify --root=STAGE` of both units prints nothing at
#   all (it only warns about unknown keys, and exits 0 anyway);
# - `systemd-analyze security --offline=true` rates psockd.service at an
#   exposure of 2.6 or less (2.0 before per-user workers; docs/security.md,
#   "The systemd unit", accounts for each of the 0.6 added);
# - systemd-sysusers and systemd-tmpfiles accept their entries.
#
# STAGE is a fresh `meson install --destdir` of this build, made to look
# like a merged-/usr system (the host's own unit files, so that
# sysinit.target and friends resolve, and kill(1) for ExecReload=).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

MAX_EXPOSURE=${PSOCK_MAX_EXPOSURE:-2.6}

need_cmd systemd-analyze systemd
need_cmd pkg-config pkg-config

STAGE=$(mktemp -d /tmp/psock-units.XXXXXX) || fail "mktemp"
trap 'rm -rf "$STAGE"' EXIT
meson install -C "$PSOCK_BUILD_ROOT" --no-rebuild --quiet --destdir "$STAGE" \
  </dev/null >"$STAGE.log" 2>&1 || {
  cat "$STAGE.log"
  rm -f "$STAGE.log"
  fail "meson install --destdir failed"
}
rm -f "$STAGE.log"

# prefix, sbindir, libdir, mandir, includedir, systemdsystemunitdir
prefix='' sbindir='' libdir='' mandir='' includedir='' systemdsystemunitdir=''
eval "$(meson introspect --buildoptions "$PSOCK_BUILD_ROOT" | python3 -c '
import json, shlex, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
for k in ("prefix", "sbindir", "libdir", "mandir", "includedir",
          "systemdsystemunitdir"):
    print("%s=%s" % (k, shlex.quote(str(o[k]))))')" ||
  fail "cannot read this build's options"
unitdir=$systemdsystemunitdir
# pc VAR DEFINE FALLBACK: a variable of systemd.pc with one variable
# defined as systemd/meson.build does, or FALLBACK without systemd.pc.
pc() {
  local v
  v=$(pkg-config --define-variable="$2=$prefix" --variable="$1" systemd 2>/dev/null)
  echo "${v:-$prefix/$3}"
}
[ -n "$unitdir" ] || unitdir=$(pc systemdsystemunitdir root_prefix lib/systemd/system)
sysusersdir=$(pc sysusersdir prefix lib/sysusers.d)
tmpfilesdir=$(pc tmpfilesdir prefix lib/tmpfiles.d)

missing=0
for f in "$unitdir/psockd.socket" "$unitdir/psockd.service" \
  "$sysusersdir/psockd.conf" "$tmpfilesdir/psockd.conf" \
  "$prefix/$sbindir/psockd" "$prefix/$sbindir/psockctl" \
  "$prefix/$libdir/libpsock-client.so.0" "$prefix/$libdir/libpsock-client.so" \
  "$prefix/$libdir/pkgconfig/libpsock-client.pc" \
  "$prefix/$includedir/psock/psock.h" \
  "$prefix/$mandir/man8/psockd.8" "$prefix/$mandir/man5/psockd.policy.5" \
  "$prefix/$mandir/man3/libpsock-client.3"; do
  if [ -e "$STAGE$f" ]; then
    echo "    installed: $f"
  else
    echo "    MISSING: $f"
    missing=1
  fi
done
[ "$missing" -eq 0 ] || fail "meson install left out files (prefix $prefix)"
grep -qx "ExecStart=$prefix/$sbindir/psockd .*" "$STAGE$unitdir/psockd.service" ||
  fail "psockd.service does not start $prefix/$sbindir/psockd"
log "ok: meson install puts everything where it belongs (units in $unitdir)"

# A merged-/usr system around the install, for --root.
for d in bin sbin lib lib64; do
  if [ -e "$STAGE/$d" ] && [ ! -L "$STAGE/$d" ]; then
    mkdir -p "$STAGE/usr/$d"
    cp -a "$STAGE/$d/." "$STAGE/usr/$d/"
    rm -rf "${STAGE:?}/$d"
  fi
  mkdir -p "$STAGE/usr/$d"
  ln -sfn "usr/$d" "$STAGE/$d"
done
mkdir -p "$STAGE/usr/lib/systemd/system"
cp -rn /usr/lib/systemd/system/. "$STAGE/usr/lib/systemd/system/"
kill_bin=$(type -P kill) || fail "no kill(1) program (package procps)"
cp "$kill_bin" "$STAGE/usr/bin/kill"

man=--man=yes
command -v man >/dev/null || man=--man=no
out=$(MANPATH=$STAGE$prefix/$mandir systemd-analyze verify "$man" \
  --root="$STAGE" "$STAGE$unitdir/psockd.socket" "$STAGE$unitdir/psockd.service" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
  printf '%s\n' "$out" | sed 's/^/    /'
  fail "systemd-analyze verify is not silent (exit status $rc)"
fi
log "ok: systemd-analyze verify --root prints nothing ($man)"

out=$(systemd-analyze security --offline=true "$STAGE$unitdir/psockd.service" 2>&1)
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for psockd.service: \([0-9.]*\).*/\1/p')
printf '%s\n' "$out" | grep '✗' | sed 's/^/    /'
[ -n "$score" ] || {
  printf '%s\n' "$out"
  fail "no exposure level from systemd-analyze security"
}
awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }' ||
  fail "psockd.service exposure $score is above $MAX_EXPOSURE"
log "ok: systemd-analyze security: exposure $score (at most $MAX_EXPOSURE)"

out=$(systemd-sysusers --root="$STAGE" --dry-run 2>&1) || {
  printf '%s\n' "$out"
  fail "systemd-sysusers refuses the entries"
}
if ! grep -q "user 'psockd'" <<<"$out" || ! grep -q "group 'psock'" <<<"$out"; then
  printf '%s\n' "$out"
  fail "systemd-sysusers does not create the psockd user and psock group"
fi
log "ok: systemd-sysusers creates the user psockd and the group psock"
if ! out=$(systemd-tmpfiles --root="$STAGE" --create "$STAGE$tmpfilesdir/psockd.conf" 2>&1) ||
  [ ! -d "$STAGE/run/psockd" ] || [ ! -d "$STAGE/etc/psockd" ]; then
  printf '%s\n' "$out"
  fail "systemd-tmpfiles does not create /run/psockd and /etc/psockd"
fi
log "ok: systemd-tmpfiles creates /run/psockd and /etc/psockd"
log "PASS"
