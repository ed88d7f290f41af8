/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the fixed checks on psockd-priv's channel
 * (privproto_validate() and privproto_socket_needs_priv() in
 * daemon/privproto.c): psockd-priv runs them on every request a worker
 * sends, the worker before it asks. Any bytes as a struct priv_request,
 * with the SO_DOMAIN of a real fd of a fuzzer-chosen kind, of no fd, or a
 * family number as is. Nothing is performed: privserve.c is not linked.
 * Input format: tests/fuzz/fuzz.h.
 *
 * Oracle, besides the sanitizers: the decision is the contract of
 * privproto.h and docs/security.md, restated here on its own terms (it
 * reads the shared option table, proto/sockopts.h, as data, and none of
 * its functions):
 *  - socket: no fd, no data, no SOCK_CLOEXEC in the type; inet or inet6
 *    SOCK_RAW with an 8-bit protocol, or packet SOCK_RAW or SOCK_DGRAM
 *    with a 16-bit one (SOCK_NONBLOCK may come with either);
 *  - bind: of an inet or inet6 socket, to an address of the socket's own
 *    family, of exactly that family's sockaddr size;
 *  - setsockopt: on a socket, of an option the table lists and psockd
 *    sets at all (not SOCKOPT_F_NEVER, a size bound), with a value of a
 *    size the table allows, that may need privilege for this value, and
 *    never one flagged SOCKOPT_F_MODULE;
 *  - anything else, and more data than PRIV_DATA_MAX: -EPROTO.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "sockopts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int make_fd(unsigned kind) {
  int fd = -1, sv[2];

  switch (kind) {
  case FUZZ_FD_UNIX_STREAM:
  case FUZZ_FD_UNIX_DGRAM:
    if (socketpair(AF_UNIX,
                   (kind == FUZZ_FD_UNIX_STREAM ? SOCK_STREAM : SOCK_DGRAM) |
                       SOCK_CLOEXEC,
                   0, sv) == 0) {
      close(sv[1]);
      fd = sv[0];
    }
    break;
  case FUZZ_FD_UDP:
  case FUZZ_FD_TCP:
    fd = socket(AF_INET,
                (kind == FUZZ_FD_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
                0);
    break;
  case FUZZ_FD_UDP6:
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
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
    break;
  }
  return fd;
}

/* What the worker passes: the socket's SO_DOMAIN, -1 for no socket. */
static int family_of(int fd) {
  int v;
  socklen_t len = sizeof(v);

  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0)
    return -1;
  return v;
}

/* ----------------------------------------------------- the contract */

static bool contract_socket_needs_priv(int family, int type, int proto) {
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

  if (family == AF_INET || family == AF_INET6)
    return base == SOCK_RAW && proto >= 0 && proto <= 0xff;
  if (family == AF_PACKET) /* SOCK_PACKET: what AF_INET's becomes */
    return (base == SOCK_RAW || base == SOCK_DGRAM || base == SOCK_PACKET) &&
           proto >= 0 && proto <= 0xffff;
  return false;
}

static const struct sockopt *table_entry(int level, int optname) {
  for (size_t i = 0; i < sockopt_count(); i++) {
    const struct sockopt *o = sockopt_at(i);
    if (o->level == level && o->optname == optname)
      return o;
  }
  return NULL;
}

/* The int a by-value rule judges: the first int, or the first byte of a
 * shorter value; none for an empty one (then privilege may be needed). */
static bool value_needs_priv(const struct sockopt *o, const uint8_t *val,
                             uint32_t len) {
  int v;

  switch (o->rule) {
  case SOCKOPT_FREE:
    return false;
  case SOCKOPT_BY_VALUE:
    if (o->value == SOCKOPT_STRING || len == 0)
      return true;
    if (len >= sizeof(int))
      memcpy(&v, val, sizeof(int));
    else
      v = val[0];
    return v < o->free_min || v > o->free_max;
  default: /* privileged, by state */
    return true;
  }
}

static bool contract_allows(const struct priv_request *r, int family) {
  const struct sockopt *o;
  uint16_t sa_family;

  if (r->len > PRIV_DATA_MAX)
    return false;
  switch (r->op) {
  case PRIV_OP_SOCKET:
    return family < 0 && r->len == 0 && !(r->type & SOCK_CLOEXEC) &&
           contract_socket_needs_priv(r->family, r->type, r->proto);
  case PRIV_OP_BIND:
    if (family < 0 || r->len < sizeof(sa_family))
      return false;
    memcpy(&sa_family, r->data, sizeof(sa_family));
    return sa_family == family &&
           ((family == AF_INET && r->len == sizeof(struct sockaddr_in)) ||
            (family == AF_INET6 && r->len == sizeof(struct sockaddr_in6)));
  case PRIV_OP_SETSOCKOPT:
    o = table_entry(r->level, r->optname);
    return family >= 0 && o && !(o->flags & SOCKOPT_F_NEVER) &&
           o->max_len > 0 && r->len >= o->min_len && r->len <= o->max_len &&
           !(o->flags & SOCKOPT_F_MODULE) &&
           value_needs_priv(o, r->data, r->len);
  default:
    return false;
  }
}

/* --------------------------------------------------------------- input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct priv_request req;
  unsigned kind = FUZZ_FD_NONE;
  int fd = -1, family = -1, r;

  memset(&req, 0, sizeof(req));
  memcpy(&req, data, size < sizeof(req) ? size : sizeof(req));
  if (size > sizeof(req))
    kind = data[sizeof(req)];
  if (kind < FUZZ_FD_N_KINDS)
    family = family_of(fd = make_fd(kind));
  else if (kind > FUZZ_FD_NONE)
    family = (int)kind - (FUZZ_FD_NONE + 2); /* -1 .. 245, as is */
  r = privproto_validate(&req, family);
  if (r != 0 && r != -EPROTO)
    abort(); /* the only refusal there is */
  if ((r == 0) != contract_allows(&req, family))
    abort();
  if (!!privproto_socket_needs_priv(req.family, req.type, req.proto) !=
      contract_socket_needs_priv(req.family, req.type, req.proto))
    abort();
  if (fd >= 0)
    close(fd);
  return 0;
}
