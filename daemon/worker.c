/* SPDX-License-Identifier: MIT */
/*
 * worker: psockd's event loop (epoll, level-triggered).
 *
 * Sources: the listening socket, a signalfd (SIGTERM/SIGINT stop, SIGHUP
 * is logged), the lookup pool's eventfd, and one entry per client
 * connection. A connection is read only while it has no reply queued: a
 * client that does not read its replies stops being read, so it can make
 * psockd hold at most one queued reply per request it has in flight, and
 * it never blocks anyone else.
 *
 * Trust boundary: bytes and fds from clients enter through
 * wire_recv_packet() in conn_read() and go to dispatch_packet() only.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "authz.h"
#include "control.h"
#include "dispatch.h"
#include "log.h"
#include "privops.h"
#include "quota.h"
#include "wire.h"

/*
 * Packets read from one connection per wakeup. One: a client waiting for
 * its answer has sent nothing more, so a second recvmsg() would only
 * return EAGAIN, a system call per request for nothing. A client that
 * pipelines stays readable and the (level-triggered) loop comes back to
 * it, after every other ready connection: fair by construction.
 */
#define READ_BUDGET 1
/* Connections accepted per wakeup. */
#define ACCEPT_BUDGET 4

struct outpkt {
  struct outpkt *next;
  size_t len;
  size_t nfds;
  int fds[PSOCK_MAX_FDS];
  uint8_t data[];
};

struct worker {
  int epfd;
  int listen_fd;
  int sig_fd;
  struct lookup_pool *lookup;
  struct conn *conns;
  /* Freed connections wait here until the epoll batch is done, since a
   * later event of the same batch may still name them. */
  struct conn *graveyard;
  uint64_t next_serial;
  uint64_t requests;
  uint64_t n_conns;
  int ctl_fd;
  bool draining;
  uint8_t recv_buf[PSOCK_MAX_PACKET];
  uint8_t pack_buf[PSOCK_MAX_PACKET];
};

/* epoll data for the non-connection sources. */
enum { SRC_LISTEN = 1, SRC_SIGNAL, SRC_LOOKUP, SRC_CONTROL };

uint8_t *worker_pack_buffer(struct worker *w) {
  return w->pack_buf;
}

struct lookup_pool *conn_lookup_pool(struct conn *c) {
  return c->w->lookup;
}

/* ------------------------------------------------------- connection life */

void conn_ref(struct conn *c) {
  c->refs++;
}

static void outq_free(struct conn *c) {
  while (c->out_head) {
    struct outpkt *p = c->out_head;
    c->out_head = p->next;
    wire_close_fds(p->fds, p->nfds);
    free(p);
  }
  c->out_tail = NULL;
}

void conn_unref(struct conn *c) {
  if (--c->refs > 0)
    return;
  outq_free(c);
  c->next = c->w->graveyard;
  c->w->graveyard = c;
}

static void worker_bury(struct worker *w) {
  while (w->graveyard) {
    struct conn *next = w->graveyard->next;
    free(w->graveyard);
    w->graveyard = next;
  }
}

void conn_close(struct conn *c, const char *why) {
  struct worker *w = c->w;

  if (c->dead)
    return;
  c->dead = true;
  log_debug("conn %" PRIu64 " (uid %u pid %d): closed: %s", c->serial,
            c->peer.uid, c->peer.pid, why);
  epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  limits_give(LIMITS_CONNS, c->peer.uid);
  identity_close(&c->peer);
  w->n_conns--;
  outq_free(c);
  if (c->prev)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  conn_unref(c); /* the worker's own reference */
}

static void conn_set_events(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};

  if (c->dead || c->events == events)
    return;
  if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
    log_err("epoll_ctl: %m");
    conn_close(c, "epoll_ctl failed");
    return;
  }
  c->events = events;
}

