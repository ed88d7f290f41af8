/* SPDX-License-Identifier: MIT */
/*
 * sv_common: the seccomp supervisor's shared helpers (see sv_common.h).
 */
#include "sv_common.h"

#include <errno.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock.h"

#define HINT_MAX 256

static struct sv_ctx ctx;
static char *hint_seen[HINT_MAX];
static unsigned hint_count;

void sv_ctx_init(const struct sv_ctx *c) {
  ctx = *c;
}

const struct sv_ctx *sv_ctx(void) {
  return &ctx;
}

int sv_errno(void) {
  int code = psock_last_error_code();

  switch (psock_last_error_kind()) {
  case PSOCK_ERR_OS:
  case PSOCK_ERR_POLICY:
    return code > 0 ? code : EACCES;
  case PSOCK_ERR_TIMEOUT:
    return ETIMEDOUT;
  case PSOCK_ERR_VALUE:
    return EINVAL;
  default:
    /* psockd unreachable or not understood: the program may not have
     * its network, and the library has said why on stderr. */
    return EACCES;
  }
}

static int sock_int(int fd, int opt) {
  socklen_t len = sizeof(int);
  int v;

  if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0)
    return -errno;
  return v;
}

int sv_sock_family(int fd) {
  return sock_int(fd, SO_DOMAIN);
}

int sv_sock_type(int fd) {
  return sock_int(fd, SO_TYPE);
}

bool sv_routed(int family) {
  switch (family) {
  case AF_INET:
  case AF_INET6:
  case AF_NETLINK:
  case AF_PACKET:
  case AF_TIPC:
    return true;
  default:
    return false;
  }
}

bool sv_addressed(int family) {
  return sv_routed(family) && family != AF_PACKET;
}

void sv_stack_sock(psock_sock *s, int fd, int family) {
  memset(s, 0, sizeof(*s));
  s->fd = fd;
  s->family = family;
  s->timeout = 0.0;
}

static const char *family_name(int family, char *buf, size_t len) {
  switch (family) {
  case AF_INET:
    return "inet";
  case AF_INET6:
    return "inet6";
  case AF_NETLINK:
    return "netlink";
  case AF_PACKET:
    return "packet";
  case AF_TIPC:
    return "tipc";
  default:
    snprintf(buf, len, "%d", family);
    return buf;
  }
}

static const char *type_name(int type, char *buf, size_t len) {
  switch (type & 0xf) {
  case SOCK_STREAM:
    return "stream";
  case SOCK_DGRAM:
    return "dgram";
  case SOCK_RAW:
    return "raw";
  case SOCK_RDM:
    return "rdm";
  case SOCK_SEQPACKET:
    return "seqpacket";
  default:
    snprintf(buf, len, "%d", type & 0xf);
    return buf;
  }
}

static const char *proto_name(int family, int proto, char *buf, size_t len) {
  if (family == AF_INET || family == AF_INET6) {
    switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    default:
      break;
    }
  }
  if (family == AF_NETLINK && proto == NETLINK_ROUTE)
    return "route";
  snprintf(buf, len, "%d", proto);
  return buf;
}

void sv_socket_words(int family, int type, int proto, char *buf, size_t len) {
  char fb[16], tb[16], pb[16];

  snprintf(buf, len, "family=%s type=%s proto=%s",
           family_name(family, fb, sizeof(fb)), type_name(type, tb, sizeof(tb)),
           proto_name(family, proto, pb, sizeof(pb)));
}

/* Remember text; true if it is new (or the table is full). */
static bool hint_first(const char *text) {
  for (unsigned i = 0; i < hint_count; i++)
    if (strcmp(hint_seen[i], text) == 0)
      return false;
  if (hint_count < HINT_MAX && (hint_seen[hint_count] = strdup(text)))
    hint_count++;
  return true;
}

void sv_hint(bool failed, const char *fmt, ...) {
  char what[384], line[768];
  bool refused = false;
  va_list ap;
  int n;

  if (!ctx.hint)
    return;
  if (failed) {
    int kind = psock_last_error_kind();

    if (kind == PSOCK_ERR_PROTOCOL || kind == PSOCK_ERR_VALUE)
      return;
    refused = kind == PSOCK_ERR_POLICY;
  }
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  if (!hint_first(what))
    return;
  if (refused)
    n = snprintf(line, sizeof(line),
                 "psock-run: policy hint: allow uid=%u %s  # refused: %s\n",
                 (unsigned)ctx.euid, what, psock_last_error_message());
  else
    n = snprintf(line, sizeof(line),
                 "psock-run: policy hint: allow uid=%u %s\n",
                 (unsigned)ctx.euid, what);
  if (n > 0)
    (void)!write(STDERR_FILENO, line,
                 (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void sv_address_words(int family, const psock_address *a, char *buf,
                      size_t len) {
  char fb[16];

  if (a && (a->family == AF_INET || a->family == AF_INET6))
    snprintf(buf, len, "family=%s addr=%s port=%u",
             family_name(family, fb, sizeof(fb)),
             *a->u.in.host ? a->u.in.host : "any", a->u.in.port);
  else
    snprintf(buf, len, "family=%s", family_name(family, fb, sizeof(fb)));
}
