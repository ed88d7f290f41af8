/* SPDX-License-Identifier: MIT */
/*
 * sock: the psock_sock object and the calls that run locally on the fd the
 * program holds (close, fileno, mode and timeout, accept, getsockname,
 * getpeername, getsockopt, shutdown, makefile), plus the three socket modes
 * of the seed: blocking (timeout None), non-blocking (0.0) and timeout mode,
 * in which the fd is O_NONBLOCK and each operation polls for readiness with
 * the time that is left. With PSOCK_ROUTE=daemon the calls that have a
 * daemon message go through psockd instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "cleanup.h"
#include "conn.h"
#include "deadline.h"
#include "error.h"
#include "route.h"
#include "sock.h"

/* CPython's limit for getsockopt(level, optname, buflen). */
#define GETSOCKOPT_BUFLEN_MAX 1024

ssize_t pc_sock_io(psock_sock *s, short events, pc_io_fn fn, void *ctx,
                   bool via_daemon) {
  struct pc_deadline d;
  ssize_t r;
  int w;

  pc_deadline_init(&d, s->timeout);
  for (;;) {
    /* EINTR from the call itself goes back to the caller, as the kernel
     * reports it (SA_RESTART was the kernel's to apply). */
    r = fn(s, ctx);
    if (r != -EAGAIN && r != -EWOULDBLOCK)
      return r;
    /* Non-blocking mode reports "not ready"; so does blocking mode on an
     * fd that is non-blocking after all (CPython), except that psockd's
     * attempts are always non-blocking and blocking mode waits them out. */
    if (s->timeout == 0.0 || (s->timeout < 0.0 && !via_daemon))
      return r;
    w = pc_wait_fd(s->fd, events, &d);
    if (w < 0)
      return w;
  }
}

/* --------------------------------------------------------- the object */

int pc_check_sock(const psock_sock *s) {
  if (!s)
    return pc_error_value("NULL socket");
  if (s->fd < 0)
    return pc_error(PSOCK_ERR_OS, EBADF, "socket is closed");
  return 0;
}

int pc_sock_call(psock_sock *s, Psock__V1__Request *req,
                 Psock__V1__Response **ret_resp) {
  Psock__V1__Response *resp;
  int r = pc_call(req, &s->fd, 1, 0, &resp, NULL);

  if (r < 0)
    return r;
  if (ret_resp)
    *ret_resp = resp;
  else
    psock__v1__response__free_unpacked(resp, NULL);
  return 0;
}

int pc_sock_set_timeout(psock_sock *s, double timeout) {
  int fl = fcntl(s->fd, F_GETFL);
  int want;

  if (fl < 0)
    return -errno;
  /* Timeout mode runs the fd non-blocking and does the waiting itself. */
  want = timeout == PSOCK_TIMEOUT_NONE ? fl & ~O_NONBLOCK : fl | O_NONBLOCK;
  if (want != fl && fcntl(s->fd, F_SETFL, want) < 0)
    return -errno;
  s->timeout = timeout;
  return 0;
}

psock_sock *pc_sock_new(int fd, int family, int type, int proto) {
  _cleanup_close_ int owned = fd;

  /* fds arrive close-on-exec (psockd's are received with
   * MSG_CMSG_CLOEXEC, local ones made with SOCK_CLOEXEC / F_DUPFD_CLOEXEC,
   * so there is no need to ask); the kernel's socket() sets it only when
   * asked with SOCK_CLOEXEC. FD_CLOEXEC is the only fd flag. */
  if (!(type & SOCK_CLOEXEC) && fcntl(owned, F_SETFD, 0) < 0) {
    pc_record(-errno);
    return NULL;
  }
  return pc_sock_wrap(TAKE_FD(owned), family, type, proto);
}

