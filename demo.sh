#!/usr/bin/env bash
# The main job on built-in defaults: install what is missing, build, start
# psockd as root on a temporary socket, and run the demo client as nobody
# inside an empty network namespace (only lo, down), where the only way to
# the network is through psockd. Exits with the demo's status.
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

sock="$dir/psockd.sock"
build/daemon/psockd --socket "$sock" --verbose </dev/null 2>"$dir/psockd.log" &
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
