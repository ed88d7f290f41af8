/* SPDX-License-Identifier: MIT */
/*
 * dispatch: the one place where a client's request packet becomes a call,
 * through the one method table.
 *
 * Trust boundary: buf and fds come straight from a client. In order, this
 * file checks that the packet decodes as a Request and that fd_count equals
 * the fds that arrived (framing: the connection is closed), that the sender
 * is the process the connection belongs to (the kernel's SCM_CREDENTIALS:
 * another one is answered and the connection closed), that the handshake
 * came first, that the call is one we serve, that it carries exactly the
 * fds it takes and that each is a socket, the in-flight limit, and the
 * policy of name-service calls. Only then does a handler run.
 */
#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bounds.h"
#include "closer.h"
#include "config.h"
#include "log.h"
#include "page.h"
#include "rpc.h"

struct rpc_method {
  const char *name;
  rpc_handler_fn handler;
  uint8_t fds_in; /* exact number of fds the request must carry */
  uint8_t policy; /* enum rpc_policy */
};

static enum rpc_outcome rpc_hello(struct rpc_call *call);

#define M(case_, name_, fn_, fds_)                                             \
  [PSOCK__V1__REQUEST__CALL_##                                                 \
      case_] = {.name = name_, .handler = fn_, .fds_in = fds_}
#define L(case_, name_, pol_)                                                  \
  [PSOCK__V1__REQUEST__CALL_##case_] = {                                       \
      .name = name_, .handler = rpc_lookup, .policy = RPC_POLICY_##pol_}

/* The method table: one entry per Request.call case. */
static const struct rpc_method methods[] = {
    M(HELLO, "hello", rpc_hello, 0),
    M(SOCKET, "socket", rpc_socket, 0),
    M(SOCKETPAIR, "socketpair", rpc_socketpair, 0),
    M(FROMFD, "fromfd", rpc_fromfd, 1),
    M(CREATE_CONNECTION, "create_connection", rpc_create_connection, 0),
    M(BIND, "bind", rpc_bind, 1),
    M(CONNECT, "connect", rpc_connect, 1),
    M(LISTEN, "listen", rpc_listen, 1),
    M(ACCEPT, "accept", rpc_accept, 1),
    M(SETSOCKOPT, "setsockopt", rpc_setsockopt, 1),
    M(GETSOCKOPT, "getsockopt", rpc_getsockopt, 1),
    M(GETSOCKNAME, "getsockname", rpc_getsockname, 1),
    M(GETPEERNAME, "getpeername", rpc_getpeername, 1),
    M(SHUTDOWN, "shutdown", rpc_shutdown, 1),
    M(SENDTO, "sendto", rpc_sendto, 1),
    L(GETADDRINFO, "getaddrinfo", LOOKUP),
    L(GETNAMEINFO, "getnameinfo", REVERSE),
    L(GETHOSTBYNAME, "gethostbyname", LOOKUP),
    L(GETHOSTBYNAME_EX, "gethostbyname_ex", LOOKUP),
    L(GETHOSTBYADDR, "gethostbyaddr", REVERSE),
    L(GETHOSTNAME, "gethostname", LOOKUP),
    L(GETFQDN, "getfqdn", REVERSE),
    L(GETPROTOBYNAME, "getprotobyname", LOOKUP),
    L(GETSERVBYNAME, "getservbyname", LOOKUP),
    L(GETSERVBYPORT, "getservbyport", LOOKUP),
    L(HAS_IPV6, "has_ipv6", LOOKUP),
};

#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

static const struct rpc_method *method_of(int call_case) {
  if (call_case <= 0 || (size_t)call_case >= N_METHODS ||
      !methods[call_case].handler)
    return NULL;
  return &methods[call_case];
}

/* ----------------------------------------------------------- handshake */

size_t dispatch_features(const char **names, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < N_METHODS && n < max; i++)
    if (methods[i].handler && methods[i].handler != rpc_hello)
      names[n++] = methods[i].name;
  return n;
}

/* The identity's policy page, as the reply's one fd, for a client that
 * takes it (Hello.page); without a page, no fd and every call asks. */
