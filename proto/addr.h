/* SPDX-License-Identifier: MIT */
/*
 * addr: the psock.v1.Address <-> struct sockaddr codec for every family the
 * protocol knows (AF_UNIX path and abstract, AF_INET, AF_INET6, AF_NETLINK,
 * AF_TIPC).
 *
 * Trust boundary: the Address handed to addr_to_sockaddr() comes straight
 * from a decoded client packet. Every field is range-checked here: a unix
 * path that does not fit sun_path or holds a NUL, a port above 65535, a
 * host that is not a numeric address, a TIPC type or scope outside the
 * kernel's values are all refused before any sockaddr is built.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "psock.pb-c.h"

/* Host string meaning INADDR_BROADCAST (seed: '<broadcast>'). */
#define ADDR_BROADCAST_HOST "<broadcast>"

/*
 * Storage for an Address built by addr_from_sockaddr() without allocation:
 * the Address and every sub-message and string it points to live here.
 */
struct addr_buf {
  Psock__V1__Address addr;
  union {
    Psock__V1__InetAddress inet;
    Psock__V1__Inet6Address inet6;
    Psock__V1__NetlinkAddress netlink;
    Psock__V1__TipcAddress tipc;
  } u;
  char host[64];
  uint8_t path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* The AF_* family an Address describes, or AF_UNSPEC if none is set. */
int addr_family(const Psock__V1__Address *a);

/*
 * True if a is an inet/inet6 address whose host is a name that must be
 * resolved first (not numeric, not "" and not "<broadcast>").
 */
bool addr_needs_lookup(const Psock__V1__Address *a);

/*
 * Build the sockaddr for a. Returns 0 and sets *ret_len, or
 * -EAFNOSUPPORT (no address set), -EINVAL (a field out of range, a NUL in
 * a unix path, "<broadcast>" for inet6), -ENAMETOOLONG (unix path or
 * abstract name longer than sun_path allows), -ENOENT (host is a name:
 * see addr_needs_lookup()). ss and *ret_len are untouched on failure.
 * TIPC fields map as in CPython's socket module, except that v3 of a
 * TIPC_ADDR_NAME is the lookup domain (CPython ignores it); absent scope is
 * TIPC_CLUSTER_SCOPE.
 */
int addr_to_sockaddr(const Psock__V1__Address *a, struct sockaddr_storage *ss,
                     socklen_t *ret_len);

/*
 * Describe sa (len bytes) as an Address stored in buf; returns &buf->addr
 * through *ret. Returns 0, -EAFNOSUPPORT for a family the protocol does not
 * carry, -EINVAL if len is too short for the family (or an unknown TIPC
 * address type). Optional fields are always set, except a TIPC scope of 0
 * (what getsockname() reports), which is left absent.
 */
int addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                       struct addr_buf *buf, Psock__V1__Address **ret);

/*
 * Write a short printable form of a into out (for logs and policy
 * explanations): "inet:127.0.0.1:80", "unix:/path", "unix-abstract:name",
 * "inet6:[::1]:80%0", "netlink:0:0", "tipc:2:1000:1:1", "none" when no
 * address is set. Bytes outside printable ASCII and the backslash appear as
 * \xNN. Never fails; truncates to outlen.
 */
void addr_format(const Psock__V1__Address *a, char *out, size_t outlen);
