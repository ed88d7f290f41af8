/* SPDX-License-Identifier: MIT */
/*
 * worker: psockd's event loop for the clients of one identity (uid, gid,
 * groups, unit). It runs as that uid with no capabilities, is not dumpable,
 * and has a seccomp allow-list; the sockets it makes belong to that user,
 * the kernel charges that user for its fds and memory, and nothing here is
 * shared with another user's requests.
 *
 * Sources (epoll, level-triggered): the control socket from the master
 * (connections, policies, pings), each client connection (conn.c), the
 * resolver's channel (resolveask.c), create_connection attempts
 * (rpc_connection.c), and a timer while a connection waits for its client
 * to read fds. After each batch: hand the closer its fds, recycle calls,
 * free connections.
 *
 * Trust boundary: bytes and fds from clients enter through
 * wire_recv_packet_creds() in conn_read() and go to dispatch_packet() only.
 * What the master sends is fixed-size and trusted.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "authz.h"
#include "bounds.h"
#include "call.h"
#include "closer.h"
#include "conn.h"
#include "control.h"
#include "dispatch.h"
#include "log.h"
#include "page.h"
#include "privask.h"
#include "resolveask.h"
#include "resolver.h"
#include "sandbox.h"
#include "wire.h"

/* How often a connection waiting for its client to read fds is checked. */
#define FD_RETRY_MS 20

struct worker {
  const struct worker_config *cfg;
  struct loop loop;
  struct conn_set conns;
  struct closer *closer;
  struct page *page; /* NULL where the kernel cannot seal one */
  struct watch ctl_watch, sig_watch, retry_watch;
  int sig_fd, retry_fd;
  bool retry_armed;
  bool draining;
  bool ping_due; /* the master's ping ping_seq awaits its answer */
  uint64_t ping_seq;
  uint64_t conns_received;
  pid_t resolver_pid;
  uint8_t recv_buf[PSOCK_MAX_PACKET];
};

static struct worker *W;

/* ----------------------------------------------------------- clients */

/* One packet per wakeup: a client waiting for its answer has sent nothing
 * more, and one that pipelines stays readable, so the level-triggered loop
 * comes back to it after every other ready connection. */
static void conn_read(struct conn *c) {
  int fds[PSOCK_MAX_FDS];
  struct ucred sender;
  size_t nfds = 0;
  ssize_t n;

  n = wire_recv_packet_creds(c->fd, W->recv_buf, sizeof(W->recv_buf), fds,
                             PSOCK_MAX_FDS, &nfds, MSG_DONTWAIT, &sender);
  if (n == -EAGAIN || n == -EINTR)
    return;
  if (n == 0) {
    conn_close(c, "client closed the connection");
    return;
  }
  if (n < 0) {
    log_limited(LOG_WARNING, "conn %" PRIu64 " (pid %d): framing error: %s",
                c->serial, c->peer.pid, strerror((int)-n));
    conn_close(c, "framing error");
    return;
  }
  if (dispatch_packet(c, W->recv_buf, (size_t)n, fds, nfds, &sender) < 0)
    conn_close(c, "protocol error");
}

/* A connection the master accepted for us. */
static void take_conn(const struct ctl_msg *m, int fd) {
  struct identity who = m->identity;
  struct conn *c;
  int r;

  identity_sanitize(&who);
  W->conns_received++;
  /* The master routes by identity; a connection of someone else would be
   * judged as us: never serve it. */
  if (!identity_same_subject(&who, &W->cfg->who)) {
    log_err("the master sent a connection of uid %u, not ours: closed",
            who.uid);
    close(fd);
    return;
  }
  r = conn_add(&W->conns, fd, &who, &c);
  if (r < 0) {
    log_err("cannot serve a connection: %s", strerror(-r));
    return;
  }
  log_debug("conn %" PRIu64 ": pid %d connected", c->serial, who.pid);
}

/* ----------------------------------------------------------- control */

static void drain(const char *why) {
  if (W->draining)
    return;
  W->draining = true;
  log_info("draining (%s): %" PRIu64 " client(s) connected", why,
           W->conns.n_live);
}

/* Answer the master's last ping once the events that came with it are
 * handled: a client that closed before connecting anew is then counted
 * out, and the master does not refuse the new one by a stale count. */
