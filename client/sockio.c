/* SPDX-License-Identifier: MIT */
/*
 * sockio: the data path. send, sendall, sendto, recv, recv_into, recvfrom
 * and recvfrom_into run on the program's own fd, in the socket's mode
 * (pc_sock_io); nothing here talks to psockd except a sendto under
 * PSOCK_ROUTE=daemon (to an address that is not the client's own AF_UNIX
 * one) and the lookup of a host name in a sendto address.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "address.h"
#include "conn.h"
#include "error.h"
#include "names.h"
#include "route.h"
#include "sock.h"
#include "sockio.h"
#include "wire.h"

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

/* ----------------------------------------------------------- sendto */

/* The most data one sendto request carries: the packet less ample room for
 * the rest of the request (an address is at most a few hundred bytes). */
#define SENDTO_DATA_MAX (PSOCK_MAX_PACKET - 1024)

struct sendto_ctx {
  Psock__V1__Request req;
  Psock__V1__SendtoRequest st;
  struct addr_buf buf;
};

/* psockd's "not ready" is waited out here, as for a local sendto. */
static ssize_t sendto_step(psock_sock *s, void *p) {
  struct sendto_ctx *c = p;
  Psock__V1__Response *resp;
  struct pc_error_state saved;
  ssize_t n;

  pc_error_save(&saved);
  if (pc_sock_call(s, &c->req, &resp) < 0)
    return pc_error_again(&saved);
  if (!resp->sendto || resp->sendto->sent > c->st.data.len)
    n = pc_error(PSOCK_ERR_PROTOCOL, EPROTO, "psockd sent a bad byte count");
  else
    n = (ssize_t)resp->sendto->sent;
  psock__v1__response__free_unpacked(resp, NULL);
  return n;
}

static ssize_t sendto_daemon(psock_sock *s, const void *buf, size_t len,
                             int flags, const psock_address *address) {
  struct sendto_ctx c = {.req = PSOCK__V1__REQUEST__INIT,
                         .st = PSOCK__V1__SENDTO_REQUEST__INIT};
  int r;

  if (!buf && len)
    return -EFAULT;
  r = pc_address_to_proto(address, &c.buf, &c.st.address);
  if (r < 0)
    return r;
  /* A stream takes part of the data, as send(2) may; a datagram goes whole
   * or fails (EMSGSIZE). */
  if (s->type == SOCK_STREAM && len > SENDTO_DATA_MAX)
    len = SENDTO_DATA_MAX;
  c.st.data.data = (uint8_t *)buf;
  c.st.data.len = len;
  c.st.flags = flags;
  PC_REQUEST(c.req, SENDTO, sendto, &c.st);
  return pc_sock_io(s, POLLOUT, sendto_step, &c, true);
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

ssize_t pc_sendto_via(psock_sock *s, const void *buf, size_t len, int flags,
                      const psock_address *address, bool daemon) {
  struct io_ctx c = {.buf = (void *)buf, .len = len, .flags = flags};
  struct sockaddr_storage ss;
  ssize_t n;
  int r;

  r = pc_check_sock(s);
  if (r == 0 && !address)
    r = pc_error_value("NULL address");
  if (r < 0)
    return pc_fail(r);
  if (daemon) {
    n = sendto_daemon(s, buf, len, flags, address);
  } else {
    r = pc_resolve_sockaddr(address, &ss, &c.tolen);
    c.to = (struct sockaddr *)&ss;
    n = r < 0 ? r : pc_sock_io(s, POLLOUT, do_send, &c, false);
  }
  return n < 0 ? pc_fail((int)n) : n;
}

PSOCK_EXPORT ssize_t psock_sendto_flags(psock_sock *s, const void *buf,
                                        size_t len, int flags,
                                        const psock_address *address) {
  return pc_sendto_via(s, buf, len, flags, address,
                       address && pc_route_daemon() &&
                           !pc_unix_address_local(address));
}

PSOCK_EXPORT ssize_t psock_sendto(psock_sock *s, const void *buf, size_t len,
                                  const psock_address *address) {
  return psock_sendto_flags(s, buf, len, 0, address);
}
