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

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root to install" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
