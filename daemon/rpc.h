/* SPDX-License-Identifier: MIT */
/*
 * rpc: the handlers of the calls a worker serves, one per Request.call
 * case, and the steps several of them share. dispatch.c's method table
 * names them; each ends in one of the outcomes of call.h.
 *
 * Before a handler runs, the dispatcher has checked: the request decoded,
 * the sender is the connection's process (SCM_CREDENTIALS), the handshake
 * came first, the call is known, it carries exactly the fds it takes and
 * each is a socket (call->fd_family is the first one's family), and for
 * name-service calls the policy. A handler never writes to the client.
 *
 * Trust boundary: every field of call->req is the client's choice. What a
 * handler passes to the kernel comes from an allow-list (send flags, socket
 * options, address families), so that the kernel never keeps a reference
 * to the worker's memory or fd table after a call returns.
 */
#pragma once

#include <sys/socket.h>

#include "call.h"

typedef enum rpc_outcome (*rpc_handler_fn)(struct rpc_call *call);

/* What the policy asks of a call before its handler runs (the others are
 * the handler's, since they need resolved addresses or request fields). */
enum rpc_policy {
  RPC_POLICY_HANDLER = 0,
  RPC_POLICY_LOOKUP,
  RPC_POLICY_REVERSE
};

/* A numeric address, ready for the kernel. */
struct rpc_sockaddr {
  struct sockaddr_storage sa;
  socklen_t len;
};

/*
 * Turn a request Address into a sockaddr and continue with then(): at once
 * for a numeric address; for a host name after the resolver answered (the
 * first address, in the socket's own family), or with a GAI_ERROR. The
 * sockaddr lives in call's arena. Returns then()'s outcome, RPC_PENDING or
 * RPC_FAILED.
 */
enum rpc_outcome
rpc_with_address(struct rpc_call *call, const Psock__V1__Address *addr,
                 int family,
                 enum rpc_outcome (*then)(struct rpc_call *call,
                                          const struct rpc_sockaddr *sa));

/* Ask the resolver for the addresses of host (port in each), for
 * create_connection; done() gets the reply, NULL on failure. */
enum rpc_outcome rpc_resolve_host(struct rpc_call *call, const char *host,
                                  uint32_t port, int family, int socktype,
                                  void (*done)(struct rpc_call *call,
                                               const Psock__V1__Response *r));

/*
 * Turn an address the resolver gave into a sockaddr: only an inet or inet6
 * one (a host name never names a unix path: the resolver runs NSS modules
 * and is the client's own process, so what it says is not trusted to
 * reach bind or connect as anything else). 0 or -errno.
 */
int rpc_resolved_sockaddr(const Psock__V1__Address *a,
                          struct rpc_sockaddr *ret);

/* Handlers (rpc_socket.c, rpc_connection.c, rpc_lookup.c). */
enum rpc_outcome rpc_socket(struct rpc_call *call);
enum rpc_outcome rpc_socketpair(struct rpc_call *call);
enum rpc_outcome rpc_fromfd(struct rpc_call *call);
enum rpc_outcome rpc_create_connection(struct rpc_call *call);
enum rpc_outcome rpc_bind(struct rpc_call *call);
enum rpc_outcome rpc_connect(struct rpc_call *call);
enum rpc_outcome rpc_listen(struct rpc_call *call);
enum rpc_outcome rpc_accept(struct rpc_call *call);
enum rpc_outcome rpc_setsockopt(struct rpc_call *call);
enum rpc_outcome rpc_getsockopt(struct rpc_call *call);
enum rpc_outcome rpc_getsockname(struct rpc_call *call);
enum rpc_outcome rpc_getpeername(struct rpc_call *call);
enum rpc_outcome rpc_shutdown(struct rpc_call *call);
enum rpc_outcome rpc_sendto(struct rpc_call *call);
/* Every name-service call: forwarded to the resolver as it came. */
enum rpc_outcome rpc_lookup(struct rpc_call *call);