static void conn_add(struct worker *w, int fd) {
  struct epoll_event ev = {.events = EPOLLIN};
  struct conn *c = calloc(1, sizeof(*c));
  int r;

  if (!c) {
    log_err("out of memory accepting a client");
    close(fd);
    return;
  }
  /* Who connected is fixed now, by the kernel, not by anything sent. */
  r = identity_from_socket(fd, &c->peer);
  if (r < 0) {
    log_limited(LOG_WARNING, "cannot identify a client: %s", strerror(-r));
    close(fd);
    free(c);
    return;
  }
  /* The pidfd pinned the process while its unit was read; nothing needs it
   * later, and holding it would double the fds (and the kernel memory) of
   * every idle connection. */
  identity_close(&c->peer);
  if (!limits_take(LIMITS_CONNS, c->peer.uid, limits.conns_per_uid)) {
    log_limited(LOG_NOTICE, "uid %u pid %d: already %u connections: refused",
                c->peer.uid, c->peer.pid, limits.conns_per_uid);
    identity_close(&c->peer);
    close(fd);
    free(c);
    return;
  }
  c->w = w;
  c->fd = fd;
  c->refs = 1;
  c->serial = ++w->next_serial;
  c->events = EPOLLIN;
  ev.data.ptr = c;
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    log_err("epoll_ctl: %m");
    identity_close(&c->peer);
    close(fd);
    free(c);
    return;
  }
  c->next = w->conns;
  if (w->conns)
    w->conns->prev = c;
  w->conns = c;
  w->n_conns++;
  log_debug("conn %" PRIu64 ": uid %u gid %u pid %d unit %s connected",
            c->serial, c->peer.uid, c->peer.gid, c->peer.pid,
            c->peer.unit[0] ? c->peer.unit : "-");
}

static void worker_accept(struct worker *w) {
  /* Take a few at a time so that other workers get their share. */
  for (int i = 0; i < ACCEPT_BUDGET; i++) {
    int fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        log_limited(LOG_WARNING, "accept: %m");
      return;
    }
    conn_add(w, fd);
  }
}

/* ----------------------------------------------------------- replies */

static int outq_push(struct conn *c, const void *buf, size_t len, int *fds,
                     size_t nfds) {
  struct outpkt *p = malloc(sizeof(*p) + len);

  if (!p)
    return -ENOMEM;
  p->next = NULL;
  p->len = len;
  p->nfds = nfds;
  memcpy(p->fds, fds, nfds * sizeof(int));
  memcpy(p->data, buf, len);
  if (c->out_tail)
    c->out_tail->next = p;
  else
    c->out_head = p;
  c->out_tail = p;
  return 0;
}

int conn_send(struct conn *c, const void *buf, size_t len, int *fds,
              size_t nfds) {
  int r;

  if (c->dead) {
    wire_close_fds(fds, nfds);
    return -EPIPE;
  }
  if (!c->out_head) {
    r = wire_send_packet(c->fd, buf, len, fds, nfds, MSG_DONTWAIT);
    if (r == 0) {
      /* The client holds its own copies now; ours go. */
      wire_close_fds(fds, nfds);
      c->w->requests++;
      if (c->close_when_sent)
        conn_close(c, "protocol error answered");
      return 0;
    }
    if (r != -EAGAIN) {
      wire_close_fds(fds, nfds);
      conn_close(c, strerror(-r));
      return r;
    }
  }
  r = outq_push(c, buf, len, fds, nfds);
  if (r < 0) {
    wire_close_fds(fds, nfds);
    conn_close(c, "out of memory queueing a reply");
    return r;
  }
  conn_set_events(c, EPOLLOUT);
  return 0;
}

static void conn_flush(struct conn *c) {
  while (c->out_head && !c->dead) {
    struct outpkt *p = c->out_head;
    int r =
        wire_send_packet(c->fd, p->data, p->len, p->fds, p->nfds, MSG_DONTWAIT);
    if (r == -EAGAIN)
      return;
    if (r < 0) {
      conn_close(c, strerror(-r));
      return;
    }
    c->out_head = p->next;
    if (!c->out_head)
      c->out_tail = NULL;
    wire_close_fds(p->fds, p->nfds);
    free(p);
    c->w->requests++;
  }
  if (c->dead)
    return;
  if (c->close_when_sent)
    conn_close(c, "protocol error answered");
  else
    conn_set_events(c, EPOLLIN);
}

