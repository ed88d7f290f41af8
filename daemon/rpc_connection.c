/* SPDX-License-Identifier: MIT */
/*
 * rpc_connection: create_connection(address, timeout, source_address),
 * done entirely by psockd: resolve, then try each address in order until
 * one connects. It runs on the lookup pool, so waiting for a connection
 * holds a pool thread (bounded by the client's timeout), never the event
 * loop. Used when the client is told to (PSOCK_ROUTE=daemon) and when a
 * client may only hold sockets psockd has connected itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "authz.h"
#include "privops.h"
#include "rpc.h"

/* Milliseconds left until deadline (CLOCK_MONOTONIC ms), -1 for none. */
static int ms_left(long long deadline) {
  struct timespec ts;
  long long now;

  if (deadline < 0)
    return -1;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
  return now >= deadline ? 0 : (int)(deadline - now);
}

static int bind_source(struct rpc_call *call, int fd, int family) {
  const Psock__V1__CreateConnectionRequest *q = call->req->create_connection;
  struct addrinfo hints = {.ai_family = family, .ai_flags = AI_PASSIVE};
  struct addrinfo *res = NULL;
  char port[8];
  int e;

  if (!q->source_host && !q->has_source_port)
    return 0;
  snprintf(port, sizeof(port), "%u", q->has_source_port ? q->source_port : 0);
  e = getaddrinfo(q->source_host && *q->source_host ? q->source_host : NULL,
                  port, &hints, &res);
  if (e != 0)
    return -EADDRNOTAVAIL;
  struct policy_query bq = {.call = POLICY_BIND,
                            .family = family,
                            .addr = res->ai_addr,
                            .addrlen = res->ai_addrlen};
  /* A refusal sets the error reply; the caller sees it in result_case. */
  e = rpc_authorize(call, &bq) ? priv_bind(fd, res->ai_addr, res->ai_addrlen)
                               : -EACCES;
  freeaddrinfo(res);
  return e;
}

/* Connect fd to ai within the deadline. Returns 0, -ETIMEDOUT or -errno. */
static int connect_one(int fd, const struct addrinfo *ai, long long deadline) {
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  int err = 0, r;
  socklen_t len = sizeof(err);

  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
    return 0;
  if (errno != EINPROGRESS)
    return -errno;
  do
    r = poll(&p, 1, ms_left(deadline));
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return -ETIMEDOUT;
  if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return -errno;
  return -err;
}

/*
 * Policy for one candidate: the destination only. The socket never leaves
 * psockd unconnected, so a user whose rules grant `connect` but not
 * `socket` gets connected sockets and nothing else.
 */
static bool may_try(struct rpc_call *call, const struct addrinfo *ai) {
  struct policy_query cq = {.call = POLICY_CONNECT,
                            .family = ai->ai_family,
                            .addr = ai->ai_addr,
                            .addrlen = ai->ai_addrlen};
  return rpc_authorize(call, &cq);
}

static int try_address(struct rpc_call *call, const struct addrinfo *ai,
                       long long deadline) {
  int fd, e;

  fd = priv_socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK,
                   ai->ai_protocol);
  if (fd < 0)
    return fd;
  e = bind_source(call, fd, ai->ai_family);
  if (e == 0)
    e = connect_one(fd, ai, deadline);
  if (e < 0) {
    close(fd);
    return e;
  }
  /* The client sets its own mode; hand the socket over blocking. */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

static int reply_connected(struct rpc_call *call, int fd,
                           const struct addrinfo *ai) {
  Psock__V1__CreateConnectionReply *r =
      RPC_NEW(call, Psock__V1__CreateConnectionReply,
              PSOCK__V1__CREATE_CONNECTION_REPLY__INIT);
  Psock__V1__SocketInfo *i =
      RPC_NEW(call, Psock__V1__SocketInfo, PSOCK__V1__SOCKET_INFO__INIT);
  struct addr_buf *b = rpc_alloc(call, sizeof(*b));

  if (!r || !i || !b ||
      addr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, b, &r->peer) < 0) {
    close(fd);
    return -ENOMEM;
  }
  i->family = ai->ai_family;
  i->type = ai->ai_socktype;
  i->proto = ai->ai_protocol;
  r->info = i;
  call->resp.create_connection = r;
  return rpc_add_fd(call, fd);
}

/* The last candidate was refused by policy (its error reply is set). */
static bool refused(const struct rpc_call *call) {
  return call->resp.result_case == PSOCK__V1__RESPONSE__RESULT_ERROR;
}

static void create_connection_work(struct rpc_call *call) {
  const Psock__V1__CreateConnectionRequest *q = call->req->create_connection;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  Psock__V1__Error *denial = NULL;
  long long deadline = -1;
  char port[8];
  int e, last = -ECONNREFUSED;

  if (q->has_timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    deadline = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + q->timeout_ms;
  }
  snprintf(port, sizeof(port), "%u", q->port);
  e = getaddrinfo(q->host, port, &hints, &res);
  if (e != 0) {
    call->async_rc = rpc_fail(call, PSOCK__V1__ERROR__KIND__GAI_ERROR, e, "%s",
                              gai_strerror(e));
    return;
  }
  /* As the seed says: every address in order until one connects. */
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    int fd;

    call->resp.result_case = PSOCK__V1__RESPONSE__RESULT_CREATE_CONNECTION;
    fd = may_try(call, ai) ? try_address(call, ai, deadline) : -EACCES;
    if (fd >= 0) {
      call->async_rc = reply_connected(call, fd, ai);
      freeaddrinfo(res);
      return;
    }
    last = fd;
    denial = refused(call) ? call->resp.error : NULL;
    if (last == -ETIMEDOUT)
      break;
  }
  freeaddrinfo(res);
  /* The answer is the last attempt's: a denial, a timeout or an errno. */
  if (denial) {
    call->resp.result_case = PSOCK__V1__RESPONSE__RESULT_ERROR;
    call->resp.error = denial;
    call->async_rc = 0;
  } else if (last == -ETIMEDOUT) {
    call->async_rc =
        rpc_fail(call, PSOCK__V1__ERROR__KIND__TIMEOUT, ETIMEDOUT, "timed out");
  } else {
    call->async_rc = last;
  }
}

int rpc_create_connection(struct rpc_call *call) {
  const Psock__V1__CreateConnectionRequest *q = call->req->create_connection;

  if (q->port > 65535 || (q->has_source_port && q->source_port > 65535))
    return -EINVAL;
  return rpc_offload(call, create_connection_work);
}