static void hello_page(struct rpc_call *call, Psock__V1__HelloReply *r) {
  int fd = page_dup_fd(call->conn->set->page);

  r->has_page = true;
  r->page = fd >= 0 && rpc_add_fd(call, fd) == 0;
}

static enum rpc_outcome rpc_hello(struct rpc_call *call) {
  const Psock__V1__Hello *h = call->req->hello;
  struct conn *c = call->conn;
  Psock__V1__HelloReply *r;
  const char **features;

  if (c->hello_done)
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EPROTO,
                    "handshake already done");
  if (h->protocol_version != PSOCK_PROTOCOL_VERSION) {
    log_limited(
        LOG_WARNING, "conn %" PRIu64 ": uid %u speaks protocol %u, we speak %u",
        c->serial, c->peer.uid, h->protocol_version, PSOCK_PROTOCOL_VERSION);
    c->close_when_sent = true;
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR,
                    EPROTONOSUPPORT,
                    "protocol version %u not supported (psockd speaks %u)",
                    h->protocol_version, PSOCK_PROTOCOL_VERSION);
  }
  r = RPC_NEW(call, Psock__V1__HelloReply, PSOCK__V1__HELLO_REPLY__INIT);
  features = rpc_alloc(call, N_METHODS * sizeof(*features));
  if (!r || !features)
    return rpc_errno(call, -ENOMEM);
  r->protocol_version = PSOCK_PROTOCOL_VERSION;
  r->daemon_version = (char *)PSOCK_VERSION;
  r->n_features = dispatch_features(features, N_METHODS);
  r->features = (char **)features;
  r->max_packet = PSOCK_MAX_PACKET;
  r->has_sendto_restricted = true;
  r->sendto_restricted = rpc_sendto_restricted(call);
  if (h->has_page && h->page)
    hello_page(call, r);
  c->hello_done = true;
  call->resp.hello = r;
  return RPC_REPLIED;
}

/* ------------------------------------------------------------- checks */

/*
 * The sender must be the process the connection was opened by, as it is
 * now: a process that changed its uid or gid since (a server dropping
 * root), or another process the connection fd was passed to, would
 * otherwise be judged as someone it no longer is.
 */
static bool sender_is_peer(const struct conn *c, const struct ucred *cr) {
  return cr->uid == c->peer.uid && cr->gid == c->peer.gid &&
         cr->pid == c->peer.pid;
}

static enum rpc_outcome refuse_sender(struct rpc_call *call,
                                      const struct ucred *cr) {
  struct conn *c = call->conn;

  log_limited(LOG_WARNING,
              "conn %" PRIu64 ": request from pid %d uid %u gid %u on the "
              "connection of pid %d uid %u gid %u: refused, closing",
              c->serial, cr->pid, cr->uid, cr->gid, c->peer.pid, c->peer.uid,
              c->peer.gid);
  c->close_when_sent = true;
  return rpc_fail(call, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EACCES,
                  "this connection belongs to pid %d uid %u gid %u, not to "
                  "the sender (pid %d uid %u gid %u): open a connection of "
                  "your own",
                  c->peer.pid, c->peer.uid, c->peer.gid, cr->pid, cr->uid,
                  cr->gid);
}

/* SO_DOMAIN answers ENOTSOCK for anything but a socket, and the handlers
 * need the family: one system call does for both (call->fd_family). */
