/* SPDX-License-Identifier: MIT */
/*
 * addr: psock.v1.Address <-> struct sockaddr (see addr.h).
 *
 * Trust boundary: addr_to_sockaddr() turns client-chosen fields into a
 * sockaddr psockd hands to the kernel with its own privileges, so every
 * field is range-checked and no sockaddr is built from a rejected one.
 * addr_from_sockaddr() reads kernel output only; it never allocates so a
 * reply can be built without a failure path. addr_format() output goes to
 * logs, so bytes a client chose are escaped there.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <linux/tipc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
#define SUN_PATH_OFF offsetof(struct sockaddr_un, sun_path)

/* IPv6 flow labels are 20 bits; CPython refuses more with OverflowError. */
#define FLOWINFO_MAX 0xfffffu

int addr_family(const Psock__V1__Address *a) {
  if (!a)
    return AF_UNSPEC;
  switch (a->addr_case) {
  case PSOCK__V1__ADDRESS__ADDR_UNIX_PATH:
  case PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT:
    return AF_UNIX;
  case PSOCK__V1__ADDRESS__ADDR_INET:
    return AF_INET;
  case PSOCK__V1__ADDRESS__ADDR_INET6:
    return AF_INET6;
  case PSOCK__V1__ADDRESS__ADDR_NETLINK:
    return AF_NETLINK;
  case PSOCK__V1__ADDRESS__ADDR_TIPC:
    return AF_TIPC;
  default:
    return AF_UNSPEC;
  }
}

/*
 * Numeric forms only: inet_pton() takes exactly a dotted quad, unlike
 * inet_aton() which would read "1.2.3" or "0x7f.1" as addresses. Anything
 * else is a name for the resolver (-ENOENT).
 */
static int inet_host(const char *host, struct in_addr *ret) {
  if (host[0] == '\0') {
    ret->s_addr = htonl(INADDR_ANY);
    return 0;
  }
  if (strcmp(host, ADDR_BROADCAST_HOST) == 0) {
    ret->s_addr = htonl(INADDR_BROADCAST);
    return 0;
  }
  return inet_pton(AF_INET, host, ret) == 1 ? 0 : -ENOENT;
}

static int inet6_host(const char *host, struct in6_addr *ret) {
  if (host[0] == '\0') {
    *ret = in6addr_any;
    return 0;
  }
  if (strcmp(host, ADDR_BROADCAST_HOST) == 0)
    return -EINVAL;
  return inet_pton(AF_INET6, host, ret) == 1 ? 0 : -ENOENT;
}

bool addr_needs_lookup(const Psock__V1__Address *a) {
  const char *host;

  if (!a)
    return false;
  if (a->addr_case == PSOCK__V1__ADDRESS__ADDR_INET && a->inet)
    host = a->inet->host;
  else if (a->addr_case == PSOCK__V1__ADDRESS__ADDR_INET6 && a->inet6)
    host = a->inet6->host;
  else
    return false;
  if (!host || host[0] == '\0' || strcmp(host, ADDR_BROADCAST_HOST) == 0)
    return false;

  if (a->addr_case == PSOCK__V1__ADDRESS__ADDR_INET) {
    struct in_addr in;
    return inet_pton(AF_INET, host, &in) != 1;
  }
  struct in6_addr in6;
  return inet_pton(AF_INET6, host, &in6) != 1;
}

static int unix_path_to_sa(const ProtobufCBinaryData *p,
                           struct sockaddr_un *sun, socklen_t *ret_len) {
  if (p->len > SUN_PATH_MAX)
    return -ENAMETOOLONG;
  /* The kernel would stop at the NUL: refuse rather than bind elsewhere. */
  if (p->len > 0 && memchr(p->data, '\0', p->len))
    return -EINVAL;
  sun->sun_family = AF_UNIX;
  if (p->len > 0)
    memcpy(sun->sun_path, p->data, p->len);
  /* Empty is an unnamed socket (autobind); a full sun_path has no NUL. */
  *ret_len = (socklen_t)(SUN_PATH_OFF + p->len);
  if (p->len > 0 && p->len < SUN_PATH_MAX)
    (*ret_len)++;
  return 0;
}

static int unix_abstract_to_sa(const ProtobufCBinaryData *p,
                               struct sockaddr_un *sun, socklen_t *ret_len) {
  /* One byte of sun_path is the leading NUL; the name may hold any byte. */
  if (p->len > SUN_PATH_MAX - 1)
    return -ENAMETOOLONG;
  sun->sun_family = AF_UNIX;
  sun->sun_path[0] = '\0';
  if (p->len > 0)
    memcpy(sun->sun_path + 1, p->data, p->len);
  *ret_len = (socklen_t)(SUN_PATH_OFF + 1 + p->len);
  return 0;
}