static void pong(void) {
  struct ctl_msg m = {.type = CTL_PONG,
                      .seq = W->ping_seq,
                      .clients = W->conns.n_live,
                      .requests = W->conns.replies,
                      .conns_received = W->conns_received};

  if (!W->ping_due)
    return;
  W->ping_due = false;
  wire_send_packet(W->cfg->ctl_fd, &m, sizeof(m), NULL, 0, MSG_DONTWAIT);
}

/* What the policy just installed leaves our identity, on the page. */
static void publish_page(void) {
  struct policy_scope s;
  struct authz *a;

  if (!W->page)
    return;
  a = authz_get();
  authz_scope(a, &W->cfg->who, &s);
  authz_put(a);
  page_publish(W->page, s.free, s.batch);
  log_debug("policy page generation %" PRIu64 ": free 0x%x, batch 0x%x",
            page_generation(W->page), s.free, s.batch);
}

static void on_control(struct watch *w, uint32_t events) {
  struct ctl_msg m;
  int fds[1] = {-1};
  size_t nfds = 0;
  ssize_t n;
  int r;

  n = wire_recv_packet(W->cfg->ctl_fd, &m, sizeof(m), fds, 1, &nfds,
                       MSG_DONTWAIT);
  if (n == -EAGAIN)
    return;
  if (n != sizeof(m)) {
    /* The master is gone (or confused): finish up and exit. */
    wire_close_fds(fds, nfds);
    loop_del(&W->loop, W->cfg->ctl_fd, &W->ctl_watch);
    drain("the master is gone");
    return;
  }
  m.name[sizeof(m.name) - 1] = '\0';
  if (m.type == CTL_CONN && nfds == 1) {
    take_conn(&m, fds[0]);
    return;
  }
  if (m.type == CTL_POLICY) {
    r = authz_install_fd(nfds ? fds[0] : -1, m.name);
    if (r < 0) {
      log_err("policy from the master rejected: %s", strerror(-r));
    } else {
      /* The page first: once this line is logged, it tells the truth. */
      publish_page();
      log_info("policy in force: %s", m.name);
    }
  } else if (m.type == CTL_PING) {
    W->ping_seq = m.seq;
    W->ping_due = true;
  } else if (m.type == CTL_DRAIN) {
    drain("asked by the master");
  }
  wire_close_fds(fds, nfds);
}

/* The master sends the policy first; no client is served without one. */
static int first_policy(void) {
  struct pollfd p = {.fd = W->cfg->ctl_fd, .events = POLLIN};

  while (!authz_installed() && !W->draining) {
    if (poll(&p, 1, 10000) != 1)
      return -ETIMEDOUT;
    on_control(&W->ctl_watch, POLLIN);
  }
  return authz_installed() ? 0 : -EPROTO;
}

/* ------------------------------------------------------------ others */

static void on_signal(struct watch *w, uint32_t events) {
  struct signalfd_siginfo si;

  while (read(W->sig_fd, &si, sizeof(si)) == sizeof(si)) {
    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
      drain("signal");
#ifdef PSOCK_TEST_HOOKS
    /* Test builds only: make a system call outside the seccomp list, to
     * show the filter kills the worker and the master replaces it. */
    if (si.ssi_signo == SIGUSR2)
      syscall(SYS_reboot, 0, 0, 0, NULL);
#endif
  }
}

