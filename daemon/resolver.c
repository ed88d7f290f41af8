/* SPDX-License-Identifier: MIT */
/*
 * resolver: the process that runs the name service for one worker (the
 * worker forks it before it sandboxes itself), as OpenBSD's privsep
 * daemons keep DNS in a process of its own.
 *
 * Why a process: NSS modules (libnss-resolve, libnss-myhostname, LDAP,
 * ...) make whatever system calls they need, so they cannot run under the
 * worker's seccomp allow-list (a call outside it would kill the worker and
 * every client of it), and a filter loose enough for them would be no
 * filter for the code that parses untrusted requests. Here they run under a
 * deny-list instead (sandbox_enter_resolver: no exec, no ptrace, no
 * writing files, ...), as the worker's user, with no capabilities, on a
 * small thread pool (lookup.c).
 *
 * Trust boundary: queries come from the worker (same user), already
 * decoded, checked against the policy and re-encoded; each is decoded
 * again here and must be a name-service call. A query cancelled before a
 * thread took it never runs.
 */
#include "resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "call.h"
#include "cleanup.h"
#include "log.h"
#include "lookup.h"
#include "names.h"
#include "proctitle.h"
#include "resolveproto.h"
#include "sandbox.h"
#include "wire.h"

/* Queries queued or running at once; the worker bounds them lower. */
#define RESOLVER_MAX_PENDING 256

struct rjob {
  struct lookup_job job; /* first */
  struct rpc_call *call;
  uint64_t tag;
  names_handler_fn fn;
  enum rpc_outcome out;
};

struct resolver {
  int ch;
  struct lookup_pool *pool;
  unsigned pending;
};

static struct resolver R;
static uint8_t in_buf[sizeof(struct resolve_hdr) + PSOCK_MAX_PACKET];
static uint8_t out_buf[sizeof(struct resolve_hdr) + PSOCK_MAX_PACKET];

static void answer(uint64_t tag, struct rpc_call *call) {
  struct resolve_hdr h = {.kind = RESOLVE_ANSWER, .tag = tag};
  ssize_t len;

  memcpy(out_buf, &h, sizeof(h));
  /* The header and the reply in one packet of at most PSOCK_MAX_PACKET:
   * a reply too large becomes an error that fits. */
  len =
      call_pack_reply(call, out_buf + sizeof(h), PSOCK_MAX_PACKET - sizeof(h));
  /* Blocking: the worker reads its channel on every turn of its loop. */
  if (len > 0 &&
      wire_send_packet(R.ch, out_buf, sizeof(h) + (size_t)len, NULL, 0, 0) < 0)
    log_warn("resolver: cannot answer the worker: %m");
}

static void rjob_work(struct lookup_job *job) {
  struct rjob *j = (struct rjob *)job;
  j->out = j->fn(j->call);
}

static void rjob_done(struct lookup_job *job) {
  struct rjob *j = (struct rjob *)job;

  if (!job->cancelled)
    answer(j->tag, j->call);
  call_release(j->call);
  R.pending--;
  free(j);
}

static bool rjob_match(const struct lookup_job *job, void *arg) {
  return ((const struct rjob *)job)->tag == *(uint64_t *)arg;
}

static void on_query(uint64_t tag, const uint8_t *buf, size_t len) {
  struct rpc_call *call = call_new(NULL);
  ProtobufCAllocator alloc;
  struct rjob *j;

  if (!call)
    return; /* the worker's call stays pending until its client goes */
  call_allocator(call, &alloc);
  call->req = psock__v1__request__unpack(&alloc, len, buf);
  j = call->req ? calloc(1, sizeof(*j)) : NULL;
  if (!j || R.pending >= RESOLVER_MAX_PENDING ||
      !(j->fn = names_handler((int)call->req->call_case))) {
    if (!call->req || (j && !j->fn))
      rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EPROTO,
               "not a name-service call");
    else
      rpc_errno(call, j ? -EAGAIN : -ENOMEM);
    answer(tag, call);
    call_release(call);
    free(j);
    return;
  }
  /* Reply and request share case numbers: see psock.proto. */
  call->resp.result_case =
      (Psock__V1__Response__ResultCase)call->req->call_case;
  j->call = call;
  j->tag = tag;
  j->job.work = rjob_work;
  j->job.done = rjob_done;
  R.pending++;
  lookup_submit(R.pool, &j->job);
}

/* One packet from the worker. Returns -errno when the worker is gone. */
static int on_channel(void) {
  struct resolve_hdr h;
  size_t nfds = 0;
  ssize_t n;

  n = wire_recv_packet(R.ch, in_buf, sizeof(in_buf), NULL, 0, &nfds,
                       MSG_DONTWAIT);
  if (n == -EAGAIN)
    return 0;
  if (n <= 0)
    return n == 0 ? -ECONNRESET : (int)n;
  if ((size_t)n < sizeof(h))
    return -EPROTO;
  memcpy(&h, in_buf, sizeof(h));
  if (h.kind == RESOLVE_QUERY)
    on_query(h.tag, in_buf + sizeof(h), (size_t)n - sizeof(h));
  else if (h.kind == RESOLVE_CANCEL)
    lookup_cancel_if(R.pool, rjob_match, &h.tag);
  else
    return -EPROTO;
  return 0;
}

static int resolver_loop(void) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
  int r = 0;

  if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, R.ch, &ev) < 0)
    return -errno;
  ev.data.u32 = 2;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, lookup_pool_fd(R.pool), &ev) < 0)
    return -errno;
  while (r == 0) {
    struct epoll_event evs[8];
    int n = epoll_wait(epfd, evs, 8, -1);

    if (n < 0 && errno != EINTR)
      r = -errno;
    for (int i = 0; i < n && r == 0; i++) {
      if (evs[i].data.u32 == 1)
        r = on_channel();
      else
        lookup_pool_dispatch(R.pool);
      call_reap();
    }
  }
  close(epfd);
  return r == -ECONNRESET ? 0 : r;
}

static int resolver_main(int ch, const struct resolver_options *o) {
  int r;

  R.ch = ch;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
    return -errno;
  r = lookup_pool_new(o->threads, &R.pool);
  if (r == 0 && o->seccomp)
    r = sandbox_enter_resolver();
  if (r < 0) {
    log_err("resolver: cannot start: %s", strerror(-r));
    return r;
  }
  r = resolver_loop();
  lookup_pool_free(R.pool);
  call_cleanup();
  return r;
}

int resolver_start(const struct resolver_options *o, pid_t *ret_pid) {
  int sv[2];
  pid_t parent = getpid(), pid;

  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return -errno;
  pid = fork();
  if (pid < 0) {
    int r = -errno;
    wire_close_fds(sv, 2);
    return r;
  }
  if (pid == 0) {
    /* Only the channel and stdio: nothing of the worker's. */
    if (dup2(sv[1], 3) < 0)
      _exit(127);
    close_range(4, ~0U, 0);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    log_set_ident("psockd-resolver");
    proctitle_set("psockd-resolver uid=%u", (unsigned)getuid());
    /* The worker may have died before the death signal was armed. */
    if (getppid() != parent)
      _exit(0);
    _exit(resolver_main(3, o) < 0 ? 1 : 0);
  }
  close(sv[1]);
  *ret_pid = pid;
  return sv[0];
}
