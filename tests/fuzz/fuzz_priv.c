/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for psockd-priv's request check (priv_validate in
 * daemon/priv.c): any bytes as a struct priv_request, with an fd of a
 * fuzzer-chosen kind (or none). priv_perform() is never called: nothing
 * here creates a privileged socket or binds anything. Input format:
 * tests/fuzz/fuzz.h.
 *
 * Oracle, besides the sanitizers: the decision must be the one the written
 * contract (privproto.h, docs/security.md) gives, restated here on its own
 * terms: socket of a listed family and type with a protocol in range and
 * no fd and no data; bind of a socket to an address of that socket's
 * family (inet or inet6) of the exact size; one of the listed options with
 * a value of its size on a socket. Anything else is -EPROTO.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "privproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int make_fd(unsigned kind, int *ret_family) {
  int fd = -1, sv[2];

  *ret_family = -1;
  switch (kind) {
  case FUZZ_FD_UNIX_STREAM:
  case FUZZ_FD_UNIX_DGRAM:
    if (socketpair(AF_UNIX,
                   (kind == FUZZ_FD_UNIX_STREAM ? SOCK_STREAM : SOCK_DGRAM) |
                       SOCK_CLOEXEC,
                   0, sv) == 0) {
      close(sv[1]);
      fd = sv[0];
      *ret_family = AF_UNIX;
    }
    break;
  case FUZZ_FD_UDP:
  case FUZZ_FD_TCP:
    fd = socket(AF_INET,
                (kind == FUZZ_FD_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
                0);
    *ret_family = AF_INET;
    break;
  case FUZZ_FD_UDP6:
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    *ret_family = AF_INET6;
    break;
  case FUZZ_FD_PIPE:
    if (pipe2(sv, O_CLOEXEC) == 0) {
      close(sv[1]);
      fd = sv[0];
    }
    break;
  case FUZZ_FD_MEMFD:
    fd = memfd_create("fuzz", MFD_CLOEXEC);
    break;
  case FUZZ_FD_DEVNULL:
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    break;
  default:
    return -1; /* FUZZ_FD_NONE */
  }
  if (fd < 0)
    *ret_family = -1;
  return fd;
}

static bool one_of(int v, const int *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (list[i] == v)
      return true;
  return false;
}

/* What privproto.h promises, written independently of priv.c. */
static bool contract_allows(const struct priv_request *r, int fd, int family) {
  static const int families[] = {AF_INET, AF_INET6, AF_PACKET, AF_NETLINK};
  static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW,
                              SOCK_SEQPACKET};
  static const struct {
    int level, optname;
    uint32_t min, max;
  } options[] = {
      {SOL_SOCKET, SO_MARK, 4, 4},
      {SOL_SOCKET, SO_PRIORITY, 4, 4},
      {SOL_SOCKET, SO_RCVBUFFORCE, 4, 4},
      {SOL_SOCKET, SO_SNDBUFFORCE, 4, 4},
      {SOL_SOCKET, SO_DEBUG, 4, 4},
      {SOL_SOCKET, SO_BINDTODEVICE, 0, IFNAMSIZ},
      {IPPROTO_IP, IP_TRANSPARENT, 4, 4},
      {IPPROTO_IPV6, IPV6_TRANSPARENT, 4, 4},
  };
  uint16_t sa_family;

  if (r->len > PRIV_DATA_MAX)
    return false;
  switch (r->op) {
  case PRIV_OP_SOCKET:
    return fd < 0 && r->len == 0 && one_of(r->family, families, 4) &&
           one_of(r->type & ~SOCK_NONBLOCK, types, 4) && r->proto >= 0 &&
           r->proto <= (r->family == AF_PACKET ? 0xffff : 0xff);
  case PRIV_OP_BIND:
    if (family < 0 || r->len < 2)
      return false;
    memcpy(&sa_family, r->data, 2);
    return sa_family == family &&
           ((family == AF_INET && r->len == sizeof(struct sockaddr_in)) ||
            (family == AF_INET6 && r->len == sizeof(struct sockaddr_in6)));
  case PRIV_OP_SETSOCKOPT:
    if (family < 0)
      return false;
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
      if (options[i].level == r->level && options[i].optname == r->optname)
        return r->len >= options[i].min && r->len <= options[i].max;
    return false;
  default:
    return false;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct priv_request req;
  int fd, family, r;
  unsigned kind = FUZZ_FD_NONE;

  memset(&req, 0, sizeof(req));
  memcpy(&req, data, size < sizeof(req) ? size : sizeof(req));
  if (size > sizeof(req))
    kind = data[sizeof(req)] % (FUZZ_FD_N_KINDS + 1);
  fd = make_fd(kind, &family);
  r = priv_validate(&req, fd);
  if (r != 0 && r != -EPROTO)
    abort(); /* the only refusal there is */
  if ((r == 0) != contract_allows(&req, fd, family))
    abort();
  if (fd >= 0)
    close(fd);
  return 0;
}
