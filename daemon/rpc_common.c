/* SPDX-License-Identifier: MIT */
/*
 * rpc_common: steps that several handlers share: running work off the
 * event loop, resolving a host name in a request Address, and reading
 * facts about a client's socket.
 */
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "authz.h"
#include "log.h"
#include "quota.h"
#include "rpc.h"
#include "worker.h"

#define container_of(ptr, type, member)                                        \
  ((type *)((char *)(ptr)-offsetof(type, member)))

static void defer_work(struct lookup_job *job) {
  struct rpc_call *call = container_of(job, struct rpc_call, job);
  call->work(call);
}

static void defer_done(struct lookup_job *job) {
  struct rpc_call *call = container_of(job, struct rpc_call, job);
  int rc;

  call->conn->inflight--;
  limits_give(LIMITS_LOOKUPS, call->conn->peer.uid);
  /* The client is gone or psockd is stopping: nobody wants the answer. */
  if (job->cancelled || call->conn->dead) {
    rpc_finish(call, -ECANCELED);
    return;
  }
  rc = call->resume(call);
  if (rc != RPC_ASYNC)
    rpc_finish(call, rc);
}

int rpc_defer(struct rpc_call *call, void (*work)(struct rpc_call *call),
              int (*resume)(struct rpc_call *call)) {
  uid_t uid = call->conn->peer.uid;

  /* One user's lookups may not take every thread of the pool. */
  if (!limits_take(LIMITS_LOOKUPS, uid, limits.lookups_per_uid)) {
    log_limited(LOG_NOTICE,
                "uid %u: %u name lookups already in flight: refused", uid,
                limits.lookups_per_uid);
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EAGAIN,
                    "too many name lookups in flight for this user");
  }
  call->work = work;
  call->resume = resume;
  call->job.work = defer_work;
  call->job.done = defer_done;
  call->conn->inflight++;
  lookup_submit(conn_lookup_pool(call->conn), &call->job);
  return RPC_ASYNC;
}

static int offload_done(struct rpc_call *call) {
  return call->async_rc;
}

int rpc_offload(struct rpc_call *call, void (*work)(struct rpc_call *call)) {
  return rpc_defer(call, work, offload_done);
}

static void resolve_work(struct rpc_call *call) {
  struct addrinfo hints = {.ai_family = call->lookup_family};
  struct addrinfo *res = NULL;

  call->gai_rc = getaddrinfo(call->lookup_host, NULL, &hints, &res);
  if (call->gai_rc != 0)
    return;
  /* The seed: a host name means the first address the resolver gives. */
  if (res->ai_addrlen > sizeof(call->sa)) {
    call->gai_rc = EAI_FAMILY;
  } else {
    memcpy(&call->sa, res->ai_addr, res->ai_addrlen);
    call->salen = res->ai_addrlen;
    if (call->sa.ss_family == AF_INET)
      ((struct sockaddr_in *)&call->sa)->sin_port = htons(call->lookup_port);
    else if (call->sa.ss_family == AF_INET6) {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&call->sa;
      sin6->sin6_port = htons(call->lookup_port);
      sin6->sin6_flowinfo = htonl(call->lookup_flowinfo);
      if (call->lookup_scope_id)
        sin6->sin6_scope_id = call->lookup_scope_id;
    }
  }
  freeaddrinfo(res);
}

/* After the lookup: a failed one is a gaierror, else the handler goes on. */
static int resolve_done(struct rpc_call *call) {
  if (call->gai_rc != 0)
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__GAI_ERROR, call->gai_rc, "%s",
                    gai_strerror(call->gai_rc));
  return call->then(call);
}

int rpc_resolve_then(struct rpc_call *call, const Psock__V1__Address *addr,
                     int family, int (*resume)(struct rpc_call *call)) {
  const char *host;
  uint32_t port, scope = 0, flow = 0;

  if (addr->addr_case == PSOCK__V1__ADDRESS__ADDR_INET) {
    host = addr->inet->host;
    port = addr->inet->port;
  } else if (addr->addr_case == PSOCK__V1__ADDRESS__ADDR_INET6) {
    host = addr->inet6->host;
    port = addr->inet6->port;
    flow = addr->inet6->flowinfo;
    scope = addr->inet6->scope_id;
  } else {
    return -EINVAL;
  }
  if (port > 65535)
    return -EINVAL;
  call->lookup_host = host;
  call->lookup_port = (uint16_t)port;
  call->lookup_family = family;
  call->lookup_flowinfo = flow;
  call->lookup_scope_id = scope;
  call->then = resume;
  return rpc_defer(call, resolve_work, resolve_done);
}

int rpc_address(struct rpc_call *call, const Psock__V1__Address *addr,
                int family, int (*resume)(struct rpc_call *call)) {
  if (!addr)
    return -EINVAL;
  if (addr_needs_lookup(addr))
    return rpc_resolve_then(call, addr, family, resume);
  return addr_to_sockaddr(addr, &call->sa, &call->salen);
}

int rpc_fd_family(int fd) {
  int family;
  socklen_t len = sizeof(family);

  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
    return -errno;
  return family;
}

int rpc_authorize_addr(struct rpc_call *call, int policy_call) {
  /* The socket's family, as psockd.policy(5) says: an inet6 UDP socket
   * may send to an IPv4 address, and is judged as inet6 all the same.
   * The dispatcher read it (SO_DOMAIN) when it checked the fd. */
  struct policy_query q = {.call = (enum policy_call)policy_call,
                           .family = call->fd_family,
                           .addr = (struct sockaddr *)&call->sa,
                           .addrlen = call->salen};
  return rpc_authorize(call, &q);
}
