/* SPDX-License-Identifier: MIT */
/*
 * address: the public psock_address helpers and the library's conversions
 * between psock_address, the wire's Address message and struct sockaddr.
 *
 * psock_address -> Address is built in a struct addr_buf without
 * allocation. Address -> psock_address reads what psockd sent: every length
 * and port is range-checked before it is copied into the fixed fields.
 * sockaddr -> psock_address serves the local calls (accept, recvfrom,
 * getsockname) without a protobuf detour. Pure: a host name is resolved by
 * the caller (names.c), never here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/tipc.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "address.h"
#include "error.h"

/* An abstract name is sent without the NUL that starts sun_path. */
#define ABSTRACT_MAX (PSOCK_PATH_MAX - 1)

PSOCK_EXPORT int psock_addr_inet(psock_address *a, const char *host,
                                 uint16_t port) {
  if (psock_addr_inet6(a, host, port, 0, 0) < 0)
    return -1;
  a->family = AF_INET;
  return 0;
}

PSOCK_EXPORT int psock_addr_inet6(psock_address *a, const char *host,
                                  uint16_t port, uint32_t flowinfo,
                                  uint32_t scope_id) {
  size_t n;

  if (!a || !host)
    return pc_fail(pc_error_value("NULL address or host"));
  n = strlen(host);
  if (n >= PSOCK_HOST_MAX)
    return pc_fail(pc_error_value("host name too long (%zu bytes, at most %d)",
                                  n, PSOCK_HOST_MAX - 1));
  memset(a, 0, sizeof(*a));
  a->family = AF_INET6;
  memcpy(a->u.in.host, host, n + 1);
  a->u.in.port = port;
  a->u.in.flowinfo = flowinfo;
  a->u.in.scope_id = scope_id;
  return 0;
}

static int addr_unix(psock_address *a, const void *name, size_t len,
                     bool abstract) {
  size_t max = abstract ? ABSTRACT_MAX : PSOCK_PATH_MAX;

  if (!a || (!name && len))
    return pc_fail(pc_error_value("NULL address or path"));
  if (len > max)
    return pc_fail(
        pc_error_value("AF_UNIX %s too long (%zu bytes, at most %zu)",
                       abstract ? "abstract name" : "path", len, max));
  memset(a, 0, sizeof(*a));
  a->family = AF_UNIX;
  a->u.un.abstract = abstract;
  a->u.un.len = len;
  if (len)
    memcpy(a->u.un.path, name, len);
  return 0;
}

PSOCK_EXPORT int psock_addr_unix(psock_address *a, const char *path) {
  if (!path)
    return pc_fail(pc_error_value("NULL path"));
  return addr_unix(a, path, strlen(path), false);
}

PSOCK_EXPORT int psock_addr_unix_abstract(psock_address *a, const void *name,
                                          size_t len) {
  return addr_unix(a, name, len, true);
}

PSOCK_EXPORT int psock_addr_netlink(psock_address *a, uint32_t pid,
                                    uint32_t groups) {
  if (!a)
    return pc_fail(pc_error_value("NULL address"));
  memset(a, 0, sizeof(*a));
  a->family = AF_NETLINK;
  a->u.nl.pid = pid;
  a->u.nl.groups = groups;
  return 0;
}

PSOCK_EXPORT int psock_addr_tipc(psock_address *a, int addr_type, uint32_t v1,
                                 uint32_t v2, uint32_t v3, int scope) {
  if (!a)
    return pc_fail(pc_error_value("NULL address"));
  memset(a, 0, sizeof(*a));
  a->family = AF_TIPC;
  a->u.tipc.addr_type = addr_type;
  a->u.tipc.v1 = v1;
  a->u.tipc.v2 = v2;
  a->u.tipc.v3 = v3;
  a->u.tipc.scope = scope;
  return 0;
}

