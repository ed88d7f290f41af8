#!/usr/bin/env bash
# System test: AF_TIPC end to end, on a kernel that has it.
#
# The machines' own kernel has no AF_TIPC, so this boots Debian's stock
# kernel (package linux-image-amd64) under qemu with software emulation
# (TCG) and a tiny initramfs: busybox, tipc.ko and the modules it needs,
# psockd and psock-tipc-client from a --prefix=/usr build (dynamically
# linked: the shared libraries they load and the dynamic loader are copied
# in; Debian ships no static libsystemd), a policy that gives TIPC sockets
# to group 1000 only, and an init script. In the VM psockd runs as root
# (its roles as the psockd user); the client runs once as uid 1001 (refused
# by the policy) and once as uid 1000, and prints a "PSOCK-TIPC: ... ok"
# line per check; the init script powers off and this script reads the
# serial console.
#
# Skipped (exit 77) with the reason where qemu, busybox-static, cpio or a
# kernel with tipc.ko is missing. About 10 s a run.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"

VM_TIMEOUT=${PSOCK_TIPC_VM_TIMEOUT:-120}

need_cmd qemu-system-x86_64 qemu-system-x86
need_cmd cpio cpio
need_cmd ldd libc-bin
need_cmd cc gcc
need_cmd pkg-config pkg-config
[ "$(uname -m)" = x86_64 ] || skip "needs an x86_64 host (found $(uname -m))"
BUSYBOX=/bin/busybox
if [ ! -x "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
  skip "no statically linked $BUSYBOX (package busybox-static)"
fi

# Debian's newest kernel that has a TIPC module.
KVER=
for k in $(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' 2>/dev/null |
  sed 's|^vmlinuz-||' | sort -rV); do
  if [ -r "/boot/vmlinuz-$k" ] &&
    grep -q '^kernel/net/tipc/tipc\.ko' "/lib/modules/$k/modules.dep" 2>/dev/null; then
    KVER=$k
    break
  fi
done
[ -n "$KVER" ] ||
  skip "no readable /boot/vmlinuz-* with a tipc module (package linux-image-amd64)"
KERNEL=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER

RUN=$(mktemp -d /tmp/psock-tipc.XXXXXX) || fail "mktemp"
trap 'rm -rf "$RUN"' EXIT
trap 'exit 1' TERM INT HUP
STAGE=$RUN/stage
IRD=$RUN/initramfs

log "building psock with --prefix=/usr in $PSOCK_SYSTEM_BUILD"
build_and_install "$STAGE"
mkdir -p "$STAGE/usr/bin"
cc_against "$STAGE" "$STAGE/usr/bin/psock-tipc-client" "$HERE/psock-tipc-client.c"

# ----------------------------------------------------------- initramfs

mkdir -p "$IRD"/{bin,dev,proc,sys,run,tmp,etc/psockd,usr/sbin,usr/bin,lib64} \
  "$IRD/lib/x86_64-linux-gnu" "$IRD/modules"
cp "$BUSYBOX" "$IRD/bin/busybox"
cp "$STAGE/usr/sbin/psockd" "$IRD/usr/sbin/"
cp "$STAGE/usr/bin/psock-tipc-client" "$IRD/usr/bin/"

# The shared libraries both load, and the dynamic loader.
libdir=$(dirname "$(find "$STAGE/usr/lib" -name 'libpsock-client.so.0' -print -quit)")
for bin in "$IRD/usr/sbin/psockd" "$IRD/usr/bin/psock-tipc-client"; do
  LD_LIBRARY_PATH=$libdir ldd "$bin" >"$RUN/ldd.txt" ||
    fail "ldd $bin failed"
  grep -q 'not found' "$RUN/ldd.txt" && {
    cat "$RUN/ldd.txt"
    fail "a library of $bin is missing"
  }
  for lib in $(sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p' "$RUN/ldd.txt"); do
    cp -L "$lib" "$IRD/lib/x86_64-linux-gnu/"
  done
  loader=$(sed -n 's/^[[:space:]]*\(\/[^ ]*ld-linux[^ ]*\) .*/\1/p' "$RUN/ldd.txt")
  [ -n "$loader" ] || fail "no dynamic loader in ldd $bin"
  cp -L "$loader" "$IRD/lib64/"
done

# tipc.ko and what it needs, in load order (modules.dep lists a module's
# dependencies with the deepest last).
deps=$(sed -n 's|^kernel/net/tipc/tipc\.ko[^:]*:||p' "$MODDIR/modules.dep")
order=
for m in $deps; do order="$m $order"; done
order="$order $(sed -n 's|^\(kernel/net/tipc/tipc\.ko[^:]*\):.*|\1|p' "$MODDIR/modules.dep")"
insmods=
for m in $order; do
  name=$(basename "$m")
  case $name in
  *.ko) cp "$MODDIR/$m" "$IRD/modules/$name" ;;
  *.ko.xz) xz -dc "$MODDIR/$m" >"$IRD/modules/${name%.xz}" ;;
  *.ko.zst) zstd -qdc "$MODDIR/$m" >"$IRD/modules/${name%.zst}" ;;
  *.ko.gz) gzip -dc "$MODDIR/$m" >"$IRD/modules/${name%.gz}" ;;
  *) fail "unknown module file $m" ;;
  esac || fail "cannot unpack $m"
  insmods="$insmods ${name%.ko*}.ko"
