/* SPDX-License-Identifier: MIT */
/*
 * kcheck: the kernel's address checks before bind() and connect() (see
 * kcheck.h), as net/socket.c, net/ipv4/af_inet.c, net/ipv6/tcp_ipv6.c
 * and net/netlink/af_netlink.c make them.
 */
#include "kcheck.h"

#include <errno.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/un.h>

/* The shortest sockaddr_in6 the kernel accepts (no sin6_scope_id). */
#define SIN6_LEN_RFC2133 24

int kcheck_addr(enum kcheck_call call, int family, int type,
                struct sockaddr_storage *ss, socklen_t *len) {
  sa_family_t af = ss->ss_family;

  switch (family) {
  case AF_INET:
    if (*len < sizeof(struct sockaddr_in))
      return -EINVAL;
    if (af == AF_INET)
      return 0;
    /* inet_bind(): an AF_UNSPEC INADDR_ANY is taken as AF_INET. */
    if (call == KCHECK_BIND && af == AF_UNSPEC &&
        ((struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY)) {
      ss->ss_family = AF_INET;
      return 0;
    }
    return -EAFNOSUPPORT;
  case AF_INET6:
    /* An IPv6 datagram socket connects to an IPv4 address itself. */
    if (call == KCHECK_CONNECT && af == AF_INET &&
        (type & KCHECK_TYPE_BITS) != SOCK_STREAM)
      return *len < sizeof(struct sockaddr_in) ? -EINVAL : 0;
    if (*len < SIN6_LEN_RFC2133)
      return -EINVAL;
    if (af != AF_INET6)
      return -EAFNOSUPPORT;
    /* No sin6_scope_id: it is 0 (ss is zero-filled). */
    if (*len < sizeof(struct sockaddr_in6))
      *len = sizeof(struct sockaddr_in6);
    return 0;
  case AF_NETLINK:
    if (call == KCHECK_CONNECT && af != AF_NETLINK)
      return -EINVAL;
    if (*len < sizeof(struct sockaddr_nl))
      return -EINVAL;
    return af == AF_NETLINK ? 0 : -EINVAL;
  default:
    if (*len < sizeof(sa_family_t))
      return -EINVAL;
    return 0;
  }
}

bool kcheck_unix_abstract(const struct sockaddr_storage *ss, socklen_t len) {
  return ss->ss_family == AF_UNIX &&
         len > offsetof(struct sockaddr_un, sun_path) &&
         ((const struct sockaddr_un *)ss)->sun_path[0] == '\0';
}
