/* SPDX-License-Identifier: MIT */
/*
 * sv_common: the seccomp supervisor's shared helpers (see sv_common.h).
 */
#include "sv_common.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hint.h"
#include "sock.h"

static struct sv_ctx ctx;

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

void sv_hint(bool failed, const char *fmt, ...) {
  char what[384];
  va_list ap;

  if (!ctx.hint)
    return;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  hint_emit(ctx.euid, failed, what);
}
