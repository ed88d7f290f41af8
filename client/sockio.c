/* SPDX-License-Identifier: MIT */
/*
 * sockio: the data path. send, sendall, sendto, recv, recv_into, recvfrom
 * and recvfrom_into run on the program's own fd, in the socket's mode
 * (pc_sock_io); nothing here talks to psockd except a sendto under
 * PSOCK_ROUTE=daemon.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

struct io_ctx {
  void *buf;
  size_t len;
  int flags;
  const struct sockaddr *to;
  socklen_t tolen;
  struct sockaddr_storage from;
  socklen_t fromlen;
};

static ssize_t do_recv(psock_sock *s, void *p) {
  struct io_ctx *c = p;
  ssize_t n;

  c->fromlen = sizeof(c->from);
  n = recvfrom(s->fd, c->buf, c->len, c->flags, (struct sockaddr *)&c->from,
               &c->fromlen);
  return n < 0 ? -errno : n;
}

static ssize_t do_send(psock_sock *s, void *p) {
  struct io_ctx *c = p;
  ssize_t n;

  n = sendto(s->fd, c->buf, c->len, c->flags, c->to, c->tolen);
  return n < 0 ? -errno : n;
}

/* recvfrom_into() and friends; ret_address may be NULL. */
static ssize_t recv_common(psock_sock *s, void *buf, size_t len, int flags,
                           psock_address *ret_address) {
  struct io_ctx c = {.buf = buf, .len = len, .flags = flags};
  psock_address a;
  ssize_t n;
  int r;

  r = pc_check_sock(s);
  if (r < 0)
    return pc_fail(r);
  n = pc_sock_io(s, POLLIN, do_recv, &c, false);
  if (n < 0)
    return pc_fail((int)n);
  if (ret_address) {
    /* A connected stream has no sender address: recvfrom gives len 0. */
    memset(&a, 0, sizeof(a));
    a.family = s->family;
    if (c.fromlen > 0 &&
        pc_sockaddr_to_address((struct sockaddr *)&c.from, c.fromlen, &a) < 0)
      a.family = c.from.ss_family;
    *ret_address = a;
  }
  return n;
}

/* nbytes 0 means the whole buffer (seed: recv_into). */
static int check_nbytes(size_t buflen, size_t *nbytes) {
  if (*nbytes == 0)
    *nbytes = buflen;
  if (*nbytes > buflen)
    return pc_error_value("buffer too small for requested bytes");
  return 0;
}

PSOCK_EXPORT ssize_t psock_recv(psock_sock *s, void *buf, size_t len,
                                int flags) {
  return recv_common(s, buf, len, flags, NULL);
}

PSOCK_EXPORT ssize_t psock_recv_into(psock_sock *s, void *buf, size_t buflen,
                                     size_t nbytes, int flags) {
  int r = check_nbytes(buflen, &nbytes);

  return r < 0 ? pc_fail(r) : recv_common(s, buf, nbytes, flags, NULL);
}

PSOCK_EXPORT ssize_t psock_recvfrom(psock_sock *s, void *buf, size_t len,
                                    int flags, psock_address *ret_address) {
  return recv_common(s, buf, len, flags, ret_address);
}

PSOCK_EXPORT ssize_t psock_recvfrom_into(psock_sock *s, void *buf,
                                         size_t buflen, size_t nbytes,
                                         int flags,
                                         psock_address *ret_address) {
  int r = check_nbytes(buflen, &nbytes);

  return r < 0 ? pc_fail(r) : recv_common(s, buf, nbytes, flags, ret_address);
}

PSOCK_EXPORT ssize_t psock_send(psock_sock *s, const void *buf, size_t len,
                                int flags) {
  struct io_ctx c = {.buf = (void *)buf, .len = len, .flags = flags};
  ssize_t n;
  int r;

  r = pc_check_sock(s);
  if (r < 0)
    return pc_fail(r);
  n = pc_sock_io(s, POLLOUT, do_send, &c, false);
  return n < 0 ? pc_fail((int)n) : n;
}

PSOCK_EXPORT int psock_sendall(psock_sock *s, const void *buf, size_t len,
                               int flags) {
  const char *p = buf;
  ssize_t n;
  int r;

  r = pc_check_sock(s);
  if (r < 0)
    return pc_fail(r);
  /* Each chunk gets the full timeout, as in the seed's CPython; an empty
   * buffer is still sent once (an empty datagram is a datagram). */
  do {
    struct io_ctx c = {.buf = (void *)p, .len = len, .flags = flags};

    n = pc_sock_io(s, POLLOUT, do_send, &c, false);
    /* Retried: after a partial send the caller could not tell how much
     * went out, so an interruption must not end sendall. */
    if (n == -EINTR)
      continue;
    if (n < 0)
      return pc_fail((int)n);
    p += n;
    len -= (size_t)n;
  } while (len > 0);
  return 0;
}

PSOCK_EXPORT ssize_t psock_sendto_flags(psock_sock *s, const void *buf,
                                        size_t len, int flags,
                                        const psock_address *address) {
  struct io_ctx c = {.buf = (void *)buf, .len = len, .flags = flags};
  struct sockaddr_storage ss;
  ssize_t n;
  int r;

  r = pc_check_sock(s);
  if (r == 0 && !address)
    r = pc_error_value("NULL address");
  if (r < 0)
    return pc_fail(r);
  if (pc_route_daemon() && !pc_unix_path_local(address)) {
    n = pc_daemon_sendto(s, buf, len, flags, address);
  } else {
    r = pc_address_to_sockaddr(address, &ss, &c.tolen);
    c.to = (struct sockaddr *)&ss;
    n = r < 0 ? r : pc_sock_io(s, POLLOUT, do_send, &c, false);
  }
  return n < 0 ? pc_fail((int)n) : n;
}

PSOCK_EXPORT ssize_t psock_sendto(psock_sock *s, const void *buf, size_t len,
                                  const psock_address *address) {
  return psock_sendto_flags(s, buf, len, 0, address);
}