done

cat >"$IRD/etc/passwd" <<'EOF'
root:x:0:0:root:/:/bin/sh
psockd:x:101:101:psock socket broker:/:/bin/false
tipc:x:1000:1000:TIPC user:/:/bin/sh
other:x:1001:1001:another user:/:/bin/sh
nobody:x:65534:65534:nobody:/:/bin/false
EOF
cat >"$IRD/etc/group" <<'EOF'
root:x:0:
psockd:x:101:
tipc:x:1000:
other:x:1001:
nogroup:x:65534:
EOF
# psockd's standard policy file: TIPC for gid 1000 (group tipc) only.
cat >"$IRD/etc/psockd/policy.conf" <<'EOF'
allow uid=0 all
allow gid=1000 socket family=tipc type=rdm,seqpacket,stream proto=any
allow gid=1000 bind,connect,sendto,listen family=tipc
EOF
"$PSOCK_SYSTEM_BUILD/daemon/psockd" --check-config \
  --policy "$IRD/etc/psockd/policy.conf" >/dev/null ||
  fail "the VM's policy does not parse"

cat >"$IRD/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
# As on any systemd machine: with no cgroup hierarchy mounted at all,
# /proc/PID/cgroup is empty and psockd cannot tell a client's unit.
mkdir -p /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "PSOCK-TIPC: booted \$(uname -r)"
for m in $insmods; do
  insmod /modules/\$m || echo "PSOCK-TIPC: FAIL insmod \$m"
done
grep -q '^tipc ' /proc/modules && echo "PSOCK-TIPC: module ok"
ip link set lo up
# Clients of two users: the socket open to all, the policy decides.
/usr/sbin/psockd --socket /run/psockd/psockd.sock --socket-mode 0666 --workers 1 >/tmp/psockd.log 2>&1 &
pid=\$!
i=0
while [ ! -S /run/psockd/psockd.sock ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
export PSOCK_SOCKET=/run/psockd/psockd.sock
psock-tipc-client --uid 1001 --gid 1001 --groups 1001 deny
psock-tipc-client --uid 1000 --gid 1000 --groups 1000 all
kill -TERM \$pid
wait \$pid
echo "PSOCK-TIPC: psockd exit status \$?"
sed 's/^/psockd: /' /tmp/psockd.log
echo "PSOCK-TIPC: done"
poweroff -f
EOF
chmod 0755 "$IRD/init"
(cd "$IRD" && find . | cpio -o -H newc --quiet | gzip -1) >"$RUN/initrd.gz" ||
  fail "cannot pack the initramfs"
log "initramfs: $(du -h "$RUN/initrd.gz" | cut -f1) with kernel $KVER modules:$insmods"

# ------------------------------------------------------------------ VM

log "booting $KERNEL under qemu (TCG)"
timeout -s KILL "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -m 512 -smp 1 \
  -nographic -no-reboot -kernel "$KERNEL" -initrd "$RUN/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1 rdinit=/init" -nic none \
  </dev/null >"$RUN/serial.log" 2>&1
rc=$?
tr -d '\r' <"$RUN/serial.log" | grep -E '^(PSOCK-TIPC|psockd):' | sed 's/^/    /'
[ "$rc" -eq 0 ] || {
  tail -n 30 "$RUN/serial.log"
  fail "qemu ended with status $rc (137: killed after $VM_TIMEOUT s)"
}
out=$(tr -d '\r' <"$RUN/serial.log")
grep -q 'PSOCK-TIPC: done' <<<"$out" || {
  tail -n 30 "$RUN/serial.log"
  fail "the VM did not finish its script"
}
for check in "module ok" "deny ok" "rdm ok" "seqpacket ok" "stream ok" \
  "psockd exit status 0"; do
  grep -q "^PSOCK-TIPC: $check" <<<"$out" || fail "no 'PSOCK-TIPC: $check' line"
  log "ok: $check"
done
! grep -q '^PSOCK-TIPC: FAIL' <<<"$out" || fail "a check failed in the VM"
log "PASS"
