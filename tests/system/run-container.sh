#!/usr/bin/env bash
# System test: psockd under a real systemd, as PID 1 of a container.
#
# Boots Debian's systemd in new PID, mount, UTS, IPC and cgroup namespaces
# on a cached debootstrap tree (docs: shared/design/TESTING.md), installs
# psock into the running system with `meson install --destdir` from a
# --prefix=/usr build, follows the README's "Running under systemd" steps
# (systemd-sysusers, systemd-tmpfiles, daemon-reload, enable --now
# psockd.socket, usermod -aG psock), and checks: socket activation by an
# unprivileged client in group psock (and a user outside the group refused
# by the socket's mode), a socket from psockd used by that client (a small
# program built against the installed library, run as a transient service
# of that user), `systemctl status`, a structured audit record in the
# journal, the hardening of the running processes (/proc/PID/status),
# `systemctl reload` with a new policy, and a clean `systemctl stop`.
#
# Needs root, debootstrap and working namespaces; otherwise it is skipped
# (exit 77) with the reason. The root file system is built once (about a
# minute, 250 MB) under $PSOCK_TEST_CACHE (/var/cache/psock-test) and each
# run works on an overlay of it, so reruns take a few seconds.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

# The container is killed after this long, whatever happens.
CONTAINER_LIFETIME=${PSOCK_CONTAINER_LIFETIME:-150}
SUITE=bookworm
INCLUDE=systemd,systemd-sysv,dbus,procps,libprotobuf-c1,libseccomp2,libcap-ng0
RECIPE="$SUITE minbase $INCLUDE v1"
ROOTFS=$PSOCK_TEST_CACHE/rootfs

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, namespaces, chroot)"
need_cmd debootstrap debootstrap
need_cmd unshare util-linux
need_cmd nsenter util-linux
need_cmd flock util-linux
need_cmd script bsdutils
need_cmd timeout coreutils
need_cmd cc gcc
need_cmd pkg-config pkg-config

# The whole test runs in a private mount namespace: the overlay and every
# mount of the container go away with it, however the test ends.
if [ -z "${PSOCK_SYSTEST_PRIVATE:-}" ]; then
  unshare --mount --pid --fork --cgroup --uts --ipc true 2>/dev/null ||
    skip "unshare cannot create mount/PID/cgroup/UTS/IPC namespaces here"
  PSOCK_SYSTEST_PRIVATE=1 exec unshare --mount --propagation private "$0" "$@"
fi

# ------------------------------------------------------------ root fs

debian_mirror() {
  local m
  m=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources \
    2>/dev/null | grep -v security | head -n 1)
  echo "${m:-http://deb.debian.org/debian}"
}

ensure_rootfs() {
  local mirror
  mkdir -p "$PSOCK_TEST_CACHE" || fail "cannot create $PSOCK_TEST_CACHE"
  exec 9>"$PSOCK_TEST_CACHE/rootfs.lock"
  flock -w 900 9 || fail "another run holds $PSOCK_TEST_CACHE/rootfs.lock"
  if [ "$(cat "$ROOTFS/.psock-recipe" 2>/dev/null)" = "$RECIPE" ]; then
    log "root file system: cached in $ROOTFS"
  else
    mirror=$(debian_mirror)
    log "root file system: debootstrap $SUITE from $mirror into $ROOTFS" \
      "(first run only: about a minute)"
    rm -rf "$ROOTFS" "$ROOTFS.new"
    timeout 1200 debootstrap --variant=minbase --include="$INCLUDE" \
      "$SUITE" "$ROOTFS.new" "$mirror" \
      >"$PSOCK_TEST_CACHE/debootstrap.log" 2>&1 || {
      tail -n 15 "$PSOCK_TEST_CACHE/debootstrap.log"
      rm -rf "$ROOTFS.new"
      skip "debootstrap from $mirror failed (see $PSOCK_TEST_CACHE/debootstrap.log)"
    }
    echo "$RECIPE" >"$ROOTFS.new/.psock-recipe"
    mv "$ROOTFS.new" "$ROOTFS" || fail "cannot move the new root into place"
    log "root file system: built"
  fi
  exec 9>&-
}

# ---------------------------------------------------- the container

RUN=
ROOT=
PID1=
CT_JOB=