psock_sock *pc_sock_wrap(int fd, int family, int type, int proto) {
  double timeout = (type & SOCK_NONBLOCK) ? 0.0 : psock_getdefaulttimeout();
  _cleanup_close_ int owned = fd;
  _cleanup_free_ psock_sock *s = NULL;
  int r = 0;

  s = calloc(1, sizeof(*s));
  if (!s) {
    pc_error_os(ENOMEM);
    return NULL;
  }
  *s = (psock_sock){.fd = owned,
                    .family = family,
                    .type = type & ~PC_SOCK_FLAGS,
                    .proto = proto,
                    .timeout = PSOCK_TIMEOUT_NONE};
  if (timeout != PSOCK_TIMEOUT_NONE)
    r = pc_sock_set_timeout(s, timeout);
  if (r < 0) {
    pc_record(r);
    return NULL;
  }
  (void)TAKE_FD(owned); /* s->fd now */
  return TAKE_PTR(s);
}

PSOCK_EXPORT int psock_close(psock_sock *s) {
  int r = 0;

  if (!s)
    return 0;
  /* Linux releases the fd even when close() fails: never retry it. */
  if (s->fd >= 0 && close(s->fd) < 0 && errno != EINTR)
    r = -errno;
  free(s);
  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_fileno(const psock_sock *s) {
  return s ? s->fd : -1;
}

PSOCK_EXPORT int psock_detach(psock_sock *s) {
  int fd;

  if (!s)
    return pc_fail(pc_error_value("NULL socket"));
  fd = s->fd;
  free(s);
  return fd;
}

PSOCK_EXPORT int psock_family(const psock_sock *s) {
  return s ? s->family : pc_fail(pc_error_value("NULL socket"));
}

PSOCK_EXPORT int psock_type(const psock_sock *s) {
  return s ? s->type : pc_fail(pc_error_value("NULL socket"));
}

PSOCK_EXPORT int psock_proto(const psock_sock *s) {
  return s ? s->proto : pc_fail(pc_error_value("NULL socket"));
}

PSOCK_EXPORT int psock_settimeout(psock_sock *s, double timeout) {
  int r = pc_check_sock(s);

  if (r == 0 && !pc_timeout_ok(timeout))
    r = pc_error_value("Timeout value out of range");
  if (r == 0)
    r = pc_sock_set_timeout(s, timeout);
  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_setblocking(psock_sock *s, int flag) {
  return psock_settimeout(s, flag ? PSOCK_TIMEOUT_NONE : 0.0);
}

PSOCK_EXPORT double psock_gettimeout(const psock_sock *s) {
  return s ? s->timeout : PSOCK_TIMEOUT_NONE;
}

/* ------------------------------------------------------------- accept */

struct accept_ctx {
  int fd;
  psock_address peer;
  bool have_peer;
};

static ssize_t accept_local(psock_sock *s, void *p) {
  struct accept_ctx *ctx = p;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  int fd, r;

  fd = accept4(s->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
  if (fd < 0)
    return -errno;
  ctx->fd = fd;
  r = pc_sockaddr_to_address((struct sockaddr *)&ss, len, &ctx->peer);
  ctx->have_peer = r == 0;
  return 0;
}

/* psockd makes one non-blocking attempt; "not ready" comes back as an
 * OS_ERROR EAGAIN and pc_sock_io waits for readability here. */
static ssize_t accept_daemon(psock_sock *s, void *p) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__AcceptRequest a = PSOCK__V1__ACCEPT_REQUEST__INIT;
  struct accept_ctx *ctx = p;
  Psock__V1__Response *resp;
  struct pc_error_state saved;
  int fd, r;

  req.call_case = PSOCK__V1__REQUEST__CALL_ACCEPT;
  req.accept = &a;
  pc_error_save(&saved);
  r = pc_call(&req, &s->fd, 1, 1, &resp, &fd);
  if (r < 0)
    return pc_error_again(&saved);
  ctx->fd = fd;
  ctx->have_peer = resp->accept &&
                   pc_address_from_proto(resp->accept->peer, &ctx->peer) == 0;
  psock__v1__response__free_unpacked(resp, NULL);
  return 0;
}

PSOCK_EXPORT psock_sock *psock_accept(psock_sock *s,
                                      psock_address *ret_address) {
  struct accept_ctx ctx = {.fd = -1};
  bool daemon = pc_route_daemon();
  psock_sock *n;
  ssize_t r;

  r = pc_check_sock(s);
  if (r == 0)
    r = pc_sock_io(s, POLLIN, daemon ? accept_daemon : accept_local, &ctx,
                   daemon);
  if (r < 0) {
    pc_record((int)r);
    return NULL;
  }
  /* CPython: the new socket gets the default timeout, not the listener's;
   * SOCK_CLOEXEC keeps the close-on-exec that accept4() set atomically. */
  n = pc_sock_new(ctx.fd, s->family, s->type | SOCK_CLOEXEC, s->proto);
  if (n && ret_address) {
    if (ctx.have_peer) {
      *ret_address = ctx.peer;
    } else {
      memset(ret_address, 0, sizeof(*ret_address));
      ret_address->family = s->family;
    }
  }
  return n;
}

/* ------------------------------------------- names and options on the fd */

static int sockname_daemon(psock_sock *s, bool peer, psock_address *ret) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetsocknameRequest gs = PSOCK__V1__GETSOCKNAME_REQUEST__INIT;
  Psock__V1__GetpeernameRequest gp = PSOCK__V1__GETPEERNAME_REQUEST__INIT;
  Psock__V1__AddressReply *ar;
  Psock__V1__Response *resp;
  int r;

  if (peer) {
    req.call_case = PSOCK__V1__REQUEST__CALL_GETPEERNAME;
    req.getpeername = &gp;
  } else {
    req.call_case = PSOCK__V1__REQUEST__CALL_GETSOCKNAME;
    req.getsockname = &gs;
  }
  r = pc_call(&req, &s->fd, 1, 0, &resp, NULL);
  if (r < 0)
    return r;
  ar = peer ? resp->getpeername : resp->getsockname;
  r = ar ? pc_address_from_proto(ar->address, ret) : -EINVAL;
  if (r < 0)
    r = pc_error(PSOCK_ERR_PROTOCOL, EPROTO, "psockd sent a bad address");
  psock__v1__response__free_unpacked(resp, NULL);
  return r;
}

static int sockname(psock_sock *s, bool peer, psock_address *ret) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  int r;

  r = pc_check_sock(s);
  if (r == 0 && !ret)
    r = pc_error_value("NULL address");
  if (r == 0 && pc_route_daemon())
    r = sockname_daemon(s, peer, ret);
  else if (r == 0) {
    r = peer ? getpeername(s->fd, (struct sockaddr *)&ss, &len)
             : getsockname(s->fd, (struct sockaddr *)&ss, &len);
    r = r < 0 ? -errno
              : pc_sockaddr_to_address((struct sockaddr *)&ss, len, ret);
  }
  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_getsockname(psock_sock *s, psock_address *ret_address) {
  return sockname(s, false, ret_address);
}

PSOCK_EXPORT int psock_getpeername(psock_sock *s, psock_address *ret_address) {
  return sockname(s, true, ret_address);
}

/* Ask psockd for an option: an int (buf NULL) or up to *len bytes. */
static int getsockopt_daemon(psock_sock *s, int level, int optname,
                             int *ret_value, void *buf, size_t *len) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetsockoptRequest g = PSOCK__V1__GETSOCKOPT_REQUEST__INIT;
  Psock__V1__GetsockoptReply *gr;
  Psock__V1__Response *resp;
  int r = 0;

  g.level = level;
  g.optname = optname;
  g.has_buflen = buf != NULL;
  g.buflen = buf ? (uint32_t)*len : 0;
  req.call_case = PSOCK__V1__REQUEST__CALL_GETSOCKOPT;
  req.getsockopt = &g;
  if (pc_call(&req, &s->fd, 1, 0, &resp, NULL) < 0)
    return -PC_ERECORDED;
  gr = resp->getsockopt;
  if (!buf && gr &&
      gr->value_case == PSOCK__V1__GETSOCKOPT_REPLY__VALUE_INT_VALUE &&
      gr->int_value >= INT_MIN && gr->int_value <= INT_MAX) {
    *ret_value = (int)gr->int_value;
  } else if (buf && gr &&
             gr->value_case == PSOCK__V1__GETSOCKOPT_REPLY__VALUE_BUF_VALUE &&
             gr->buf_value.len <= *len) {
    if (gr->buf_value.len)
      memcpy(buf, gr->buf_value.data, gr->buf_value.len);
    *len = gr->buf_value.len;
  } else {
    r = pc_error(PSOCK_ERR_PROTOCOL, EPROTO, "psockd sent a bad option value");
  }
  psock__v1__response__free_unpacked(resp, NULL);
  return r;
}