/* ----------------------------------------------------------- requests */

static void conn_read(struct conn *c) {
  struct worker *w = c->w;

  for (int i = 0; i < READ_BUDGET && !c->dead && !c->out_head; i++) {
    int fds[PSOCK_MAX_FDS];
    size_t nfds = 0;
    ssize_t n;
    int r;

    n = wire_recv_packet(c->fd, w->recv_buf, sizeof(w->recv_buf), fds,
                         PSOCK_MAX_FDS, &nfds, MSG_DONTWAIT);
    if (n == -EAGAIN || n == -EINTR)
      return;
    if (n == 0) {
      conn_close(c, "client closed the connection");
      return;
    }
    if (n < 0) {
      log_limited(LOG_WARNING,
                  "conn %" PRIu64 " (uid %u pid %d): framing error: %s",
                  c->serial, c->peer.uid, c->peer.pid, strerror((int)-n));
      conn_close(c, "framing error");
      return;
    }
    r = dispatch_packet(c, w->recv_buf, (size_t)n, fds, nfds);
    if (r < 0) {
      conn_close(c, strerror(-r));
      return;
    }
  }
}

static void conn_event(struct conn *c, uint32_t events) {
  if (c->dead)
    return;
  conn_ref(c);
  if (events & EPOLLOUT)
    conn_flush(c);
  if (!c->dead && (events & EPOLLIN))
    conn_read(c);
  if (!c->dead && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
    conn_close(c, "hang-up");
  conn_unref(c);
}

/* ------------------------------------------------------------- loop */

/* Stop taking new clients; the loop ends once nothing is in flight. */
static void worker_drain(struct worker *w) {
  if (w->draining)
    return;
  w->draining = true;
  epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fd, NULL);
  log_info("draining: %" PRIu64 " client(s) connected", w->n_conns);
}

/* Nothing in flight and no reply waiting to be sent. */
static bool worker_idle(const struct worker *w) {
  for (const struct conn *c = w->conns; c; c = c->next)
    if (c->inflight || c->out_head)
      return false;
  return true;
}

static void worker_signal(struct worker *w) {
  struct signalfd_siginfo si;

  while (read(w->sig_fd, &si, sizeof(si)) == sizeof(si)) {
    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
      worker_drain(w);
#ifdef PSOCK_TEST_HOOKS
    /* Test builds only: make a system call outside the seccomp list, to
     * show the filter kills the worker and the master replaces it. */
    if (si.ssi_signo == SIGUSR2)
      syscall(SYS_reboot, 0, 0, 0, NULL);
#endif
  }
}

static void worker_control(struct worker *w) {
  struct ctl_msg msg;
  int fds[1] = {-1};
  size_t nfds = 0;
  ssize_t n;
  int r;

  n = wire_recv_packet(w->ctl_fd, &msg, sizeof(msg), fds, 1, &nfds,
                       MSG_DONTWAIT);
  if (n == -EAGAIN)
    return;
  if (n != sizeof(msg)) {
    /* The master is gone (or confused): finish up and exit. */
    wire_close_fds(fds, nfds);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->ctl_fd, NULL);
    worker_drain(w);
    return;
  }
  msg.name[sizeof(msg.name) - 1] = '\0';
  if (msg.type == CTL_POLICY) {
    r = authz_install_from_fd(nfds ? fds[0] : -1, msg.name);
    if (r < 0)
      log_err("policy from the master rejected: %s", strerror(-r));
    else
      log_info("policy in force: %s", msg.name);
  } else if (msg.type == CTL_STATS) {
    msg.clients = w->n_conns;
    msg.requests = w->requests;
    wire_send_packet(w->ctl_fd, &msg, sizeof(msg), NULL, 0, MSG_DONTWAIT);
  }
  wire_close_fds(fds, nfds);
}