static int inet_to_sa(const Psock__V1__InetAddress *in, struct sockaddr_in *sin,
                      socklen_t *ret_len) {
  int r;

  if (!in || !in->host)
    return -EINVAL;
  if (in->port > 65535)
    return -EINVAL;
  r = inet_host(in->host, &sin->sin_addr);
  if (r < 0)
    return r;
  sin->sin_family = AF_INET;
  sin->sin_port = htons((uint16_t)in->port);
  *ret_len = sizeof(*sin);
  return 0;
}

static int inet6_to_sa(const Psock__V1__Inet6Address *in,
                       struct sockaddr_in6 *sin6, socklen_t *ret_len) {
  int r;

  if (!in || !in->host)
    return -EINVAL;
  if (in->port > 65535)
    return -EINVAL;
  if (in->has_flowinfo && in->flowinfo > FLOWINFO_MAX)
    return -EINVAL;
  r = inet6_host(in->host, &sin6->sin6_addr);
  if (r < 0)
    return r;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons((uint16_t)in->port);
  sin6->sin6_flowinfo = htonl(in->has_flowinfo ? in->flowinfo : 0);
  sin6->sin6_scope_id = in->has_scope_id ? in->scope_id : 0;
  *ret_len = sizeof(*sin6);
  return 0;
}

static int netlink_to_sa(const Psock__V1__NetlinkAddress *nl,
                         struct sockaddr_nl *snl, socklen_t *ret_len) {
  if (!nl)
    return -EINVAL;
  snl->nl_family = AF_NETLINK;
  snl->nl_pid = nl->pid;
  snl->nl_groups = nl->groups;
  *ret_len = sizeof(*snl);
  return 0;
}

/*
 * Field mapping as CPython's getsockaddrarg(), except that v3 of a
 * TIPC_ADDR_NAME becomes the lookup domain (CPython drops it) so the
 * Address round-trips. The scope is checked because a negative one asks
 * bind() to withdraw a binding.
 */
static int tipc_to_sa(const Psock__V1__TipcAddress *t, struct sockaddr_tipc *st,
                      socklen_t *ret_len) {
  uint32_t scope;

  if (!t)
    return -EINVAL;
  scope = t->has_scope ? t->scope : TIPC_CLUSTER_SCOPE;
  if (scope != TIPC_ZONE_SCOPE && scope != TIPC_CLUSTER_SCOPE &&
      scope != TIPC_NODE_SCOPE)
    return -EINVAL;

  switch (t->addr_type) {
  case TIPC_ADDR_NAMESEQ:
    st->addr.nameseq.type = t->v1;
    st->addr.nameseq.lower = t->v2;
    st->addr.nameseq.upper = t->v3;
    break;
  case TIPC_ADDR_NAME:
    st->addr.name.name.type = t->v1;
    st->addr.name.name.instance = t->v2;
    st->addr.name.domain = t->v3;
    break;
  case TIPC_ADDR_ID:
    st->addr.id.node = t->v1;
    st->addr.id.ref = t->v2;
    break;
  default:
    return -EINVAL;
  }
  st->family = AF_TIPC;
  st->addrtype = (unsigned char)t->addr_type;
  st->scope = (signed char)scope;
  *ret_len = sizeof(*st);
  return 0;
}

int addr_to_sockaddr(const Psock__V1__Address *a, struct sockaddr_storage *ss,
                     socklen_t *ret_len) {
  struct sockaddr_storage tmp;
  socklen_t len = 0;
  int r;

  if (!a || !ss || !ret_len)
    return -EINVAL;
  /* Build aside so the caller's outputs stay untouched on failure. */
  memset(&tmp, 0, sizeof(tmp));
  switch (a->addr_case) {
  case PSOCK__V1__ADDRESS__ADDR_UNIX_PATH:
    r = unix_path_to_sa(&a->unix_path, (struct sockaddr_un *)&tmp, &len);
    break;
  case PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT:
    r = unix_abstract_to_sa(&a->unix_abstract, (struct sockaddr_un *)&tmp,
                            &len);
    break;
  case PSOCK__V1__ADDRESS__ADDR_INET:
    r = inet_to_sa(a->inet, (struct sockaddr_in *)&tmp, &len);
    break;
  case PSOCK__V1__ADDRESS__ADDR_INET6:
    r = inet6_to_sa(a->inet6, (struct sockaddr_in6 *)&tmp, &len);
    break;
  case PSOCK__V1__ADDRESS__ADDR_NETLINK:
    r = netlink_to_sa(a->netlink, (struct sockaddr_nl *)&tmp, &len);
    break;
  case PSOCK__V1__ADDRESS__ADDR_TIPC:
    r = tipc_to_sa(a->tipc, (struct sockaddr_tipc *)&tmp, &len);
    break;
  default:
    r = -EAFNOSUPPORT;
    break;
  }
  if (r < 0)
    return r;
  *ss = tmp;
  *ret_len = len;
  return 0;
}

