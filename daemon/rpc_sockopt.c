/* SPDX-License-Identifier: MIT */
/*
 * rpc_sockopt: setsockopt and getsockopt on a client's socket.
 *
 * Only options in the shared table (proto/sockopts.h), with values of the
 * size it allows, ever reach the kernel from here: an option whose value
 * holds a pointer or an fd would have the kernel read psockd's memory or
 * fd table (or, for some getsockopts, write into it), so anything the table
 * does not list is refused with ENOPROTOOPT.
 *
 * setsockopt is tried with the client's own rights first (the worker runs
 * as its uid); only when the kernel refuses it for lack of privilege does
 * the policy decide (option=NAME), and psockd-priv set it.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "privask.h"
#include "rpc.h"
#include "sockopts.h"

/* The most bytes getsockopt(level, optname, buflen) returns (as CPython). */
#define GETSOCKOPT_MAX 1024

static Psock__V1__Empty empty_reply = PSOCK__V1__EMPTY__INIT;

static enum rpc_outcome not_passed(struct rpc_call *call, const char *what,
                                   int level, int optname, int r) {
  log_limited(LOG_NOTICE, "conn %" PRIu64 " (uid %u): %s(%d, %d) refused: %s",
              call->conn->serial, call->conn->peer.uid, what, level, optname,
              r == -ENOPROTOOPT ? "not an option psockd passes"
                                : "value of a size the option does not take");
  return rpc_errno(call, r);
}

enum rpc_outcome rpc_setsockopt(struct rpc_call *call) {
  const Psock__V1__SetsockoptRequest *q = call->req->setsockopt;
  const struct sockopt *o = sockopt_lookup(q->level, q->optname);
  int fd = call->fds_in[0], ival, e;
  const void *val;
  socklen_t len;

  if (q->value_case == PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_INT_VALUE) {
    if (q->int_value < INT32_MIN || q->int_value > INT32_MAX)
      return rpc_errno(call, -EINVAL);
    ival = (int)q->int_value;
    val = &ival;
    len = sizeof(ival);
  } else if (q->value_case == PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_BUF_VALUE) {
    /* An empty value is a value (SO_BINDTODEVICE ""), but protobuf-c gives
     * it a NULL pointer, which the kernel must not see. */
    val = q->buf_value.len ? q->buf_value.data : (const void *)"";
    len = (socklen_t)q->buf_value.len;
  } else {
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EINVAL,
                    "setsockopt without a value");
  }
  e = sockopt_check_set(o, val, len);
  if (e < 0)
    return not_passed(call, "setsockopt", q->level, q->optname, e);
  if (setsockopt(fd, q->level, q->optname, val, len) == 0) {
    call->resp.setsockopt = &empty_reply;
    return RPC_REPLIED;
  }
  e = -errno;
  if (!sockopt_refused_for_privilege(o, -e))
    return rpc_errno(call, e);
  {
    struct policy_query pq = {.call = POLICY_SETSOCKOPT,
                              .family = call->fd_family,
                              .level = q->level,
                              .optname = q->optname};
    if (!rpc_allowed(call, &pq))
      return rpc_refuse(call);
  }
  e = privask_setsockopt(fd, q->level, q->optname, val, len, e);
  if (e < 0)
    return rpc_errno(call, e);
  call->resp.setsockopt = &empty_reply;
  return RPC_REPLIED;
}

enum rpc_outcome rpc_getsockopt(struct rpc_call *call) {
  const Psock__V1__GetsockoptRequest *q = call->req->getsockopt;
  const struct sockopt *o = sockopt_lookup(q->level, q->optname);
  Psock__V1__GetsockoptReply *r;
  socklen_t len;

  int n = sockopt_check_get(o, q->has_buflen ? q->buflen : sizeof(int));

  if (n < 0)
    return not_passed(call, "getsockopt", q->level, q->optname, n);
  r = RPC_NEW(call, Psock__V1__GetsockoptReply,
              PSOCK__V1__GETSOCKOPT_REPLY__INIT);
  if (!r)
    return rpc_errno(call, -ENOMEM);
  if (!q->has_buflen) {
    int v = 0;
    len = sizeof(v);
    if (getsockopt(call->fds_in[0], q->level, q->optname, &v, &len) < 0)
      return rpc_errno(call, -errno);
    r->value_case = PSOCK__V1__GETSOCKOPT_REPLY__VALUE_INT_VALUE;
    r->int_value = v;
  } else {
    if (q->buflen == 0 || q->buflen > GETSOCKOPT_MAX)
      return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL,
                      "getsockopt buflen out of range");
    len = (socklen_t)n;
    /* Zeroed: the kernel reads some getsockopt buffers as input. */
    r->buf_value.data = rpc_alloc(call, len);
    if (!r->buf_value.data)
      return rpc_errno(call, -ENOMEM);
    memset(r->buf_value.data, 0, len);
    if (getsockopt(call->fds_in[0], q->level, q->optname, r->buf_value.data,
                   &len) < 0)
      return rpc_errno(call, -errno);
    r->value_case = PSOCK__V1__GETSOCKOPT_REPLY__VALUE_BUF_VALUE;
    r->buf_value.len = len;
  }
  call->resp.getsockopt = r;
  return RPC_REPLIED;
}
