/* SPDX-License-Identifier: MIT */
/*
 * call: one request from a client, from decode to reply: its arena, its
 * fds, its reply, and the two ways a handler ends it.
 *
 * A handler returns one of three outcomes:
 *   RPC_REPLIED  it filled the reply (call->resp.<member>);
 *   RPC_FAILED   it set an error (rpc_fail(), rpc_errno(), rpc_refuse());
 *   RPC_PENDING  the call goes on off the loop (rpc_pending()); whoever
 *                completes it later calls rpc_finish() with one of the two
 *                above.
 * rpc_allowed() answers a policy question with a bool and remembers the
 * decision, so that a refusal is `return rpc_refuse(call);`.
 *
 * Trust boundary: the request was decoded by dispatch.c from a client's
 * packet; its fds were checked to be sockets. Everything the reply carries
 * goes through conn_send().
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"
#include "policy.h"
#include "psock.pb-c.h"
#include "wire.h"

struct authz;
struct rpc_call;

enum rpc_outcome { RPC_REPLIED, RPC_FAILED, RPC_PENDING };

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

struct rpc_call {
  struct conn *conn;   /* holds a reference; NULL in the resolver */
  struct authz *authz; /* policy snapshot this call is judged by */
  const char *name;    /* the method, for logs */
  Psock__V1__Request *req;
  uint64_t id;
  int fds_in[PSOCK_MAX_FDS];
  size_t nfds_in;
  int fd_family; /* SO_DOMAIN of fds_in[0], read by the dispatcher */
  Psock__V1__Response resp;
  int fds_out[PSOCK_MAX_REPLY_FDS]; /* a socket with its batch at most */
  size_t nfds_out;
  struct policy_decision decision; /* the last rpc_allowed() */
  void *state;                     /* the method's own, in the arena */
  /* While RPC_PENDING: cancelled if the connection closes first. */
  struct conn_waiter waiter;
  void (*cancel)(struct rpc_call *call);
  bool pending;
  struct rpc_call *next_free;
  struct arena arena;
};

/* A call for conn (NULL outside a worker), judged by the policy in force.
 * NULL when out of memory. */
struct rpc_call *call_new(struct conn *conn);

/* Release a call that will not be answered (framing error). */
void call_release(struct rpc_call *call);

/* After a batch of events: recycle the calls released during it (their
 * memory may still be named by an event of the batch until then). */
void call_reap(void);

/* Free cached calls (at exit, for leak checkers). */
void call_cleanup(void);

/* The ProtobufCAllocator that decodes into call's arena. */
void call_allocator(struct rpc_call *call, ProtobufCAllocator *ret);

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

/* Answer with a typed error. */
enum rpc_outcome rpc_fail(struct rpc_call *call, Psock__V1__Error__Kind kind,
                          int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answer with the OS error -neg (neg < 0), strerror() as the message. */
enum rpc_outcome rpc_errno(struct rpc_call *call, int neg);

/* Answer with the refusal rpc_allowed() recorded. */
enum rpc_outcome rpc_refuse(struct rpc_call *call);

/* Judge q for call's client with call's snapshot (audit record written). */
bool rpc_allowed(struct rpc_call *call, const struct policy_query *q);

/* Could the call's policy snapshot refuse its connection's identity some
 * sendto() destination? (HelloReply.sendto_restricted) */
bool rpc_sendto_restricted(const struct rpc_call *call);

/* May the call's client get a batch of socket(family, type, proto) (type
 * without flags): a kind its policy page lists (authz_batchable())? */
bool rpc_batchable(const struct rpc_call *call, int family, int type,
                   int proto);

/* Take ownership of fd as the next fd of the reply (at most
 * PSOCK_MAX_REPLY_FDS). 0, or -EMSGSIZE (fd is closed then). */
int rpc_add_fd(struct rpc_call *call, int fd);

/*
 * The call goes on off the loop; cancel (may be NULL) runs on the loop if
 * the connection closes first, and must make sure the completion never
 * comes (or is ignored), then finish the call with RPC_FAILED.
 */
enum rpc_outcome rpc_pending(struct rpc_call *call,
                             void (*cancel)(struct rpc_call *call));

/* Back from off the loop: no longer cancellable. */
void rpc_resumed(struct rpc_call *call);

/*
 * End the call: pack the reply (an error if the handler left none), send it
 * with the reply's fds (if the connection lives) and release the call.
 */
void rpc_finish(struct rpc_call *call, enum rpc_outcome outcome);

/* Pack call's reply into buf (for a caller that sends it itself, the
 * resolver); the reply's fds are the caller's to send. -EMSGSIZE. */
ssize_t call_pack_reply(struct rpc_call *call, void *buf, size_t cap);