/* Printable bytes of a unix name; NULs shown as '@' as ss(8) does. */
static void format_unix(const psock_address *a, char *buf, size_t len) {
  size_t o = 0, n = a->u.un.len > PSOCK_PATH_MAX ? PSOCK_PATH_MAX : a->u.un.len;

  if (a->u.un.abstract && o + 1 < len)
    buf[o++] = '@';
  for (size_t i = 0; i < n && o + 1 < len; i++) {
    unsigned char ch = (unsigned char)a->u.un.path[i];
    buf[o++] = ch == 0 ? '@' : (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
  }
  buf[o] = '\0';
}

PSOCK_EXPORT char *psock_addr_format(const psock_address *a, char *buf,
                                     size_t len) {
  if (!buf || !len)
    return buf;
  if (!a) {
    snprintf(buf, len, "(null)");
    return buf;
  }
  switch (a->family) {
  case AF_UNIX:
    format_unix(a, buf, len);
    break;
  case AF_INET:
    snprintf(buf, len, "%.*s:%u", PSOCK_HOST_MAX, a->u.in.host, a->u.in.port);
    break;
  case AF_INET6:
    if (a->u.in.scope_id)
      snprintf(buf, len, "[%.*s%%%u]:%u", PSOCK_HOST_MAX, a->u.in.host,
               a->u.in.scope_id, a->u.in.port);
    else
      snprintf(buf, len, "[%.*s]:%u", PSOCK_HOST_MAX, a->u.in.host,
               a->u.in.port);
    break;
  case AF_NETLINK:
    snprintf(buf, len, "netlink:%u:%u", a->u.nl.pid, a->u.nl.groups);
    break;
  case AF_TIPC:
    snprintf(buf, len, "tipc:%d:%u:%u:%u", a->u.tipc.addr_type, a->u.tipc.v1,
             a->u.tipc.v2, a->u.tipc.v3);
    break;
  default:
    snprintf(buf, len, "family %d", a->family);
    break;
  }
  return buf;
}

static bool host_ok(const psock_address *a) {
  return memchr(a->u.in.host, '\0', PSOCK_HOST_MAX) != NULL;
}

static int inet_to_proto(const psock_address *a, struct addr_buf *buf) {
  if (!host_ok(a))
    return -EINVAL;
  if (a->family == AF_INET) {
    psock__v1__inet_address__init(&buf->u.inet);
    buf->u.inet.host = (char *)a->u.in.host;
    buf->u.inet.port = a->u.in.port;
    buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_INET;
    buf->addr.inet = &buf->u.inet;
    return 0;
  }
  psock__v1__inet6_address__init(&buf->u.inet6);
  buf->u.inet6.host = (char *)a->u.in.host;
  buf->u.inet6.port = a->u.in.port;
  buf->u.inet6.has_flowinfo = true;
  buf->u.inet6.flowinfo = a->u.in.flowinfo;
  buf->u.inet6.has_scope_id = true;
  buf->u.inet6.scope_id = a->u.in.scope_id;
  buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_INET6;
  buf->addr.inet6 = &buf->u.inet6;
  return 0;
}

static int unix_to_proto(const psock_address *a, struct addr_buf *buf) {
  ProtobufCBinaryData *b;

  if (a->u.un.len > (a->u.un.abstract ? ABSTRACT_MAX : PSOCK_PATH_MAX))
    return -EINVAL;
  if (a->u.un.abstract) {
    buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT;
    b = &buf->addr.unix_abstract;
  } else {
    buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
    b = &buf->addr.unix_path;
  }
  b->len = a->u.un.len;
  b->data = (uint8_t *)a->u.un.path;
  return 0;
}

int pc_address_to_proto(const psock_address *a, struct addr_buf *buf,
                        Psock__V1__Address **ret) {
  int r = 0;

  psock__v1__address__init(&buf->addr);
  switch (a->family) {
  case AF_INET:
  case AF_INET6:
    r = inet_to_proto(a, buf);
    break;
  case AF_UNIX:
    r = unix_to_proto(a, buf);
    break;
  case AF_NETLINK:
    psock__v1__netlink_address__init(&buf->u.netlink);
    buf->u.netlink.pid = a->u.nl.pid;
    buf->u.netlink.groups = a->u.nl.groups;
    buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_NETLINK;
    buf->addr.netlink = &buf->u.netlink;
    break;
  case AF_TIPC:
    psock__v1__tipc_address__init(&buf->u.tipc);
    buf->u.tipc.addr_type = (uint32_t)a->u.tipc.addr_type;
    buf->u.tipc.v1 = a->u.tipc.v1;
    buf->u.tipc.v2 = a->u.tipc.v2;
    buf->u.tipc.v3 = a->u.tipc.v3;
    buf->u.tipc.has_scope = a->u.tipc.scope != 0;
    buf->u.tipc.scope = (uint32_t)a->u.tipc.scope;
    buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_TIPC;
    buf->addr.tipc = &buf->u.tipc;
    break;
  default:
    return -EAFNOSUPPORT;
  }
  if (r < 0)
    return r;
  *ret = &buf->addr;
  return 0;
}

static int host_from_proto(const char *host, uint32_t port, psock_address *a) {
  size_t n;

  if (!host || port > 65535)
    return -EINVAL;
  n = strlen(host);
  if (n >= PSOCK_HOST_MAX)
    return -EINVAL;
  memcpy(a->u.in.host, host, n + 1);
  a->u.in.port = (uint16_t)port;
  return 0;
}

static int unix_from_proto(const ProtobufCBinaryData *b, bool abstract,
                           psock_address *a) {
  if (b->len > (abstract ? ABSTRACT_MAX : PSOCK_PATH_MAX) ||
      (b->len && !b->data))
    return -EINVAL;
  a->family = AF_UNIX;
  a->u.un.abstract = abstract;
  a->u.un.len = b->len;
  if (b->len)
    memcpy(a->u.un.path, b->data, b->len);
  return 0;
}

int pc_address_from_proto(const Psock__V1__Address *pa, psock_address *ret) {
  psock_address a;
  int r = 0;

  memset(&a, 0, sizeof(a));
  switch (pa ? pa->addr_case : PSOCK__V1__ADDRESS__ADDR__NOT_SET) {
  case PSOCK__V1__ADDRESS__ADDR_UNIX_PATH:
    r = unix_from_proto(&pa->unix_path, false, &a);
    break;
  case PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT:
    r = unix_from_proto(&pa->unix_abstract, true, &a);
    break;
  case PSOCK__V1__ADDRESS__ADDR_INET:
    if (!pa->inet)
      return -EINVAL;
    a.family = AF_INET;
    r = host_from_proto(pa->inet->host, pa->inet->port, &a);
    break;
  case PSOCK__V1__ADDRESS__ADDR_INET6:
    if (!pa->inet6)
      return -EINVAL;
    a.family = AF_INET6;
    r = host_from_proto(pa->inet6->host, pa->inet6->port, &a);
    a.u.in.flowinfo = pa->inet6->flowinfo;
    a.u.in.scope_id = pa->inet6->scope_id;
    break;
  case PSOCK__V1__ADDRESS__ADDR_NETLINK:
    if (!pa->netlink)
      return -EINVAL;
    psock_addr_netlink(&a, pa->netlink->pid, pa->netlink->groups);
    break;
  case PSOCK__V1__ADDRESS__ADDR_TIPC:
    if (!pa->tipc || pa->tipc->addr_type > 0xff || pa->tipc->scope > 0x7f)
      return -EINVAL;
    psock_addr_tipc(&a, (int)pa->tipc->addr_type, pa->tipc->v1, pa->tipc->v2,
                    pa->tipc->v3,
                    pa->tipc->has_scope ? (int)pa->tipc->scope : 0);
    break;
  default:
    return -EAFNOSUPPORT;
  }
  if (r < 0)
    return r;
  *ret = a;
  return 0;
}

static int unix_from_sockaddr(const struct sockaddr_un *sun, socklen_t len,
                              psock_address *a) {
  size_t off = offsetof(struct sockaddr_un, sun_path);
  size_t n = len > off ? len - off : 0;

  if (n > PSOCK_PATH_MAX)
    n = PSOCK_PATH_MAX;
  a->family = AF_UNIX;
  if (n > 0 && sun->sun_path[0] == '\0') {
    a->u.un.abstract = true;
    a->u.un.len = n - 1;
    memcpy(a->u.un.path, sun->sun_path + 1, n - 1);
    return 0;
  }
  /* The kernel may count a trailing NUL in len; a path stops there. */
  a->u.un.len = strnlen(sun->sun_path, n);
  memcpy(a->u.un.path, sun->sun_path, a->u.un.len);
  return 0;
}

/* TIPC fields as the seed's (addr_type, v1, v2, v3, scope) tuple. */
static int tipc_from_sockaddr(const struct sockaddr_tipc *t, psock_address *a) {
  uint32_t v1, v2, v3;

  switch (t->addrtype) {
  case TIPC_ADDR_NAMESEQ:
    v1 = t->addr.nameseq.type;
    v2 = t->addr.nameseq.lower;
    v3 = t->addr.nameseq.upper;
    break;
  case TIPC_ADDR_NAME:
    v1 = t->addr.name.name.type;
    v2 = t->addr.name.name.instance;
    v3 = t->addr.name.domain;
    break;
  case TIPC_ADDR_ID:
    v1 = t->addr.id.node;
    v2 = t->addr.id.ref;
    v3 = 0;
    break;
  default:
    return -EINVAL;
  }
  psock_addr_tipc(a, t->addrtype, v1, v2, v3, t->scope);
  return 0;
}

static int inet_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                              psock_address *a) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

    if (len < sizeof(*sin))
      return -EINVAL;
    a->family = AF_INET;
    inet_ntop(AF_INET, &sin->sin_addr, a->u.in.host, sizeof(a->u.in.host));
    a->u.in.port = ntohs(sin->sin_port);
    return 0;
  }
  const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

  if (len < sizeof(*sin6))
    return -EINVAL;
  a->family = AF_INET6;
  inet_ntop(AF_INET6, &sin6->sin6_addr, a->u.in.host, sizeof(a->u.in.host));
  a->u.in.port = ntohs(sin6->sin6_port);
  a->u.in.flowinfo = ntohl(sin6->sin6_flowinfo);
  a->u.in.scope_id = sin6->sin6_scope_id;
  return 0;
}