static void unix_from_sa(const struct sockaddr_un *sun, size_t n,
                         struct addr_buf *buf) {
  ProtobufCBinaryData *out;

  if (n > 0 && sun->sun_path[0] == '\0') {
    /* Abstract: every byte after the NUL is the name, NULs included. */
    buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT;
    out = &buf->addr.unix_abstract;
    out->len = n - 1;
    memcpy(buf->path, sun->sun_path + 1, n - 1);
  } else {
    /* Path (or unnamed when n == 0): the kernel may count the NUL. */
    buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
    out = &buf->addr.unix_path;
    out->len = strnlen(sun->sun_path, n);
    memcpy(buf->path, sun->sun_path, out->len);
  }
  out->data = buf->path;
}

static void inet_from_sa(const struct sockaddr_in *sin, struct addr_buf *buf) {
  Psock__V1__InetAddress *in = &buf->u.inet;

  psock__v1__inet_address__init(in);
  inet_ntop(AF_INET, &sin->sin_addr, buf->host, sizeof(buf->host));
  in->host = buf->host;
  in->port = ntohs(sin->sin_port);
  buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_INET;
  buf->addr.inet = in;
}

static void inet6_from_sa(const struct sockaddr_in6 *sin6,
                          struct addr_buf *buf) {
  Psock__V1__Inet6Address *in6 = &buf->u.inet6;

  psock__v1__inet6_address__init(in6);
  inet_ntop(AF_INET6, &sin6->sin6_addr, buf->host, sizeof(buf->host));
  in6->host = buf->host;
  in6->port = ntohs(sin6->sin6_port);
  in6->has_flowinfo = true;
  in6->flowinfo = ntohl(sin6->sin6_flowinfo);
  in6->has_scope_id = true;
  in6->scope_id = sin6->sin6_scope_id;
  buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_INET6;
  buf->addr.inet6 = in6;
}

static void netlink_from_sa(const struct sockaddr_nl *snl,
                            struct addr_buf *buf) {
  Psock__V1__NetlinkAddress *nl = &buf->u.netlink;

  psock__v1__netlink_address__init(nl);
  nl->pid = snl->nl_pid;
  nl->groups = snl->nl_groups;
  buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_NETLINK;
  buf->addr.netlink = nl;
}

/* CPython's makesockaddr(), except that a TIPC_ADDR_NAME reports domain. */
static int tipc_from_sa(const struct sockaddr_tipc *st, struct addr_buf *buf) {
  Psock__V1__TipcAddress *t = &buf->u.tipc;

  psock__v1__tipc_address__init(t);
  switch (st->addrtype) {
  case TIPC_ADDR_NAMESEQ:
    t->v1 = st->addr.nameseq.type;
    t->v2 = st->addr.nameseq.lower;
    t->v3 = st->addr.nameseq.upper;
    break;
  case TIPC_ADDR_NAME:
    t->v1 = st->addr.name.name.type;
    t->v2 = st->addr.name.name.instance;
    t->v3 = st->addr.name.domain;
    break;
  case TIPC_ADDR_ID:
    t->v1 = st->addr.id.node;
    t->v2 = st->addr.id.ref;
    t->v3 = 0;
    break;
  default:
    return -EINVAL;
  }
  t->addr_type = st->addrtype;
  /*
   * getsockname() reports scope 0, which the kernel treats as cluster
   * scope: leave it absent so the Address is accepted when sent back.
   */
  t->has_scope = st->scope != 0;
  t->scope = (uint32_t)(unsigned char)st->scope;
  buf->addr.addr_case = PSOCK__V1__ADDRESS__ADDR_TIPC;
  buf->addr.tipc = t;
  return 0;
}

static socklen_t family_min_len(int family) {
  switch (family) {
  case AF_UNIX:
    return (socklen_t)SUN_PATH_OFF;
  case AF_INET:
    return sizeof(struct sockaddr_in);
  case AF_INET6:
    return sizeof(struct sockaddr_in6);
  case AF_NETLINK:
    return sizeof(struct sockaddr_nl);
  case AF_TIPC:
    return sizeof(struct sockaddr_tipc);
  default:
    return 0;
  }
}

int addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                       struct addr_buf *buf, Psock__V1__Address **ret) {
  struct sockaddr_storage ss;
  socklen_t min;
  int r = 0;

  if (!sa || !buf || !ret)
    return -EINVAL;
  if (len < sizeof(sa_family_t))
    return -EINVAL;
  min = family_min_len(sa->sa_family);
  if (min == 0)
    return -EAFNOSUPPORT;
  if (len < min)
    return -EINVAL;
  /* An aligned copy; a longer len than any sockaddr carries nothing more. */
  if (len > sizeof(ss))
    len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  memcpy(&ss, sa, len);

  memset(buf, 0, sizeof(*buf));
  psock__v1__address__init(&buf->addr);
  switch (ss.ss_family) {
  case AF_UNIX: {
    size_t n = len - SUN_PATH_OFF;
    unix_from_sa((const struct sockaddr_un *)&ss,
                 n < SUN_PATH_MAX ? n : SUN_PATH_MAX, buf);
    break;
  }
  case AF_INET:
    inet_from_sa((const struct sockaddr_in *)&ss, buf);
    break;
  case AF_INET6:
    inet6_from_sa((const struct sockaddr_in6 *)&ss, buf);
    break;
  case AF_NETLINK:
    netlink_from_sa((const struct sockaddr_nl *)&ss, buf);
    break;
  case AF_TIPC:
    r = tipc_from_sa((const struct sockaddr_tipc *)&ss, buf);
    break;
  }
  if (r < 0)
    return r;
  *ret = &buf->addr;
  return 0;
}

/* A bounded writer: output is always NUL-terminated, excess is dropped. */
struct fmtbuf {
  char *out;
  size_t size;
  size_t pos;
};

__attribute__((format(printf, 2, 3))) static void
fmt_printf(struct fmtbuf *f, const char *fmt, ...) {
  va_list ap;
  int n;

  if (f->pos + 1 >= f->size)
    return;
  va_start(ap, fmt);
  n = vsnprintf(f->out + f->pos, f->size - f->pos, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  /* Past the end after truncation: the check above stops further output. */
  f->pos += (size_t)n;
}

/* Client-chosen bytes: printable ASCII as is, the rest as \xNN. */
static void fmt_escaped(struct fmtbuf *f, const void *data, size_t len) {
  const unsigned char *p = data;

  for (size_t i = 0; i < len; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
      fmt_printf(f, "%c", p[i]);
    else
      fmt_printf(f, "\\x%02x", p[i]);
  }
}

static void fmt_host(struct fmtbuf *f, const char *host) {
  if (host)
    fmt_escaped(f, host, strlen(host));
}

void addr_format(const Psock__V1__Address *a, char *out, size_t outlen) {
  struct fmtbuf f = {.out = out, .size = outlen, .pos = 0};

  if (!out || outlen == 0)
    return;
  out[0] = '\0';
  switch (a ? a->addr_case : PSOCK__V1__ADDRESS__ADDR__NOT_SET) {
  case PSOCK__V1__ADDRESS__ADDR_UNIX_PATH:
    fmt_printf(&f, "unix:");
    fmt_escaped(&f, a->unix_path.data, a->unix_path.len);
    break;
  case PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT:
    fmt_printf(&f, "unix-abstract:");
    fmt_escaped(&f, a->unix_abstract.data, a->unix_abstract.len);
    break;
  case PSOCK__V1__ADDRESS__ADDR_INET:
    if (!a->inet)
      goto invalid;
    fmt_printf(&f, "inet:");
    fmt_host(&f, a->inet->host);
    fmt_printf(&f, ":%" PRIu32, a->inet->port);
    break;
  case PSOCK__V1__ADDRESS__ADDR_INET6:
    if (!a->inet6)
      goto invalid;
    fmt_printf(&f, "inet6:[");
    fmt_host(&f, a->inet6->host);
    fmt_printf(&f, "]:%" PRIu32 "%%%" PRIu32, a->inet6->port,
               a->inet6->has_scope_id ? a->inet6->scope_id : 0);
    break;
  case PSOCK__V1__ADDRESS__ADDR_NETLINK:
    if (!a->netlink)
      goto invalid;
    fmt_printf(&f, "netlink:%" PRIu32 ":%" PRIu32, a->netlink->pid,
               a->netlink->groups);
    break;
  case PSOCK__V1__ADDRESS__ADDR_TIPC:
    if (!a->tipc)
      goto invalid;
    fmt_printf(&f, "tipc:%" PRIu32 ":%" PRIu32 ":%" PRIu32 ":%" PRIu32,
               a->tipc->addr_type, a->tipc->v1, a->tipc->v2, a->tipc->v3);
    break;
  default:
    fmt_printf(&f, "none");
    break;
  }
  return;
invalid:
  fmt_printf(&f, "invalid");
}
