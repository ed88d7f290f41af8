/* SPDX-License-Identifier: MIT */
/*
 * resolveask: the asking side of the resolver, in a worker (the resolver's
 * side is resolver.c). A handler hands a name-service Request to the
 * resolver and returns RPC_PENDING; the answer comes back on the loop,
 * decoded into the call's arena, and done() finishes the call. A call whose
 * client goes away first is cancelled here and in the resolver.
 */
#pragma once

#include <stdbool.h>

#include "call.h"
#include "loop.h"

/* resp is NULL when the resolver failed (then finish with an error). */
typedef void (*resolve_done_fn)(struct rpc_call *call,
                                const Psock__V1__Response *resp);

/* Serve answers from the resolver channel fd, at most max_pending at a
 * time. Returns 0 or -errno. */
int resolveask_init(struct loop *l, int fd, unsigned max_pending);

/* True once the resolver is gone: the worker must stop. */
bool resolveask_lost(void);

/* Fail whatever is pending (stopping) and close the channel. */
void resolveask_shutdown(void);

/*
 * Ask the resolver req (a name-service call; it may live in call's arena or
 * be the client's own request). Returns RPC_PENDING, or RPC_FAILED with
 * the error set (EAGAIN: this worker has max_pending lookups in flight).
 */
enum rpc_outcome resolveask(struct rpc_call *call,
                            const Psock__V1__Request *req,
                            resolve_done_fn done);