static int check_fds_are_sockets(struct rpc_call *call) {
  for (size_t i = 0; i < call->nfds_in; i++) {
    socklen_t len = sizeof(int);
    int family;

    if (getsockopt(call->fds_in[i], SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
      return -errno;
    if (i == 0)
      call->fd_family = family;
  }
  return 0;
}

static bool lookup_allowed(struct rpc_call *call, const struct rpc_method *m) {
  struct policy_query q = {
      .call = m->policy == RPC_POLICY_LOOKUP ? POLICY_LOOKUP : POLICY_REVERSE};

  return m->policy == RPC_POLICY_HANDLER || rpc_allowed(call, &q);
}

/* The checks that answer with a typed error; the connection stays. Returns
 * RPC_REPLIED when the handler may run. */
static enum rpc_outcome check_call(struct rpc_call *call, int call_case) {
  const struct rpc_method *m = method_of(call_case);
  struct conn *c = call->conn;
  int r;

  if (!m) {
    /* A call this schema lacks arrives as an unknown field: name it. */
    unsigned number = (unsigned)call_case;
    if (call_case == 0 && call->req->base.n_unknown_fields > 0)
      number = call->req->base.unknown_fields[0].tag;
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, ENOSYS,
                    "unknown call %u", number);
  }
  if (call->nfds_in != m->fds_in)
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EPROTO,
                    "%s takes %u fd(s), got %zu", m->name, m->fds_in,
                    call->nfds_in);
  if (c->inflight >= bounds.inflight_per_conn) {
    log_limited(LOG_NOTICE,
                "conn %" PRIu64 " (uid %u): %u requests in flight: %s refused",
                c->serial, c->peer.uid, c->inflight, m->name);
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EAGAIN,
                    "too many requests in flight on this connection");
  }
  r = check_fds_are_sockets(call);
  if (r < 0)
    return rpc_errno(call, r);
  if (!lookup_allowed(call, m))
    return rpc_refuse(call);
  return RPC_REPLIED;
}

/* ------------------------------------------------------------ dispatch */

/* Decode buf into call; -errno for a framing error (already logged). */
static int decode(struct rpc_call *call, const uint8_t *buf, size_t len) {
  struct conn *c = call->conn;
  ProtobufCAllocator alloc;

  call_allocator(call, &alloc);
  call->req = psock__v1__request__unpack(&alloc, len, buf);
  if (!call->req) {
    log_limited(LOG_WARNING,
                "conn %" PRIu64 " (uid %u): undecodable packet of %zu bytes",
                c->serial, c->peer.uid, len);
    return -EBADMSG;
  }
  if (call->req->fd_count != call->nfds_in) {
    log_limited(LOG_WARNING,
                "conn %" PRIu64 " (uid %u): fd_count %u but %zu fds arrived",
                c->serial, c->peer.uid, call->req->fd_count, call->nfds_in);
    return -EPROTO;
  }
  return 0;
}

int dispatch_packet(struct conn *c, const uint8_t *buf, size_t len, int *fds,
                    size_t nfds, const struct ucred *sender) {
  struct rpc_call *call = call_new(c);
  const struct rpc_method *m;
  enum rpc_outcome out;
  int call_case, r;

  if (!call) {
    closer_add_fds(c->set->closer, fds, nfds);
    return -ENOMEM;
  }
  if (nfds > PSOCK_MAX_FDS) {
    /* wire_recv_packet() never passes more; do not trust that here. */
    closer_add_fds(c->set->closer, fds, nfds);
    call_release(call);
    return -EPROTO;
  }
  memcpy(call->fds_in, fds, nfds * sizeof(int));
  call->nfds_in = nfds;
  r = decode(call, buf, len);
  if (r < 0) {
    call_release(call);
    return r;
  }
  call_case = (int)call->req->call_case;
  call->id = call->req->id;
  m = method_of(call_case);
  call->name = m ? m->name : "unknown";
  /* Reply and request share case numbers: see psock.proto. */
  call->resp.result_case = (Psock__V1__Response__ResultCase)call_case;
  if (!sender_is_peer(c, sender)) {
    rpc_finish(call, refuse_sender(call, sender));
    return 0;
  }
  if (!c->hello_done && call_case != PSOCK__V1__REQUEST__CALL_HELLO) {
    log_limited(LOG_WARNING,
                "conn %" PRIu64 " (uid %u): request %d before handshake",
                c->serial, c->peer.uid, call_case);
    call_release(call);
    return -EPROTO;
  }
  out = check_call(call, call_case);
  if (out == RPC_REPLIED)
    out = m->handler(call);
  if (out != RPC_PENDING)
    rpc_finish(call, out);
  return 0;
}
