/* SPDX-License-Identifier: MIT */
/*
 * privserve (psockd --role=priv, "psockd-priv"): the serving side of the
 * privileged operations, and the only psockd process with CAP_NET_RAW,
 * CAP_NET_BIND_SERVICE and CAP_NET_ADMIN (plus CAP_CHOWN, used for one
 * thing: giving a socket it made to the user it is for).
 *
 * Trust boundary: requests come from workers, which parse untrusted client
 * input and run as the client's uid, so treat each as the client itself.
 * This process never parses anything of variable shape: each packet must be
 * exactly one struct priv_request with exactly the fds its op takes; every
 * field is checked against fixed lists (privproto_validate), and anything
 * else ends that worker's channel. Then the policy decides, as the one
 * identity the master said the worker serves (defence in depth: a worker
 * taken over cannot ask for more than its user may have). The master, the
 * only other party, hands it channels and policies on its control socket.
 *
 * fds received from workers are clients' sockets; they are closed through
 * the closer (SO_LINGER, see closer.h).
 */
#include "privserve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "authz.h"
#include "cleanup.h"
#include "closer.h"
#include "log.h"
#include "privproto.h"
#include "sandbox.h"
#include "wire.h"

struct channel {
  int fd;
  uint32_t worker_id;
  struct identity who;
};

struct privserve {
  int epfd, control;
  struct closer *closer;
};

static int socket_family(int fd) {
  int family;
  socklen_t len = sizeof(family);

  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
    return -1;
  return family;
}

/* The policy question a request asks (the fixed checks passed). */
static void to_query(const struct priv_request *req, int family,
                     struct policy_query *q) {
  *q = (struct policy_query){.family = family};
  switch (req->op) {
  case PRIV_OP_SOCKET:
    q->call = POLICY_SOCKET;
    q->family = req->family;
    q->type = req->type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    q->proto = req->proto;
    break;
  case PRIV_OP_BIND:
    q->call = POLICY_BIND;
    q->addr = (const struct sockaddr *)req->data;
    q->addrlen = req->len;
    break;
  default:
    q->call = POLICY_SETSOCKOPT;
    q->level = req->level;
    q->optname = req->optname;
    break;
  }
}

/* A socket made here is given to the user it is for, so that the kernel
 * (owner matches, uid routing, SO_REUSEPORT groups) sees that user. */
static int make_socket(const struct priv_request *req,
                       const struct identity *who) {
  _cleanup_close_ int fd =
      socket(req->family, req->type | SOCK_CLOEXEC, req->proto);

  if (fd < 0)
    return -errno;
  if (fchown(fd, who->uid, who->gid) < 0) {
    log_err("cannot give a new socket to uid %u: %m (refused)", who->uid);
    return -EPERM;
  }
  return TAKE_FD(fd);
}

static int perform(const struct priv_request *req, int fd,
                   const struct identity *who) {
  int r;

  switch (req->op) {
  case PRIV_OP_SOCKET:
    return make_socket(req, who);
  case PRIV_OP_BIND:
    r = bind(fd, (const struct sockaddr *)req->data, req->len);
    break;
  default:
    r = setsockopt(fd, req->level, req->optname, req->data, req->len);
    break;
  }
  return r < 0 ? -errno : 0;
}

/* Judge and perform a request that passed the fixed checks. */
static void answer(const struct channel *ch, const struct priv_request *req,
                   int fd_in, int family, struct priv_reply *rep,
                   int *ret_out) {
  struct authz *a = authz_get();
  struct policy_decision d;
  struct policy_query q;

  to_query(req, family, &q);
  if (!authz_decide(a, &ch->who, &q, &d)) {
    rep->result = -(d.error ? d.error : EACCES);
    snprintf(rep->rule, sizeof(rep->rule), "%s", d.rule);
  } else {
    int r = perform(req, fd_in, &ch->who);
    if (req->op == PRIV_OP_SOCKET && r >= 0) {
      *ret_out = r;
      r = 0;
    }
    rep->result = r;
  }
  authz_put(a);
}

