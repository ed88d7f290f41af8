/* SPDX-License-Identifier: MIT */
/*
 * rpc_address: the steps handlers share to turn a request's address into a
 * sockaddr: numeric at once, a host name through the worker's resolver
 * (resolveask.c), the first address it gives in the socket's family, as
 * the seed says; and the lookup of all of a host's addresses for
 * create_connection.
 *
 * Trust boundary: the address is the client's; the answers are the
 * resolver's (decoded by resolveask.c into the call's arena).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "resolveask.h"
#include "rpc.h"

enum rpc_outcome rpc_resolve_host(struct rpc_call *call, const char *host,
                                  uint32_t port, int family, int socktype,
                                  void (*done)(struct rpc_call *call,
                                               const Psock__V1__Response *r)) {
  Psock__V1__Request *req =
      RPC_NEW(call, Psock__V1__Request, PSOCK__V1__REQUEST__INIT);
  Psock__V1__GetaddrinfoRequest *g =
      RPC_NEW(call, Psock__V1__GetaddrinfoRequest,
              PSOCK__V1__GETADDRINFO_REQUEST__INIT);
  char *service = rpc_alloc(call, 8);

  if (!req || !g || !service)
    return rpc_errno(call, -ENOMEM);
  snprintf(service, 8, "%u", port);
  g->host = (char *)host;
  g->service = service;
  g->has_family = true;
  g->family = family;
  g->has_socktype = socktype != 0;
  g->socktype = socktype;
  req->call_case = PSOCK__V1__REQUEST__CALL_GETADDRINFO;
  req->getaddrinfo = g;
  return resolveask(call, req, done);
}

struct with_address {
  enum rpc_outcome (*then)(struct rpc_call *call,
                           const struct rpc_sockaddr *sa);
  uint32_t flowinfo, scope_id;
  struct rpc_sockaddr sa;
};

int rpc_resolved_sockaddr(const Psock__V1__Address *a,
                          struct rpc_sockaddr *ret) {
  if (!a || (a->addr_case != PSOCK__V1__ADDRESS__ADDR_INET &&
             a->addr_case != PSOCK__V1__ADDRESS__ADDR_INET6))
    return -EAFNOSUPPORT;
  return addr_to_sockaddr(a, &ret->sa, &ret->len);
}

/* The seed: a host name means the first address the resolver gives. */
static void address_resolved(struct rpc_call *call,
                             const Psock__V1__Response *r) {
  struct with_address *st = call->state;
  const Psock__V1__GetaddrinfoReply *g;

  if (!r) {
    rpc_finish(call, rpc_errno(call, -EIO));
    return;
  }
  if (r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR) {
    call->resp = *r;
    rpc_finish(call, RPC_FAILED);
    return;
  }
  g = r->getaddrinfo;
  if (g->n_results == 0 ||
      rpc_resolved_sockaddr(g->results[0]->address, &st->sa) < 0) {
    rpc_finish(call, rpc_fail(call, PSOCK__V1__ERROR__KIND__GAI_ERROR,
                              EAI_NONAME, "%s", gai_strerror(EAI_NONAME)));
    return;
  }
  if (st->sa.sa.ss_family == AF_INET6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&st->sa.sa;
    sin6->sin6_flowinfo = htonl(st->flowinfo);
    if (st->scope_id)
      sin6->sin6_scope_id = st->scope_id;
  }
  rpc_finish(call, st->then(call, &st->sa));
}

enum rpc_outcome
rpc_with_address(struct rpc_call *call, const Psock__V1__Address *addr,
                 int family,
                 enum rpc_outcome (*then)(struct rpc_call *call,
                                          const struct rpc_sockaddr *sa)) {
  struct with_address *st = rpc_alloc(call, sizeof(*st));
  const char *host;
  uint32_t port;
  int r;

  if (!st)
    return rpc_errno(call, -ENOMEM);
  if (!addr)
    return rpc_errno(call, -EINVAL);
  *st = (struct with_address){.then = then};
  if (!addr_needs_lookup(addr)) {
    r = addr_to_sockaddr(addr, &st->sa.sa, &st->sa.len);
    return r < 0 ? rpc_errno(call, r) : then(call, &st->sa);
  }
  if (addr->addr_case == PSOCK__V1__ADDRESS__ADDR_INET) {
    host = addr->inet->host;
    port = addr->inet->port;
  } else {
    host = addr->inet6->host;
    port = addr->inet6->port;
    st->flowinfo = addr->inet6->flowinfo;
    st->scope_id = addr->inet6->scope_id;
  }
  if (port > 65535)
    return rpc_errno(call, -EINVAL);
  call->state = st;
  return rpc_resolve_host(call, host, port, family, 0, address_resolved);
}
