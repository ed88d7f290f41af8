/* SPDX-License-Identifier: MIT */
/*
 * rpc_connection: create_connection(address, timeout, source_address), done
 * entirely by psockd: resolve (in the resolver), then try each address in
 * order until one connects. Every step runs on the event loop: the
 * connects are non-blocking and watched with epoll, the timeout is a
 * timerfd, and nothing holds a thread while a peer does not answer. A
 * client that goes away cancels the attempt (its socket is closed at once).
 *
 * The socket never leaves psockd unconnected, so a user whose rules grant
 * `connect` but not `socket` gets connected sockets and nothing else; this
 * is how a destination rule binds a client that holds only such sockets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "addr.h"
#include "privask.h"
#include "rpc.h"

/* Candidates tried from one lookup, in the resolver's order. */
#define CC_MAX_ADDRS 16

struct cc_addr {
  struct rpc_sockaddr sa;
  int proto;
};

struct cc {
  struct watch sock_watch; /* the attempt in progress */
  struct watch timer_watch;
  struct rpc_call *call;
  struct loop *loop;
  struct cc_addr addrs[CC_MAX_ADDRS];
  size_t n, next;
  int fd, tfd;
  bool has_source;
  struct rpc_sockaddr source; /* port and address, in the family below */
  int source_family;
  const Psock__V1__Error *denial; /* the last candidate's refusal */
  int last;                       /* the last candidate's -errno */
};

static struct cc *cc_of_sock(struct watch *w) {
  return (struct cc *)((char *)w - offsetof(struct cc, sock_watch));
}

static struct cc *cc_of_timer(struct watch *w) {
  return (struct cc *)((char *)w - offsetof(struct cc, timer_watch));
}

static void cc_drop_attempt(struct cc *cc) {
  if (cc->fd < 0)
    return;
  loop_del(cc->loop, cc->fd, &cc->sock_watch);
  /* Ours alone: never handed out, no linger set. */
  close(cc->fd);
  cc->fd = -1;
}

static void cc_end(struct cc *cc) {
  cc_drop_attempt(cc);
  if (cc->tfd >= 0) {
    loop_del(cc->loop, cc->tfd, &cc->timer_watch);
    close(cc->tfd);
    cc->tfd = -1;
  }
}

/* -------------------------------------------------------------- source */

/* The source address, numeric: "" or absent is any address. */
static int parse_source(struct cc *cc, const char *host, uint32_t port) {
  struct sockaddr_in *sin = (struct sockaddr_in *)&cc->source.sa;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&cc->source.sa;

  memset(&cc->source, 0, sizeof(cc->source));
  cc->has_source = true;
  if (!host || !*host) {
    cc->source_family = AF_UNSPEC;
  } else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
    cc->source_family = AF_INET;
  } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
    cc->source_family = AF_INET6;
  } else {
    return -EADDRNOTAVAIL; /* a source address is numeric */
  }
  sin->sin_port = htons((uint16_t)port); /* same offset in both */
  return 0;
}

/* The source for a candidate of family, or NULL (the family differs). */
static const struct rpc_sockaddr *source_for(struct cc *cc, int family,
                                             struct rpc_sockaddr *tmp) {
  *tmp = cc->source;
  if (cc->source_family != AF_UNSPEC && cc->source_family != family)
    return NULL;
  tmp->sa.ss_family = (sa_family_t)family;
  tmp->len = family == AF_INET ? sizeof(struct sockaddr_in)
                               : sizeof(struct sockaddr_in6);
  return tmp;
}

static int bind_source(struct cc *cc, int fd, int family) {
  struct rpc_sockaddr tmp;
  const struct rpc_sockaddr *src;
  struct policy_query q = {.call = POLICY_BIND, .family = family};

  if (!cc->has_source)
    return 0;
  src = source_for(cc, family, &tmp);
  if (!src)
    return -EAFNOSUPPORT;
  q.addr = (const struct sockaddr *)&src->sa;
  q.addrlen = src->len;
  if (!rpc_allowed(cc->call, &q)) {
    rpc_refuse(cc->call);
    return -EACCES;
  }
  if (bind(fd, (const struct sockaddr *)&src->sa, src->len) == 0)
    return 0;
  return privask_bind(fd, (const struct sockaddr *)&src->sa, src->len, -errno);
}

/* ----------------------------------------------------------- attempts */

