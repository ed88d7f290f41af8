#!/usr/bin/env bash
# The main job on built-in defaults: install what is missing, build, start
# psockd as root on a temporary socket (reachable by the group nogroup
# only), and run the demo client as nobody inside an empty network
# namespace (only lo, down), where the only way to the network is through
# psockd. Exits with the demo's status.
set -euo pipefail
cd "$(dirname "$0")"

./install-deps.sh
[ -f build/build.ninja ] || meson setup build </dev/null
meson compile -C build psockd psock-demo </dev/null

# Everything nobody must reach lives in a fresh 0755 directory under /tmp:
# the checkout may sit where nobody cannot enter (/root, mode 0700).
dir=$(mktemp -d /tmp/psock-demo.XXXXXX)
chmod 0755 "$dir"
psockd_pid=
cleanup() {
  if [ -n "$psockd_pid" ] && kill -0 "$psockd_pid" 2>/dev/null; then
    kill -TERM "$psockd_pid"
    wait "$psockd_pid" || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

# ICMP echo for everyone goes through ping sockets, which the kernel gives
# only to groups in net.ipv4.ping_group_range: Debian with systemd sets
# "0 2147483647". Where the host leaves nogroup out (the kernel's own
# default "1 0"), psockd runs in a network namespace of its own, set up as
# such a host is: lo up, the full range. The host's setting is not touched.
sock="$dir/psockd.sock"
psockd=(build/daemon/psockd --socket "$sock" --socket-group nogroup
  --socket-mode 0660 --verbose)
read -r lo hi </proc/sys/net/ipv4/ping_group_range
nogroup=$(getent group nogroup | cut -d: -f3)
if [ "$nogroup" -ge "$lo" ] && [ "$nogroup" -le "$hi" ]; then
  "${psockd[@]}" </dev/null 2>"$dir/psockd.log" &
else
  echo "demo: net.ipv4.ping_group_range is \"$lo $hi\" here (no ping sockets"
  echo "demo: for nogroup): psockd gets a network namespace of its own"
  unshare -n sh -c 'ip link set lo up &&
    echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range &&
    exec "$0" "$@"' "${psockd[@]}" </dev/null 2>"$dir/psockd.log" &
fi
psockd_pid=$!
# psockd logs "ready" once it accepts connections.
ready() { [ -S "$sock" ] && grep -q 'psockd: .*ready' "$dir/psockd.log"; }
for _ in $(seq 100); do
  ready && break
  kill -0 "$psockd_pid" 2>/dev/null || break
  sleep 0.05
done
if ! ready; then
  echo "demo: psockd did not start; its log:" >&2
  cat "$dir/psockd.log" >&2
  exit 1
fi

install -m 0755 build/tests/demo/psock-demo "$dir/"
for lib in build/client/libpsock-client.so*; do
  [ -f "$lib" ] && install -m 0755 "$lib" "$dir/" # follows the symlinks
done

echo "demo: psockd (pid $psockd_pid) listens on $sock"
echo "demo: running psock-demo as nobody in an empty network namespace"
echo
status=0
unshare -n setpriv --reuid=nobody --regid=nogroup --clear-groups \
  env PSOCK_SOCKET="$sock" LD_LIBRARY_PATH="$dir" "$dir/psock-demo" \
  </dev/null || status=$?

kill -TERM "$psockd_pid"
wait "$psockd_pid" || echo "demo: psockd exited with status $?" >&2
psockd_pid=
echo
echo "demo: psockd's log:"
cat "$dir/psockd.log"
echo
if [ "$status" -eq 0 ]; then
  echo "demo: passed"
else
  echo "demo: psock-demo failed (status $status)"
fi
exit "$status"