# in_ct [-t SECONDS] CMD...: run CMD in the container (its namespaces, root
# and cwd) with a clean environment, bounded (30 s by default).
in_ct() {
  local t=30
  if [ "$1" = -t ]; then
    t=$2
    shift 2
  fi
  timeout -s KILL "$t" nsenter -t "$PID1" -a -r -w \
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 TERM=dumb "$@"
}

# as_user USER ARGS...: psock-sysclient ARGS as USER, in a transient
# service of the container's systemd (its own unit and cgroup, the user's
# groups from the group database, as any service would have).
as_user() {
  local user=$1
  shift
  in_ct systemd-run --quiet --wait --pipe --collect --uid="$user" \
    --service-type=exec /usr/local/bin/psock-sysclient "$@" </dev/null
}

write_boot_script() {
  cat >"$RUN/boot.sh" <<'EOF'
#!/bin/sh
# PID 1 of the container's new namespaces: mount what systemd needs, then
# become systemd. $1 = root, $2 = where to write our pid as the host sees it.
set -e
root=$1
read -r stat </proc/self/stat
echo "${stat%% *}" >"$2/pid1"
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
for d in null zero full random urandom tty; do
  touch "$root/dev/$d"
  mount --bind "/dev/$d" "$root/dev/$d"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
touch "$root/dev/console"
mount --bind "$(tty)" "$root/dev/console"
export container=psock-test
exec chroot "$root" /lib/systemd/systemd --log-target=journal-or-kmsg
EOF
}

boot() {
  write_boot_script
  timeout -s KILL "$CONTAINER_LIFETIME" script -qfec \
    "unshare --pid --fork --kill-child=SIGKILL --mount --uts --ipc --cgroup sh $RUN/boot.sh $ROOT $RUN" \
    "$RUN/console.log" </dev/null >/dev/null 2>&1 &
  CT_JOB=$!
  for _ in $(seq 100); do
    [ -s "$RUN/pid1" ] && break
    kill -0 "$CT_JOB" 2>/dev/null || break
    sleep 0.1
  done
  PID1=$(cat "$RUN/pid1" 2>/dev/null)
  [ -n "$PID1" ] || {
    tail -n 20 "$RUN/console.log"
    fail "the container did not start"
  }
  # systemctl needs systemd's private socket: it appears a moment later.
  for _ in $(seq 300); do
    [ -S "/proc/$PID1/root/run/systemd/private" ] && break
    kill -0 "$CT_JOB" 2>/dev/null || break
    sleep 0.1
  done
  state=$(in_ct -t 60 systemctl is-system-running --wait 2>&1)
  case $state in
  running) ;;
  degraded)
    log "note: the container's systemd is degraded:"
    in_ct systemctl --failed --no-legend
    ;;
  *)
    tail -n 30 "$RUN/console.log"
    fail "the container's systemd did not come up (state '$state')"
    ;;
  esac
  log "systemd is up in the container (host pid $PID1): $state"
}

teardown() {
  [ -n "$CT_JOB" ] || return 0
  if kill -0 "$CT_JOB" 2>/dev/null && [ -n "$PID1" ]; then
    timeout -s KILL 10 nsenter -t "$PID1" -a -r -w systemctl poweroff \
      >/dev/null 2>&1
    for _ in $(seq 100); do
      kill -0 "$CT_JOB" 2>/dev/null || break
      sleep 0.1
    done
  fi
  if kill -0 "$CT_JOB" 2>/dev/null; then
    log "the container did not power off: SIGKILL"
    [ -n "$PID1" ] && kill -KILL "$PID1" 2>/dev/null
    kill -KILL "$CT_JOB" 2>/dev/null
  fi
  wait "$CT_JOB" 2>/dev/null
  CT_JOB=
}

cleanup() {
  local rc=$?
  trap - EXIT
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$PID1" ] &&
    kill -0 "$PID1" 2>/dev/null; then
    echo "----- the container's journal (last 120 lines)"
    in_ct journalctl -b --no-pager -n 120
    echo "----- end of journal"
  fi
  teardown
  if [ -n "$RUN" ]; then
    umount -l "$ROOT" 2>/dev/null
    rm -rf "$RUN"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' TERM INT HUP

# -------------------------------------------------------------- checks

# expect NAME CMD...: run CMD (output shown), fail the test unless it
# succeeds.
expect() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/    /'
    log "ok: $name"
  else
    printf '%s\n' "$out" | sed 's/^/    /'
    fail "$name"
  fi
}