PSOCK_EXPORT int psock_getsockopt(psock_sock *s, int level, int optname,
                                  int *ret_value) {
  socklen_t l = sizeof(int);
  int r, v = 0;

  r = pc_check_sock(s);
  if (r == 0 && !ret_value)
    r = pc_error_value("NULL value");
  if (r < 0)
    return pc_fail(r);
  if (pc_route_daemon())
    return getsockopt_daemon(s, level, optname, ret_value, NULL, NULL) < 0 ? -1
                                                                           : 0;
  if (getsockopt(s->fd, level, optname, &v, &l) < 0)
    return pc_fail(-errno);
  *ret_value = v;
  return 0;
}

PSOCK_EXPORT int psock_getsockopt_buf(psock_sock *s, int level, int optname,
                                      void *buf, size_t *len) {
  socklen_t l;
  int r;

  r = pc_check_sock(s);
  if (r == 0 && (!buf || !len))
    r = pc_error_value("NULL buffer or length");
  if (r == 0 && (*len == 0 || *len > GETSOCKOPT_BUFLEN_MAX))
    r = pc_error_value("getsockopt buflen out of range");
  if (r < 0)
    return pc_fail(r);
  if (pc_route_daemon())
    return getsockopt_daemon(s, level, optname, NULL, buf, len) < 0 ? -1 : 0;
  l = (socklen_t)*len;
  if (getsockopt(s->fd, level, optname, buf, &l) < 0)
    return pc_fail(-errno);
  *len = l;
  return 0;
}