/* Serve one request on a worker channel. Returns -errno to end it. */
static int serve_channel(struct privserve *ps, struct channel *ch) {
  struct priv_request req;
  struct priv_reply rep = {0};
  int fds[1] = {-1}, out = -1, family, r;
  size_t nfds = 0;
  ssize_t n;

  n = wire_recv_packet(ch->fd, &req, sizeof(req), fds, 1, &nfds, MSG_DONTWAIT);
  if (n == -EAGAIN)
    return 0;
  if (n == 0)
    return -ECONNRESET;
  if (n < 0) {
    log_warn("worker %u: unreadable request (%s): ending its channel",
             ch->worker_id, strerror((int)-n));
    return (int)n;
  }
  family = nfds ? socket_family(fds[0]) : -1;
  /* Exactly one struct, and the fd (if any) must be a socket. */
  r = (size_t)n == sizeof(req) && (nfds == 0 || family >= 0)
          ? privproto_validate(&req, family)
          : -EPROTO;
  if (r < 0) {
    log_warn("worker %u: malformed request (op %u, %zd bytes, %zu fds): "
             "ending its channel",
             ch->worker_id, (size_t)n >= sizeof(uint32_t) ? req.op : 0, n,
             nfds);
    closer_add_fds(ps->closer, fds, nfds);
    return r;
  }
  answer(ch, &req, nfds ? fds[0] : -1, family, &rep, &out);
  closer_add_fds(ps->closer, fds, nfds);
  r = wire_send_packet(ch->fd, &rep, sizeof(rep), &out, out >= 0 ? 1 : 0,
                       MSG_DONTWAIT);
  /* Our copy of a socket we made and sent: nobody has set linger on it. */
  if (out >= 0)
    close(out);
  return r;
}

static void drop_channel(struct privserve *ps, struct channel *ch) {
  epoll_ctl(ps->epfd, EPOLL_CTL_DEL, ch->fd, NULL);
  close(ch->fd);
  free(ch);
}

static int add_channel(struct privserve *ps, const struct priv_ctl *m, int fd) {
  _cleanup_free_ struct channel *ch = calloc(1, sizeof(*ch));
  struct epoll_event ev = {.events = EPOLLIN};

  if (!ch) {
    close(fd);
    return -ENOMEM;
  }
  ch->fd = fd;
  ch->worker_id = m->worker_id;
  ch->who = m->identity;
  identity_sanitize(&ch->who);
  ev.data.ptr = ch;
  if (epoll_ctl(ps->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    close(fd);
    return -errno;
  }
  log_debug("serving worker %u (uid %u)", ch->worker_id, ch->who.uid);
  TAKE_PTR(ch);
  return 0;
}

/* A message from the master. Returns -errno when the master is gone. */
static int on_control(struct privserve *ps) {
  struct priv_ctl m;
  int fds[1] = {-1};
  size_t nfds = 0;
  ssize_t n;
  int r = 0;

  n = wire_recv_packet(ps->control, &m, sizeof(m), fds, 1, &nfds, 0);
  if (n <= 0)
    return n == 0 ? -ECONNRESET : (int)n;
  m.name[sizeof(m.name) - 1] = '\0';
  if (n == sizeof(m) && m.type == PRIV_CTL_CHANNEL && nfds == 1)
    return add_channel(ps, &m, fds[0]);
  if (n == sizeof(m) && m.type == PRIV_CTL_POLICY) {
    r = authz_install_fd(nfds ? fds[0] : -1, m.name);
    if (r < 0)
      log_err("policy from the master rejected: %s", strerror(-r));
    else
      log_info("policy in force: %s", m.name);
    wire_close_fds(fds, nfds);
    return 0;
  }
  wire_close_fds(fds, nfds);
  return -EPROTO;
}

int privserve_main(int control_fd, bool seccomp) {
  struct privserve ps = {.epfd = epoll_create1(EPOLL_CLOEXEC),
                         .control = control_fd};
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  int r = 0;

  if (ps.epfd < 0 || epoll_ctl(ps.epfd, EPOLL_CTL_ADD, control_fd, &ev) < 0)
    return -errno;
  r = closer_new(&ps.closer);
  /* The closing thread exists now: the filter covers it too. */
  if (r == 0 && seccomp)
    r = sandbox_filter_priv();
  if (r < 0)
    log_err("cannot start: %s", strerror(-r));
  while (r == 0) {
    struct epoll_event evs[16];
    int n = epoll_wait(ps.epfd, evs, 16, -1);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      r = -errno;
      break;
    }
    for (int i = 0; i < n && r == 0; i++) {
      struct channel *ch = evs[i].data.ptr;
      if (!ch)
        r = on_control(&ps); /* the master is gone or confused: stop */
      else if (serve_channel(&ps, ch) < 0)
        drop_channel(&ps, ch);
    }
    closer_flush(ps.closer);
  }
  closer_free(ps.closer);
  authz_shutdown();
  close(ps.epfd);
  return r == -ECONNRESET ? 0 : r;
}