# eventually SECONDS NAME CMD...: retry CMD until it succeeds.
eventually() {
  local secs=$1 name=$2 out
  shift 2
  for _ in $(seq $((secs * 5))); do
    if out=$("$@" 2>&1); then
      [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/    /'
      log "ok: $name"
      return 0
    fi
    sleep 0.2
  done
  printf '%s\n' "$out" | sed 's/^/    /'
  fail "$name (still not so after ${secs} s)"
}

unit_prop() { # unit_prop UNIT PROPERTY
  in_ct systemctl show -p "$2" --value "$1"
}

is_state() { # is_state UNIT STATE
  local s
  s=$(in_ct systemctl is-active "$1")
  [ "$s" = "$2" ] || {
    echo "$1 is $s, not $2"
    return 1
  }
}

# The socket node as the README promises: root:psock, mode 0660.
check_socket_node() {
  local st
  st=$(in_ct stat -c '%F %U:%G %a' /run/psockd/psockd.sock) || return 1
  echo "/run/psockd/psockd.sock: $st"
  [ "$st" = "socket root:psock 660" ]
}

# The structured audit record of alice's refused AF_PACKET request.
check_audit_record() {
  local rec uid
  uid=$(in_ct id -u alice)
  rec=$(in_ct journalctl -u psockd.service -o verbose --no-pager \
    PSOCK_DECISION=deny PSOCK_UID="$uid" PSOCK_CALL=socket) || return 1
  printf '%s\n' "$rec" | grep -E '^ *(MESSAGE|PSOCK_[A-Z]+|SYSLOG_IDENTIFIER|_SYSTEMD_UNIT)=' |
    head -n 12
  printf '%s\n' "$rec" | grep -q '^ *PSOCK_ARGS=.*family=17' &&
    printf '%s\n' "$rec" | grep -q '^ *PSOCK_RULE=' &&
    printf '%s\n' "$rec" | grep -q '^ *PSOCK_UNIT=run-' &&
    printf '%s\n' "$rec" | grep -q '^ *_SYSTEMD_UNIT=psockd.service'
}

# /proc/PID/status of every process of psockd.service, with its role: the
# master holds the roles' capabilities only to hand them on (permitted and
# ambient, none effective); psockd-priv and psockd-spawn hold their own;
# workers and resolvers run as the client (alice) with none. Capability
# bits: CHOWN 0, KILL 5, SETGID 6, SETUID 7, NET_BIND_SERVICE 10,
# NET_ADMIN 12, NET_RAW 13.
check_hardening() {
  # shellcheck disable=SC2016 # the script runs in the container
  in_ct bash -c '
    fail=0
    all=00000000000034e1
    pids=$(grep -l "/psockd\.service\$" /proc/[0-9]*/cgroup | cut -d/ -f3)
    for pid in $pids; do
      args=$(tr "\0" " " </proc/$pid/cmdline)
      uid=$(id -u psockd) amb=0000000000000000
      case $args in
      *--role=priv*) role=priv eff=0000000000003401 prm=$eff ;;
      *--role=spawn*) role=spawn eff=00000000000000e0 prm=$eff ;;
      psockd-worker*) role=worker eff=0000000000000000 prm=$eff uid=$(id -u alice) ;;
      psockd-resolver*) role=resolver eff=0000000000000000 prm=$eff uid=$(id -u alice) ;;
      *) role=master eff=0000000000000000 prm=$all amb=$all ;;
      esac
      st=$(grep -E "^(Uid|CapEff|CapPrm|CapAmb|CapBnd|NoNewPrivs|Seccomp|Seccomp_filters):" /proc/$pid/status | tr -s "\t" " " | tr "\n" " ")
      echo "$role $pid: $st"
      get() { grep "^$1:" /proc/$pid/status | cut -f2; }
      ids=$(grep "^Uid:" /proc/$pid/status | cut -f2- | tr "\\t" " ")
      [ "$ids" = "$uid $uid $uid $uid" ] || { echo "  $role runs as uids $ids, want $uid"; fail=1; }
      [ "$(get CapEff)" = $eff ] || { echo "  $role: CapEff $(get CapEff), want $eff"; fail=1; }
      [ "$(get CapPrm)" = $prm ] || { echo "  $role: CapPrm $(get CapPrm), want $prm"; fail=1; }
      [ "$(get CapAmb)" = $amb ] || { echo "  $role: CapAmb $(get CapAmb), want $amb"; fail=1; }
      [ "$(get CapBnd)" = $all ] || { echo "  $role: CapBnd $(get CapBnd)"; fail=1; }
      [ "$(get NoNewPrivs)" = 1 ] || { echo "  $role: no NoNewPrivs"; fail=1; }
      [ "$(get Seccomp)" = 2 ] || { echo "  $role: no seccomp filter"; fail=1; }
      eval "n_$role=\$((n_$role + 1))"
      eval "f_$role=$(get Seccomp_filters)"
    done
    [ "${n_master:-0}" = 1 ] && [ "${n_priv:-0}" = 1 ] && [ "${n_spawn:-0}" = 1 ] &&
      [ "${n_worker:-0}" -ge 1 ] && [ "${n_resolver:-0}" = "${n_worker:-0}" ] ||
      { echo "  want 1 master, priv, spawn, workers with a resolver each: got ${n_master:-0}, ${n_priv:-0}, ${n_spawn:-0}, ${n_worker:-0}, ${n_resolver:-0}"; fail=1; }
    # Each role adds its own filter to the ones systemd installed:
    # psockd-priv and psockd-spawn one, a worker (a fork of psockd-spawn)
    # one more.
    [ "${f_priv:-0}" -gt "${f_master:-0}" ] && [ "${f_spawn:-0}" -gt "${f_master:-0}" ] &&
      [ "${f_worker:-0}" -gt "${f_spawn:-0}" ] ||
      { echo "  seccomp filters: master ${f_master:-0}, priv ${f_priv:-0}, spawn ${f_spawn:-0}, worker ${f_worker:-0}"; fail=1; }
    exit $fail'
}

