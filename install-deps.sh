#!/usr/bin/env bash
# Install (as root, with apt-get) everything psock needs to build and test:
# compilers and build tools, the libraries it links, cmocka, the sanitizer
# runtimes, and the tools the tests and demo use (unshare, setpriv, ip).
# Does nothing when every package is already installed. Non-interactive.
set -euo pipefail

packages=(
  meson ninja-build pkg-config gcc clang
  protobuf-c-compiler libprotobuf-c-dev
  libsystemd-dev libcmocka-dev libseccomp-dev libcap-ng-dev
  systemd iproute2 util-linux
  libclang-rt-14-dev clang-format
  # /etc/services and /etc/protocols: getservbyname("http", "tcp") == 80,
  # getprotobyname("icmp") == 1 in the API tests (minimal images lack them)
  netbase
  # Unmodified programs that test_psock_run runs through psock-run
  curl iputils-ping python3 socat
  # ... and compares with native runs as the same user (issue 14):
  # iperf3 --bind-dev and nmap -sT -e (SO_BINDTODEVICE), traceroute -T (a
  # raw TCP socket); hostname -I and ss -tln come from hostname and iproute2
  iperf3 nmap traceroute hostname
  # NSS modules that make system calls of their own, in the name-service
  # test of issue 13 (libnss-resolve: unpacked below, not installed)
  libnss-myhostname
  # psock-run --mode=seccomp (test_psock_run_seccomp): Go programs built
  # offline in the test (static and with cgo), bubblewrap for the sandbox
  # a Flatpak app runs in; busybox-static (below) is its static C program
  golang-go bubblewrap
  # tests/system: a container with systemd as PID 1 (debootstrap; kill(1)
  # for ExecReload=, checked by systemd-analyze verify), and a qemu VM with
  # Debian's kernel for AF_TIPC (busybox, cpio for its initramfs)
  debootstrap procps
  qemu-system-x86 linux-image-amd64 busybox-static cpio
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

# libnss-resolve depends on systemd-resolved, which on installation takes
# over /etc/resolv.conf: name resolution breaks on a host whose init is not
# systemd. The test needs only the module: it is unpacked into a cache
# that test_attacks_users_nss overlays on the library directory in a mount
# namespace of its own.
nss_cache=/var/cache/psock-test/nss-resolve
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
want_nss_resolve() {
  [ ! -e "/usr/lib/$multiarch/libnss_resolve.so.2" ] &&
    [ ! -e "$nss_cache/usr/lib/$multiarch/libnss_resolve.so.2" ]
}

if [ "${#missing[@]}" -eq 0 ] && ! want_nss_resolve; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]} libnss-resolve (unpacked);" \
    "run as root to install" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi
if want_nss_resolve; then
  echo "install-deps: unpacking libnss-resolve into $nss_cache"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -q libnss-resolve </dev/null 2>&1 |
    grep -v "couldn't be accessed by user '_apt'" || true)
  mkdir -p "$nss_cache"
  dpkg-deb -x "$tmp"/libnss-resolve_*.deb "$nss_cache"
  rm -rf "$tmp"
fi
