/* SPDX-License-Identifier: MIT */
/*
 * rpc: one request from a client, from decode to reply, and the handler
 * interface of psockd.
 *
 * The dispatcher (dispatch.c) owns everything that is the same for every
 * call: decoding, the handshake, the exact fd count, checking that passed
 * fds are sockets, policy, packing and sending the reply, closing fds. A
 * handler sees a decoded request whose fds are already checked, fills the
 * reply (or an error) and returns; it never writes to the client socket.
 *
 * Handler contract: return 0 when the reply (or an error set with
 * rpc_fail*) is filled in, -errno to answer with that OS error, or
 * RPC_ASYNC when the call goes on off the event loop (name lookups); an
 * async handler later ends the call with rpc_finish().
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lookup.h"
#include "psock.pb-c.h"
#include "wire.h"

#define RPC_ASYNC 1

struct conn;
struct rpc_call;

typedef int (*rpc_handler_fn)(struct rpc_call *call);

/* Policy checks the dispatcher makes itself (others are the handler's,
 * since they need resolved addresses or request fields). */
enum rpc_policy {
  RPC_POLICY_HANDLER = 0,
  RPC_POLICY_LOOKUP,
  RPC_POLICY_REVERSE
};

struct rpc_method {
  const char *name;
  rpc_handler_fn handler;
  uint8_t fds_in; /* exact number of fds the request must carry */
  uint8_t policy; /* enum rpc_policy */
};

/* A bump allocator; the first block lives inside the call. */
struct arena_block {
  struct arena_block *next;
  size_t used, size;
  max_align_t data[];
};

struct arena {
  struct arena_block *head; /* overflow blocks, newest first */
  size_t used;
  max_align_t first[4096 / sizeof(max_align_t)];
};

struct authz;

struct rpc_call {
  struct conn *conn;   /* holds a reference */
  struct authz *authz; /* policy snapshot this call is judged by */
  const struct rpc_method *method;
  Psock__V1__Request *req;
  uint64_t id;
  int fds_in[PSOCK_MAX_FDS];
  size_t nfds_in;
  int fd_family; /* SO_DOMAIN of fds_in[0], read by the dispatcher */
  Psock__V1__Response resp;
  int fds_out[PSOCK_MAX_FDS];
  size_t nfds_out;
  /* State of an RPC_ASYNC step (rpc_defer / rpc_resolve_then). */
  struct lookup_job job;
  void (*work)(struct rpc_call *call);  /* on the lookup pool */
  int (*resume)(struct rpc_call *call); /* back on the event loop */
  int (*then)(struct rpc_call *call);   /* after rpc_resolve_then */
  int gai_rc;                           /* failed lookup: EAI_* code */
  int async_rc;                         /* work() result, handler-style */
  const char *lookup_host;
  uint16_t lookup_port;
  int lookup_family;
  uint32_t lookup_flowinfo, lookup_scope_id;
  void *result;               /* handler-specific result of work() */
  struct sockaddr_storage sa; /* address for bind/connect/sendto */
  socklen_t salen;
  struct rpc_call *next_free;
  struct arena arena;
};

/* Allocate size bytes that live until the call ends; NULL on ENOMEM. */
void *rpc_alloc(struct rpc_call *call, size_t size);
char *rpc_strdup(struct rpc_call *call, const char *s);

/* Allocate and initialise a protobuf-c message of type T. */
#define RPC_NEW(call, T, INIT)                                                 \
  ({                                                                           \
    T *p_ = rpc_alloc((call), sizeof(T));                                      \
    if (p_)                                                                    \
      *p_ = (T)INIT;                                                           \
    p_;                                                                        \
  })

/* Answer with a typed error; returns 0 so handlers can `return rpc_fail()`. */
int rpc_fail(struct rpc_call *call, Psock__V1__Error__Kind kind, int code,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Take ownership of fd as the next fd of the reply. Returns 0 or -EMSGSIZE
 * (fd is closed then). */
int rpc_add_fd(struct rpc_call *call, int fd);

/* End an RPC_ASYNC call: rc as a handler would return it. */
void rpc_finish(struct rpc_call *call, int rc);

/*
 * Resolve call's inet/inet6 host name (in family) on the lookup pool, store
 * the first address with port into call->sa/salen and run resume() on the
 * event loop. Returns RPC_ASYNC; resume() failure codes follow the handler
 * contract. The answer to a failed lookup is a GAI_ERROR.
 */
int rpc_resolve_then(struct rpc_call *call, const Psock__V1__Address *addr,
                     int family, int (*resume)(struct rpc_call *call));

/* Run work on the lookup pool, then resume on the event loop. */
int rpc_defer(struct rpc_call *call, void (*work)(struct rpc_call *call),
              int (*resume)(struct rpc_call *call));

/*
 * Run work on the lookup pool; work fills the reply itself and leaves a
 * handler-style result in call->async_rc. Returns RPC_ASYNC.
 */
int rpc_offload(struct rpc_call *call, void (*work)(struct rpc_call *call));

/*
 * Policy check of call's socket operation on call->sa (already numeric).
 * Returns 1 if allowed, 0 if denied (error reply set, denial logged).
 */
int rpc_authorize_addr(struct rpc_call *call, int policy_call);

/* The socket family of an fd (SO_DOMAIN), or -errno. */
int rpc_fd_family(int fd);

/*
 * Turn a request Address into call->sa/salen; names are resolved first.
 * Returns 0 (sa ready, run resume yourself), RPC_ASYNC (resume will run),
 * or -errno.
 */
int rpc_address(struct rpc_call *call, const Psock__V1__Address *addr,
                int family, int (*resume)(struct rpc_call *call));

/* Handlers, one per call (rpc_socket.c, rpc_names.c). */
int rpc_socket(struct rpc_call *call);
int rpc_socketpair(struct rpc_call *call);
int rpc_fromfd(struct rpc_call *call);
int rpc_create_connection(struct rpc_call *call);
int rpc_bind(struct rpc_call *call);
int rpc_connect(struct rpc_call *call);
int rpc_listen(struct rpc_call *call);
int rpc_accept(struct rpc_call *call);
int rpc_setsockopt(struct rpc_call *call);
int rpc_getsockopt(struct rpc_call *call);
int rpc_getsockname(struct rpc_call *call);
int rpc_getpeername(struct rpc_call *call);
int rpc_shutdown(struct rpc_call *call);
int rpc_sendto(struct rpc_call *call);
int rpc_getaddrinfo(struct rpc_call *call);
int rpc_getnameinfo(struct rpc_call *call);
int rpc_gethostbyname(struct rpc_call *call);
int rpc_gethostbyname_ex(struct rpc_call *call);
int rpc_gethostbyaddr(struct rpc_call *call);
int rpc_gethostname(struct rpc_call *call);
int rpc_getfqdn(struct rpc_call *call);
int rpc_getprotobyname(struct rpc_call *call);
int rpc_getservbyname(struct rpc_call *call);
int rpc_getservbyport(struct rpc_call *call);
int rpc_has_ipv6(struct rpc_call *call);