write_reload_policy() {
  mkdir -p "$ROOT/etc/psockd"
  cat >"$ROOT/etc/psockd/policy.conf" <<'EOF'
# psock system test: the default policy, except that members of group
# psock may no longer have UDP sockets.
allow uid=0 all
deny group=psock socket family=inet,inet6 type=dgram
allow anyone socket family=inet,inet6 type=stream proto=0,tcp
allow anyone socket family=inet,inet6 type=dgram proto=0,udp
allow anyone socket family=netlink type=raw,dgram proto=route
allow anyone socket family=unix type=any proto=any
allow anyone connect,sendto family=inet,inet6,unix,netlink addr=any port=any
allow anyone bind family=inet,inet6,unix,netlink addr=any port=0,1024-65535
allow anyone listen family=inet,inet6,unix
allow anyone lookup,reverse
EOF
}

udp_denied_by_file() {
  local out
  out=$(as_user alice deny 2 2) || {
    echo "$out"
    return 1
  }
  echo "$out"
  case $out in *"/etc/psockd/policy.conf:"*) ;; *) return 1 ;; esac
}

journal_has() { # journal_has UNIT TEXT
  in_ct journalctl -u "$1" --no-pager -o cat | grep -F -- "$2"
}

status_ok() {
  local out rc
  out=$(in_ct systemctl status --no-pager -n 0 psockd.service)
  rc=$?
  printf '%s\n' "$out" | grep -E 'Active:|Status:'
  [ "$rc" -eq 0 ] &&
    printf '%s\n' "$out" | grep -q 'Status: ".*workers.*clients.*requests'
}

reload_logged() {
  journal_has psockd.service "Reloaded" &&
    journal_has psockd.service "SIGHUP: policy /etc/psockd/policy.conf"
}

stopped_cleanly() {
  local r s a
  r=$(unit_prop psockd.service Result)
  s=$(unit_prop psockd.service ExecMainStatus)
  a=$(unit_prop psockd.service ActiveState)
  echo "Result=$r ExecMainStatus=$s ActiveState=$a"
  [ "$r" = success ] && [ "$s" = 0 ] && [ "$a" = inactive ]
}

# Nothing of psockd's own (its uid: not systemd's messages about the unit)
# at priority warning or worse, from start to stop.
no_warnings() {
  local out
  out=$(in_ct journalctl -u psockd.service -p warning --no-pager -o cat \
    _UID="$(in_ct id -u psockd)")
  [ -z "$out" ] || {
    printf '%s\n' "$out"
    return 1
  }
}

no_user() {
  ! in_ct getent passwd "$1"
}

socket_gone() {
  ! in_ct test -e /run/psockd/psockd.sock
}

# ------------------------------------------------------------------ run