static int shutdown_daemon(psock_sock *s, int how) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__ShutdownRequest sh = PSOCK__V1__SHUTDOWN_REQUEST__INIT;
  Psock__V1__Response *resp;
  int r;

  sh.how = how;
  req.call_case = PSOCK__V1__REQUEST__CALL_SHUTDOWN;
  req.shutdown = &sh;
  r = pc_call(&req, &s->fd, 1, 0, &resp, NULL);
  if (r == 0)
    psock__v1__response__free_unpacked(resp, NULL);
  return r;
}

PSOCK_EXPORT int psock_shutdown(psock_sock *s, int how) {
  int r = pc_check_sock(s);

  if (r == 0 && pc_route_daemon())
    r = shutdown_daemon(s, how);
  else if (r == 0 && shutdown(s->fd, how) < 0)
    r = -errno;
  return r < 0 ? pc_fail(r) : 0;
}

/* -------------------------------------------------------------- makefile */

PSOCK_EXPORT FILE *psock_makefile(psock_sock *s, const char *mode,
                                  int bufsize) {
  _cleanup_close_ int fd = -1;
  FILE *f;
  int fl, r;

  r = pc_check_sock(s);
  if (r == 0 && s->timeout != PSOCK_TIMEOUT_NONE)
    r = pc_error_value("makefile needs a socket in blocking mode");
  if (r < 0) {
    pc_record(r);
    return NULL;
  }
  /* The copy keeps the socket's close-on-exec flag, as dup() would not. */
  fl = fcntl(s->fd, F_GETFD);
  fd = fcntl(s->fd, (fl > 0 && (fl & FD_CLOEXEC)) ? F_DUPFD_CLOEXEC : F_DUPFD,
             0);
  if (fd < 0) {
    pc_record(-errno);
    return NULL;
  }
  f = fdopen(fd, mode ? mode : "r");
  if (!f) {
    pc_record(-errno);
    return NULL;
  }
  (void)TAKE_FD(fd); /* the FILE's now */
  /* bufsize as Python's file(): 0 unbuffered, 1 line buffered, >1 size. */
  if (bufsize == 0)
    setvbuf(f, NULL, _IONBF, 0);
  else if (bufsize == 1)
    setvbuf(f, NULL, _IOLBF, BUFSIZ);
  else if (bufsize > 1)
    setvbuf(f, NULL, _IOFBF, (size_t)bufsize);
  return f;
}
