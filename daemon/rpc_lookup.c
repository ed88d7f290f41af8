/* SPDX-License-Identifier: MIT */
/*
 * rpc_lookup: the name-service calls, forwarded as they came to the
 * worker's resolver process (resolver.c), whose answer is the reply.
 *
 * Trust boundary: the request is the client's; the answers are the
 * resolver's (decoded by resolveask.c into the call's arena).
 */
#include <errno.h>

#include "resolveask.h"
#include "rpc.h"
#include "wire.h"

/* ------------------------------------------------ name-service calls */

static void lookup_done(struct rpc_call *call, const Psock__V1__Response *r) {
  if (!r) {
    rpc_finish(call, rpc_errno(call, -EIO));
    return;
  }
  /* The answer is the resolver's; the id is the client's. */
  call->resp = *r;
  call->resp.base.unknown_fields = NULL;
  call->resp.base.n_unknown_fields = 0;
  rpc_finish(call, r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR
                       ? RPC_FAILED
                       : RPC_REPLIED);
}

enum rpc_outcome rpc_lookup(struct rpc_call *call) {
  /* Passed on: only what the resolver reads (protobuf-c would pack some
   * unknown fields into bytes it refuses to decode). */
  wire_drop_unknown(&call->req->base);
  return resolveask(call, call->req, lookup_done);
}