ensure_rootfs
RUN=$(mktemp -d /tmp/psock-system.XXXXXX) || fail "mktemp"
chmod 0755 "$RUN"
ROOT=$RUN/root
mkdir -p "$RUN/upper" "$RUN/work" "$ROOT"
if ! mount -t overlay overlay \
  -o "lowerdir=$ROOTFS,upperdir=$RUN/upper,workdir=$RUN/work" "$ROOT" 2>/dev/null; then
  log "no overlayfs here: copying the root file system"
  cp -a "$ROOTFS/." "$ROOT/" || fail "cannot copy $ROOTFS"
fi

# No login prompt on the console.
ln -sf /dev/null "$ROOT/etc/systemd/system/console-getty.service"

boot

# The README's "Running under systemd", on the running system.
log "building psock with --prefix=/usr in $PSOCK_SYSTEM_BUILD," \
  "installing it with meson install --destdir"
build_and_install "$ROOT"
if [ ! -f "$ROOT/usr/lib/systemd/system/psockd.service" ] ||
  [ ! -f "$ROOT/usr/lib/systemd/system/psockd.socket" ] ||
  [ ! -x "$ROOT/usr/sbin/psockd" ]; then
  fail "meson install did not put psockd and its units under /usr"
fi
mkdir -p "$ROOT/usr/local/bin"
cc_against "$ROOT" "$ROOT/usr/local/bin/psock-sysclient" "$HERE/psock-sysclient.c"
expect "no user psockd before systemd-sysusers" no_user psockd
expect "systemd-sysusers" in_ct systemd-sysusers
expect "it created the user psockd and the group psock" \
  in_ct getent passwd psockd
expect "systemd-tmpfiles --create psockd.conf" \
  in_ct systemd-tmpfiles --create psockd.conf
expect "systemctl daemon-reload" in_ct systemctl daemon-reload
expect "systemctl enable --now psockd.socket" \
  in_ct systemctl enable --now psockd.socket
expect "psockd.socket is enabled" in_ct systemctl is-enabled psockd.socket
# Test users: alice is in group psock, mallory is not.
expect "useradd alice, mallory; usermod -aG psock alice" in_ct sh -c \
  'useradd -M alice && useradd -M mallory && usermod -aG psock alice && id alice'
expect "socket node root:psock 0660" check_socket_node
expect "psockd.service not started yet" is_state psockd.service inactive

# Activation by a client, and the socket's permissions.
expect "mallory (not in group psock) cannot reach psockd" \
  as_user mallory noaccess
expect "a refused connect does not start psockd" \
  is_state psockd.service inactive
expect "alice gets a UDP socket from psockd and uses it" as_user alice udp
expect "alice's connection started psockd.service" \
  is_state psockd.service active
eventually 5 "systemctl status: active, with psockd's STATUS=" status_ok
mainpid=$(unit_prop psockd.service MainPID)

# A refused request leaves a structured audit record in the journal.
expect "alice is refused an AF_PACKET socket" as_user alice deny 17 3
eventually 5 "journal: a PSOCK_DECISION=deny record with its fields (PSOCK_UNIT read from alice's /proc/PID/cgroup)" \
  check_audit_record

expect "hardening of master, psockd-priv, psockd-spawn, workers and resolvers (/proc/PID/status)" \
  check_hardening

# Reload: a new policy file, `systemctl reload`, the new policy in force.
write_reload_policy
expect "psockctl check accepts the new policy" \
  in_ct psockctl check --policy /etc/psockd/policy.conf
expect "systemctl reload psockd" in_ct systemctl reload psockd.service
eventually 10 "the new policy refuses alice UDP" udp_denied_by_file
expect "psockd.service active after the reload" is_state psockd.service active
expect "same main process after the reload" \
  test "$(unit_prop psockd.service MainPID)" = "$mainpid"
eventually 5 "journal: systemd's Reloaded and psockd's SIGHUP line" \
  reload_logged

# Stop.
expect "systemctl stop psockd" in_ct systemctl stop psockd.service
expect "psockd.service stopped cleanly (exit 0)" stopped_cleanly
expect "psockd logged that it stopped" journal_has psockd.service "stopped"
expect "psockd logged no warning or error" no_warnings
expect "systemctl disable --now psockd.socket" \
  in_ct systemctl disable --now psockd.socket
expect "the socket node is gone" socket_gone

teardown
log "PASS"