int pc_sockaddr_to_address(const struct sockaddr *sa, socklen_t len,
                           psock_address *ret) {
  psock_address a;
  int r;

  if (len < sizeof(sa_family_t))
    return -EINVAL;
  memset(&a, 0, sizeof(a));
  switch (sa->sa_family) {
  case AF_UNIX:
    r = unix_from_sockaddr((const struct sockaddr_un *)sa, len, &a);
    break;
  case AF_INET:
  case AF_INET6:
    r = inet_from_sockaddr(sa, len, &a);
    break;
  case AF_NETLINK:
    if (len < sizeof(struct sockaddr_nl))
      return -EINVAL;
    psock_addr_netlink(&a, ((const struct sockaddr_nl *)sa)->nl_pid,
                       ((const struct sockaddr_nl *)sa)->nl_groups);
    r = 0;
    break;
  case AF_TIPC:
    if (len < sizeof(struct sockaddr_tipc))
      return -EINVAL;
    r = tipc_from_sockaddr((const struct sockaddr_tipc *)sa, &a);
    break;
  default:
    return -EAFNOSUPPORT;
  }
  if (r < 0)
    return r;
  *ret = a;
  return 0;
}

bool pc_address_needs_lookup(const psock_address *a) {
  struct addr_buf buf;
  Psock__V1__Address *pa;

  return (a->family == AF_INET || a->family == AF_INET6) &&
         pc_address_to_proto(a, &buf, &pa) == 0 && addr_needs_lookup(pa);
}

int pc_address_to_sockaddr(const psock_address *a, struct sockaddr_storage *ss,
                           socklen_t *ret_len) {
  struct addr_buf buf;
  Psock__V1__Address *pa;
  int r;

  r = pc_address_to_proto(a, &buf, &pa);
  if (r < 0)
    return r;
  return addr_to_sockaddr(pa, ss, ret_len);
}