static enum rpc_outcome cc_connected(struct cc *cc) {
  struct rpc_call *call = cc->call;
  const struct cc_addr *a = &cc->addrs[cc->next - 1];
  Psock__V1__CreateConnectionReply *r =
      RPC_NEW(call, Psock__V1__CreateConnectionReply,
              PSOCK__V1__CREATE_CONNECTION_REPLY__INIT);
  Psock__V1__SocketInfo *i =
      RPC_NEW(call, Psock__V1__SocketInfo, PSOCK__V1__SOCKET_INFO__INIT);
  struct addr_buf *b = rpc_alloc(call, sizeof(*b));
  int fd = cc->fd;

  loop_del(cc->loop, fd, &cc->sock_watch);
  cc->fd = -1;
  cc_end(cc);
  if (rpc_add_fd(call, fd) < 0)
    return rpc_errno(call, -EMSGSIZE);
  /* The client sets its own mode; hand the socket over blocking. */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if (!r || !i || !b ||
      addr_from_sockaddr((const struct sockaddr *)&a->sa.sa, a->sa.len, b,
                         &r->peer) < 0)
    return rpc_errno(call, -ENOMEM);
  i->family = a->sa.sa.ss_family;
  i->type = SOCK_STREAM;
  i->proto = a->proto;
  r->info = i;
  call->resp.create_connection = r;
  return RPC_REPLIED;
}

/* The answer once every candidate failed: a denial, a timeout or errno. */
static enum rpc_outcome cc_failed(struct cc *cc) {
  struct rpc_call *call = cc->call;

  cc_end(cc);
  if (cc->denial) {
    call->resp.result_case = PSOCK__V1__RESPONSE__RESULT_ERROR;
    call->resp.error = (Psock__V1__Error *)cc->denial;
    return RPC_FAILED;
  }
  if (cc->last == -ETIMEDOUT)
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__TIMEOUT, ETIMEDOUT,
                    "timed out");
  return rpc_errno(call, cc->last);
}

static void cc_cancel(struct rpc_call *call) {
  cc_end(call->state);
  rpc_finish(call, rpc_errno(call, -ECANCELED));
}

/* Start the next candidate's connect. -errno if it failed at once, 0 if it
 * connected, 1 if it is in progress. */
static int cc_start(struct cc *cc, const struct cc_addr *a) {
  struct policy_query q = {.call = POLICY_CONNECT,
                           .family = a->sa.sa.ss_family,
                           .addr = (const struct sockaddr *)&a->sa.sa,
                           .addrlen = a->sa.len};
  int e;

  if (!rpc_allowed(cc->call, &q)) {
    rpc_refuse(cc->call);
    return -EACCES;
  }
  cc->fd = socket(a->sa.sa.ss_family,
                  SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, a->proto);
  if (cc->fd < 0)
    return -errno;
  e = bind_source(cc, cc->fd, a->sa.sa.ss_family);
  if (e < 0)
    return e;
  if (connect(cc->fd, (const struct sockaddr *)&a->sa.sa, a->sa.len) == 0)
    return 0;
  if (errno != EINPROGRESS)
    return -errno;
  e = loop_add(cc->loop, cc->fd, EPOLLOUT, &cc->sock_watch);
  return e < 0 ? e : 1;
}

/* As the seed says: every address in order until one connects. */
static enum rpc_outcome cc_try_next(struct cc *cc) {
  while (cc->next < cc->n) {
    const struct cc_addr *a = &cc->addrs[cc->next++];
    int r;

    cc->call->resp.result_case = PSOCK__V1__RESPONSE__RESULT_CREATE_CONNECTION;
    r = cc_start(cc, a);
    if (r == 0)
      return cc_connected(cc);
    if (r == 1)
      return rpc_pending(cc->call, cc_cancel);
    cc_drop_attempt(cc);
    cc->last = r;
    cc->denial = cc->call->resp.result_case == PSOCK__V1__RESPONSE__RESULT_ERROR
                     ? cc->call->resp.error
                     : NULL;
  }
  return cc_failed(cc);
}