/* The master sends the policy first; no client is served without one. */
static int worker_first_policy(struct worker *w) {
  int flags = fcntl(w->ctl_fd, F_GETFL);
  int r = 0;

  if (flags < 0 || fcntl(w->ctl_fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
    return -errno;
  {
    struct pollfd p = {.fd = w->ctl_fd, .events = POLLIN};
    if (poll(&p, 1, 10000) != 1)
      r = -ETIMEDOUT;
  }
  if (r == 0)
    worker_control(w);
  if (r == 0 && !authz_policy_installed())
    r = -EPROTO;
  fcntl(w->ctl_fd, F_SETFL, flags);
  return r;
}

static int epoll_add(int epfd, int fd, uint64_t data, uint32_t extra) {
  struct epoll_event ev = {.events = EPOLLIN | extra, .data.u64 = data};
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int worker_setup(struct worker *w, const struct worker_config *cfg) {
  sigset_t mask;
  int r;

  w->listen_fd = cfg->listen_fd;
  w->ctl_fd = cfg->ctl_fd;
  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (w->epfd < 0)
    return -errno;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGUSR2);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
    return -errno;
  w->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (w->sig_fd < 0)
    return -errno;
  r = lookup_pool_new(cfg->lookup_threads, &w->lookup);
  if (r < 0)
    return r;
  if (w->ctl_fd >= 0 && (r = worker_first_policy(w)) < 0)
    return r;
  /* Every worker waits on the same listening socket: wake one of them
   * per new client, not all (no thundering herd; idle workers get it). */
  r = epoll_add(w->epfd, w->listen_fd, SRC_LISTEN, EPOLLEXCLUSIVE);
  if (r == 0)
    r = epoll_add(w->epfd, w->sig_fd, SRC_SIGNAL, 0);
  if (r == 0)
    r = epoll_add(w->epfd, lookup_pool_fd(w->lookup), SRC_LOOKUP, 0);
  if (r == 0 && w->ctl_fd >= 0)
    r = epoll_add(w->epfd, w->ctl_fd, SRC_CONTROL, 0);
  return r;
}

static void worker_teardown(struct worker *w) {
  while (w->conns)
    conn_close(w->conns, "psockd stopping");
  /* Runs the done() of every pending lookup: they see dead connections. */
  lookup_pool_free(w->lookup);
  worker_bury(w);
  dispatch_cleanup();
  authz_shutdown();
  limits_cleanup();
  if (w->sig_fd >= 0)
    close(w->sig_fd);
  if (w->epfd >= 0)
    close(w->epfd);
}

static void worker_event(struct worker *w, struct epoll_event *ev) {
  switch (ev->data.u64) {
  case SRC_LISTEN:
    worker_accept(w);
    break;
  case SRC_SIGNAL:
    worker_signal(w);
    break;
  case SRC_LOOKUP:
    lookup_pool_dispatch(w->lookup);
    break;
  case SRC_CONTROL:
    worker_control(w);
    break;
  default:
    conn_event(ev->data.ptr, ev->events);
    break;
  }
}

static int worker_loop(struct worker *w) {
  struct epoll_event evs[64];

  while (!(w->draining && worker_idle(w))) {
    /* While draining, wake up now and then to notice idleness. */
    int n = epoll_wait(w->epfd, evs, 64, w->draining ? 50 : -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      log_err("epoll_wait: %m");
      return -errno;
    }
    for (int i = 0; i < n; i++)
      worker_event(w, &evs[i]);
    worker_bury(w);
    if (privops_channel_lost())
      return -EPIPE;
  }
  return 0;
}

int worker_run(const struct worker_config *cfg) {
  struct worker *w = calloc(1, sizeof(*w));
  int r;

  if (!w)
    return -ENOMEM;
  w->epfd = w->sig_fd = -1;
  r = worker_setup(w, cfg);
  if (r < 0) {
    log_err("worker setup: %s", strerror(-r));
    goto out;
  }
  if (cfg->sandbox && (r = cfg->sandbox(cfg->sandbox_arg)) != 0) {
    log_err("cannot drop privileges: %s", strerror(r < 0 ? -r : r));
    r = r < 0 ? r : -EPERM;
    goto out;
  }
  r = worker_loop(w);
  log_info("served %" PRIu64 " requests", w->requests);
out:
  worker_teardown(w);
  free(w);
  return r;
}