static void on_retry(struct watch *w, uint32_t events) {
  uint64_t n;

  if (read(W->retry_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
    log_warn("timerfd: %m");
  conn_retry_blocked(&W->conns);
}

/* Arm the retry timer while a connection waits for its client to read. */
static void update_retry(void) {
  bool want = W->conns.fd_blocked > 0;
  struct itimerspec its = {0};

  if (want == W->retry_armed)
    return;
  if (want)
    its.it_interval = its.it_value =
        (struct timespec){0, FD_RETRY_MS * 1000000L};
  timerfd_settime(W->retry_fd, 0, &its, NULL);
  W->retry_armed = want;
}

/* ------------------------------------------------------------- setup */

static int add_fd_watch(int fd, struct watch *w,
                        void (*fn)(struct watch *, uint32_t)) {
  w->on_event = fn;
  return loop_add(&W->loop, fd, EPOLLIN, w);
}

static int setup_signals(void) {
  sigset_t mask;

  /* A worker runs as its client's uid: the client may signal it. Only
   * SIGTERM/SIGINT (drain) are heard; the rest are blocked and ignored. */
  sigfillset(&mask);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
    return -errno;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
#ifdef PSOCK_TEST_HOOKS
  sigaddset(&mask, SIGUSR2);
#endif
  W->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  return W->sig_fd < 0 ? -errno
                       : add_fd_watch(W->sig_fd, &W->sig_watch, on_signal);
}

static int worker_setup(void) {
  const struct worker_config *cfg = W->cfg;
  struct resolver_options ro = {.threads = cfg->o->lookup_threads,
                                .seccomp = cfg->o->seccomp};
  int r, ch;

  W->loop.epfd = epoll_create1(EPOLL_CLOEXEC);
  W->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (W->loop.epfd < 0 || W->retry_fd < 0)
    return -errno;
  if ((r = setup_signals()) < 0 || (r = closer_new(&W->closer)) < 0)
    return r;
  /* The resolver is forked before this process filters its own calls. */
  ch = resolver_start(&ro, &W->resolver_pid);
  if (ch < 0)
    return ch;
  /* After the resolver's fork (it must not hold the writable mapping),
   * before the filter (which has no memfd_create()). */
  r = page_new(&W->page);
  if (r < 0)
    log_warn("no policy page, every call asks psockd: %s", strerror(-r));
  W->conns = (struct conn_set){.loop = &W->loop,
                               .closer = W->closer,
                               .page = W->page,
                               .on_readable = conn_read};
  if ((r = resolveask_init(&W->loop, ch, bounds.lookups_per_uid)) < 0 ||
      (r = add_fd_watch(cfg->ctl_fd, &W->ctl_watch, on_control)) < 0 ||
      (r = add_fd_watch(W->retry_fd, &W->retry_watch, on_retry)) < 0)
    return r;
  privask_set_channel(cfg->priv_fd);
  authz_set_audit_allow(cfg->o->audit_allow);
  if (cfg->o->seccomp && (r = sandbox_enter_worker()) < 0)
    return r;
  return first_policy();
}

static void worker_teardown(void) {
  conn_close_all(&W->conns, "psockd stopping");
  resolveask_shutdown();
  call_reap();
  conn_bury(&W->conns);
  closer_free(W->closer);
  call_cleanup();
  authz_shutdown();
  page_free(W->page);
  if (W->sig_fd >= 0)
    close(W->sig_fd);
  if (W->retry_fd >= 0)
    close(W->retry_fd);
  if (W->loop.epfd >= 0)
    close(W->loop.epfd);
}

/* Nothing in flight and no reply waiting to be sent. */
static bool idle(void) {
  for (const struct conn *c = W->conns.live; c; c = c->next)
    if (c->inflight || c->out_head)
      return false;
  return true;
}

static int worker_loop(void) {
  struct epoll_event evs[64];

  while (!(W->draining && idle())) {
    /* While draining, wake up now and then to notice idleness. */
    int n = epoll_wait(W->loop.epfd, evs, 64, W->draining ? 50 : -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      log_err("epoll_wait: %m");
      return -errno;
    }
    for (int i = 0; i < n; i++)
      loop_dispatch(&evs[i]);
    pong();
    closer_flush(W->closer);
    call_reap();
    conn_bury(&W->conns);
    update_retry();
    if (privask_channel_lost() || resolveask_lost())
      drain("psockd-priv or the resolver is gone");
  }
  return 0;
}

int worker_run(const struct worker_config *cfg) {
  struct worker *w = calloc(1, sizeof(*w));
  int r;

  if (!w)
    return -ENOMEM;
  W = w;
  w->cfg = cfg;
  w->sig_fd = w->retry_fd = w->loop.epfd = -1;
  r = worker_setup();
  if (r < 0)
    log_err("worker setup: %s", strerror(-r));
  else
    r = worker_loop();
  log_info("served %" PRIu64 " requests", w->conns.replies);
  worker_teardown();
  free(w);
  W = NULL;
  return r;
}