static void cc_on_sock(struct watch *w, uint32_t events) {
  struct cc *cc = cc_of_sock(w);
  int err = 0;
  socklen_t len = sizeof(err);
  enum rpc_outcome out;

  rpc_resumed(cc->call);
  if (getsockopt(cc->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err == 0) {
    out = cc_connected(cc);
  } else {
    cc_drop_attempt(cc);
    cc->last = -err;
    cc->denial = NULL;
    out = cc_try_next(cc);
  }
  if (out != RPC_PENDING)
    rpc_finish(cc->call, out);
}

static void cc_on_timer(struct watch *w, uint32_t events) {
  struct cc *cc = cc_of_timer(w);

  rpc_resumed(cc->call);
  cc_drop_attempt(cc);
  cc->last = -ETIMEDOUT;
  cc->denial = NULL;
  rpc_finish(cc->call, cc_failed(cc));
}

static int cc_arm_timer(struct cc *cc, uint32_t timeout_ms) {
  struct itimerspec its = {
      .it_value = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L}};

  if (timeout_ms == 0)
    its.it_value.tv_nsec = 1; /* 0 would disarm: expire at once */
  cc->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (cc->tfd < 0)
    return -errno;
  if (timerfd_settime(cc->tfd, 0, &its, NULL) < 0)
    return -errno;
  return loop_add(cc->loop, cc->tfd, EPOLLIN, &cc->timer_watch);
}

/* The addresses are known: arm the timeout, try the first. RPC_PENDING,
 * or the outcome with cc ended. */
static enum rpc_outcome cc_begin(struct cc *cc) {
  const Psock__V1__CreateConnectionRequest *q =
      cc->call->req->create_connection;
  int e = q->has_timeout_ms ? cc_arm_timer(cc, q->timeout_ms) : 0;
  enum rpc_outcome out = e < 0 ? rpc_errno(cc->call, e) : cc_try_next(cc);

  if (out != RPC_PENDING)
    cc_end(cc);
  return out;
}

/*
 * A numeric host is its own one address, as getaddrinfo() would give it
 * (AI_NUMERICHOST): no round trip to the resolver. Anything else (names,
 * the "127.1" forms inet_aton() takes) is the resolver's.
 */
static bool cc_numeric(struct cc *cc, const char *host, uint32_t port) {
  struct cc_addr *a = &cc->addrs[0];
  struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa.sa;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa.sa;

  memset(a, 0, sizeof(*a));
  if (host && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    a->sa.len = sizeof(*sin);
  } else if (host && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    a->sa.len = sizeof(*sin6);
  } else {
    return false;
  }
  a->proto = IPPROTO_TCP;
  cc->n = 1;
  return true;
}

/* The resolver answered: try its addresses. */
static void cc_resolved(struct rpc_call *call, const Psock__V1__Response *r) {
  struct cc *cc = call->state;
  enum rpc_outcome out;

  if (!r || r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR) {
    if (r)
      call->resp = *r;
    rpc_finish(call, r ? RPC_FAILED : rpc_errno(call, -EIO));
    return;
  }
  for (size_t i = 0; i < r->getaddrinfo->n_results && cc->n < CC_MAX_ADDRS;
       i++) {
    const Psock__V1__AddrInfo *ai = r->getaddrinfo->results[i];
    struct cc_addr *a = &cc->addrs[cc->n];
    if (rpc_resolved_sockaddr(ai->address, &a->sa) == 0) {
      a->proto = ai->proto;
      cc->n++;
    }
  }
  out = cc_begin(cc);
  if (out != RPC_PENDING)
    rpc_finish(call, out);
}

enum rpc_outcome rpc_create_connection(struct rpc_call *call) {
  const Psock__V1__CreateConnectionRequest *q = call->req->create_connection;
  struct cc *cc = rpc_alloc(call, sizeof(*cc));
  int e;

  if (q->port > 65535 || (q->has_source_port && q->source_port > 65535))
    return rpc_errno(call, -EINVAL);
  if (!cc)
    return rpc_errno(call, -ENOMEM);
  memset(cc, 0, sizeof(*cc));
  cc->call = call;
  cc->loop = call->conn->set->loop;
  cc->fd = cc->tfd = -1;
  cc->last = -ECONNREFUSED;
  cc->sock_watch.on_event = cc_on_sock;
  cc->timer_watch.on_event = cc_on_timer;
  if (q->source_host || q->has_source_port) {
    e = parse_source(cc, q->source_host,
                     q->has_source_port ? q->source_port : 0);
    if (e < 0)
      return rpc_errno(call, e);
  }
  call->state = cc;
  if (cc_numeric(cc, q->host, q->port))
    return cc_begin(cc);
  return rpc_resolve_host(call, q->host, q->port, AF_UNSPEC, SOCK_STREAM,
                          cc_resolved);
}
