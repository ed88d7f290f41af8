/* SPDX-License-Identifier: MIT */
/*
 * privproto: the fixed checks both sides of the psockd-priv channel apply
 * (see privproto.h). The worker runs them before it asks, so an honest
 * worker never sends a request that would end its channel; psockd-priv
 * runs them on everything it receives.
 *
 * Trust boundary: pure functions over a fixed-size struct.
 */
#include "privproto.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <string.h>

#include "sockopts.h"

int privproto_socket_needs_priv(int family, int type, int proto) {
  type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  /* IP protocols are 8 bits; AF_PACKET takes a 16-bit ethertype. */
  if ((family == AF_INET || family == AF_INET6) && type == SOCK_RAW)
    return proto >= 0 && proto <= 0xff;
  if (family == AF_PACKET &&
      (type == SOCK_RAW || type == SOCK_DGRAM || type == SOCK_PACKET))
    return proto >= 0 && proto <= 0xffff;
  return 0;
}

static int validate_socket(const struct priv_request *r, int fd_family) {
  if (fd_family >= 0 || r->len != 0 || (r->type & SOCK_CLOEXEC))
    return -EPROTO;
  return privproto_socket_needs_priv(r->family, r->type, r->proto) ? 0
                                                                   : -EPROTO;
}

static int validate_bind(const struct priv_request *r, int fd_family) {
  sa_family_t sa_family;

  if (fd_family < 0 || r->len < sizeof(sa_family_t))
    return -EPROTO;
  memcpy(&sa_family, r->data, sizeof(sa_family));
  if (sa_family != fd_family)
    return -EPROTO;
  if (fd_family == AF_INET && r->len == sizeof(struct sockaddr_in))
    return 0;
  if (fd_family == AF_INET6 && r->len == sizeof(struct sockaddr_in6))
    return 0;
  return -EPROTO;
}

static int validate_setsockopt(const struct priv_request *r, int fd_family) {
  const struct sockopt *o = sockopt_lookup(r->level, r->optname);

  /* An option whose privileged form can load a kernel module
   * (TCP_CONGESTION with a name the host has not loaded) is not set here:
   * psockd-priv cannot tell which names are loaded. */
  if (fd_family < 0 || sockopt_check_set(o, r->data, r->len) < 0 ||
      !sockopt_may_need_privilege(o, r->data, r->len) ||
      (o->flags & SOCKOPT_F_MODULE))
    return -EPROTO;
  return 0;
}

int privproto_validate(const struct priv_request *req, int fd_family) {
  if (req->len > PRIV_DATA_MAX)
    return -EPROTO;
  switch (req->op) {
  case PRIV_OP_SOCKET:
    return validate_socket(req, fd_family);
  case PRIV_OP_BIND:
    return validate_bind(req, fd_family);
  case PRIV_OP_SETSOCKOPT:
    return validate_setsockopt(req, fd_family);
  default:
    return -EPROTO;
  }
}
