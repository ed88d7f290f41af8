/* SPDX-License-Identifier: MIT */
/*
 * master_workers: the master's table of workers. A worker serves exactly
 * one identity (uid, gid, groups, unit); the master hands it the
 * connections of that identity, starts one through psockd-spawn when none
 * runs (up to --workers per identity, spreading connections over them),
 * pings each once a second and has one that stops answering killed, and
 * lets one that has been idle for --worker-idle go.
 *
 * Trust boundary: a worker runs as a client's uid, so a client may have
 * taken it over: what the master reads from it is one fixed-size struct
 * (control.h), and anything else gets it killed. Its statistics are used
 * for spreading and limits only; nothing it says widens what it gets.
 */
#include "master_workers.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "control.h"
#include "log.h"
#include "privproto.h"
#include "spawnask.h"
#include "wire.h"

/* A worker that has not answered a ping for this long is killed. */
#define LIVENESS_MS 3000

/* Connections held while their uid's workers are asked for fresh counts,
 * and for how long at most (decided at the first tick after). */
#define HOLD_MAX 64
#define HOLD_MS 200

struct wslot {
  struct watch watch; /* first */
  struct wtable *t;
  bool used;
  uint32_t id;
  pid_t pid; /* 0 until psockd-spawn reports it */
  int ctl;   /* -1 once closed */
  struct identity who;
  uint64_t handed, acked, clients, requests;
  uint64_t seq, answered; /* last ping sent, last ping answered */
  long long last_pong_ms, idle_since_ms;
  bool draining; /* no new connections; it exits when idle */
  bool killed;
};

/* A connection its uid's limit refused by the last reports (see hold()). */
struct held {
  int fd;
  struct identity who;
  long long since_ms;
};

struct wtable {
  struct wtable_env env;
  struct wslot *slots;
  unsigned n_slots;
  uint32_t next_id;
  long long now_ms;
  struct held held[HOLD_MAX];
  unsigned n_held;
};

static void on_ctl(struct watch *w, uint32_t events);

static long long clock_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------- slots */

static unsigned load(const struct wslot *s) {
  return (unsigned)(s->clients + (s->handed - s->acked));
}

static struct wslot *slot_by_id(struct wtable *t, uint32_t id) {
  for (unsigned i = 0; i < t->n_slots; i++)
    if (t->slots[i].used && t->slots[i].id == id)
      return &t->slots[i];
  return NULL;
}

static void close_ctl(struct wtable *t, struct wslot *s) {
  if (s->ctl < 0)
    return;
  loop_del(t->env.loop, s->ctl, &s->watch);
  close(s->ctl);
  s->ctl = -1;
}

static void slot_free(struct wtable *t, struct wslot *s) {
  close_ctl(t, s);
  s->used = false;
}

static void kill_worker(struct wtable *t, struct wslot *s, int signo) {
  s->draining = true;
  if (*t->env.spawn_fd >= 0 && spawnask_kill(*t->env.spawn_fd, s->id, signo))
    log_warn("cannot ask psockd-spawn to signal worker %u: %m", s->id);
  s->killed = true;
}

static int send_ctl(struct wslot *s, const struct ctl_msg *m, int fd) {
  return wire_send_packet(s->ctl, m, sizeof(*m), &fd, fd >= 0 ? 1 : 0,
                          MSG_DONTWAIT);
}

static int send_policy(struct wtable *t, struct wslot *s) {
  struct ctl_msg m = {.type = CTL_POLICY};

  snprintf(m.name, sizeof(m.name), "%s", t->env.policy_name);
  return send_ctl(s, &m, *t->env.policy_fd);
}

/* ---------------------------------------------------------- starting */

static struct wslot *free_slot(struct wtable *t) {
  for (unsigned i = 0; i < t->n_slots; i++)
    if (!t->slots[i].used)
      return &t->slots[i];
  return NULL;
}

/* Tell psockd-priv whom the new worker's channel serves, then have
 * psockd-spawn start it with the other ends. */
static int start_fds(struct wtable *t, struct wslot *s, int ctl_theirs,
                     int priv_ours, int priv_theirs) {
  struct priv_ctl pc = {
      .type = PRIV_CTL_CHANNEL, .worker_id = s->id, .identity = s->who};
  int r;

  r = wire_send_packet(*t->env.priv_fd, &pc, sizeof(pc), &priv_ours, 1,
                       MSG_DONTWAIT);
  if (r == 0)
    r = spawnask_start(*t->env.spawn_fd, s->id, &s->who, ctl_theirs,
                       priv_theirs);
  return r;
}

static struct wslot *start_worker(struct wtable *t,
                                  const struct identity *who) {
  struct wslot *s = free_slot(t);
  int ctl[2] = {-1, -1}, priv[2] = {-1, -1}, r = -EAGAIN;

  if (!s || *t->env.spawn_fd < 0 || *t->env.priv_fd < 0)
    return NULL;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0 ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, priv) < 0) {
    r = -errno;
    goto out;
  }
  *s = (struct wslot){.watch.on_event = on_ctl,
                      .t = t,
                      .used = true,
                      .id = t->next_id++,
                      .ctl = ctl[0],
                      .who = *who,
                      .last_pong_ms = clock_ms()};
  r = start_fds(t, s, ctl[1], priv[0], priv[1]);
  if (r == 0)
    r = loop_add(t->env.loop, s->ctl, EPOLLIN, &s->watch);
  if (r == 0)
    r = send_policy(t, s);
  if (r == 0) {
    ctl[0] = -1; /* the slot's now */
    log_info("starting worker %u for uid %u gid %u", s->id, who->uid, who->gid);
  } else {
    s->ctl = -1;
    s->used = false;
    s = NULL;
  }
out:
  if (r < 0)
    log_err("cannot start a worker for uid %u: %s", who->uid, strerror(-r));
  wire_close_fds(ctl, 2);
  wire_close_fds(priv, 2);
  return s;
}

/* ----------------------------------------------------------- routing */

struct candidates {
  struct wslot *best; /* least loaded worker of the identity */
  unsigned n_identity, n_uid, n_total;
  uint64_t conns_uid;
};

static void survey(struct wtable *t, const struct identity *who,
                   struct candidates *c) {
  *c = (struct candidates){0};
  for (unsigned i = 0; i < t->n_slots; i++) {
    struct wslot *s = &t->slots[i];

    if (!s->used)
      continue;
    c->n_total++;
    if (s->who.uid != who->uid)
      continue;
    c->n_uid++;
    c->conns_uid += load(s);
    if (s->draining || s->ctl < 0 || !identity_same_subject(&s->who, who))
      continue;
    c->n_identity++;
    if (!c->best || load(s) < load(c->best))
      c->best = s;
  }
}

/* Whether the client is still there: one that left before it was routed
 * needs no worker started for it. */
static bool client_still_there(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};

  return poll(&p, 1, 0) == 0 || !(p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

enum choice { CHOSEN, OVER_LIMIT, NO_WORKER, CLIENT_GONE };

static enum choice choose(struct wtable *t, int fd, const struct identity *who,
                          struct wslot **ret) {
  const struct worker_limits *l = &t->env.limits;
  struct candidates c;
  bool more;

  survey(t, who, &c);
  if (c.conns_uid >= l->conns_per_uid)
    return OVER_LIMIT;
  more =
      !c.best || (c.n_identity < l->per_identity && load(c.best) >= l->spread);
  if (more && c.n_total < l->max_total && c.n_uid < l->max_per_uid) {
    if (!client_still_there(fd))
      return CLIENT_GONE;
    struct wslot *s = start_worker(t, who);
    if (s) {
      *ret = s;
      return CHOSEN;
    }
  }
  if (!c.best) {
    log_limited(LOG_WARNING,
                "uid %u pid %d: no worker can serve it (%u workers, %u of "
                "its uid): refused",
                who->uid, who->pid, c.n_total, c.n_uid);
    return NO_WORKER;
  }
  *ret = c.best;
  return CHOSEN;
}

static void ping(struct wslot *s) {
  struct ctl_msg m = {.type = CTL_PING, .seq = ++s->seq};

  send_ctl(s, &m, -1);
}

/*
 * The master learns of closed connections from the workers' reports, so
 * a user who closed some and connects again may look over its limit for
 * a moment. Before refusing, hold the connection and ask the uid's
 * workers for fresh counts; settle_held() decides when all have answered.
 */
static int hold(struct wtable *t, int fd, const struct identity *who) {
  if (t->n_held == HOLD_MAX)
    return -ENOBUFS;
  t->held[t->n_held++] =
      (struct held){.fd = fd, .who = *who, .since_ms = clock_ms()};
  for (unsigned i = 0; i < t->n_slots; i++) {
    struct wslot *s = &t->slots[i];
    if (s->used && s->ctl >= 0 && !s->killed && s->who.uid == who->uid)
      ping(s);
  }
  return 0;
}

static int route(struct wtable *t, int fd, const struct identity *who,
                 bool may_hold) {
  _cleanup_close_ int cfd = fd;
  struct ctl_msg m = {.type = CTL_CONN, .identity = *who};
  int r = -EAGAIN;

  /* A worker that died a moment ago may not have been noticed yet: its
   * control socket refuses the connection, and another one gets it. */
  for (int tries = 0; tries < 3; tries++) {
    struct wslot *s = NULL;

    switch (choose(t, cfd, who, &s)) {
    case CHOSEN:
      break;
    case OVER_LIMIT:
      if (may_hold && hold(t, cfd, who) == 0) {
        cfd = -1; /* held's now */
        return 0;
      }
      log_limited(LOG_NOTICE, "uid %u pid %d: already %u connections: refused",
                  who->uid, who->pid, t->env.limits.conns_per_uid);
      return -EAGAIN;
    case CLIENT_GONE:
      log_debug("uid %u pid %d: left before it was served", who->uid, who->pid);
      return -ECONNRESET;
    case NO_WORKER:
      return -EAGAIN;
    }
    r = send_ctl(s, &m, cfd);
    if (r == 0) {
      s->handed++;
      return 0;
    }
    log_limited(LOG_WARNING, "worker %u takes no connections (%s)", s->id,
                strerror(-r));
    /* Dead (EPIPE) or not reading (EAGAIN: it will be killed by the
     * liveness check): no more connections for it. */
    s->draining = true;
    if (r != -EAGAIN)
      close_ctl(t, s);
  }
  return r;
}

int wtable_route(struct wtable *t, int fd, const struct identity *who) {
  return route(t, fd, who, true);
}

/* Whether every live worker of uid has answered its last ping. */
static bool uid_answered(const struct wtable *t, uid_t uid) {
  for (unsigned i = 0; i < t->n_slots; i++) {
    const struct wslot *s = &t->slots[i];
    if (s->used && s->ctl >= 0 && !s->killed && s->who.uid == uid &&
        s->answered != s->seq)
      return false;
  }
  return true;
}

/* Route (or refuse, now for good) the held connections of uid whose
 * workers have all answered, or all that waited HOLD_MS (uid ignored). */
static void settle_held(struct wtable *t, uid_t uid, bool by_time) {
  bool answered = !by_time && uid_answered(t, uid);

  for (unsigned i = 0; i < t->n_held;) {
    struct held h = t->held[i];
    bool due = by_time ? t->now_ms - h.since_ms >= HOLD_MS
                       : answered && h.who.uid == uid;
    if (!due) {
      i++;
      continue;
    }
    t->held[i] = t->held[--t->n_held];
    route(t, h.fd, &h.who, false);
  }
}

/* ----------------------------------------------------- worker messages */

static void on_pong(struct wtable *t, struct wslot *s,
                    const struct ctl_msg *m) {
  if (m->conns_received > s->handed || m->seq > s->seq)
    return; /* it claims more than it got: ignore */
  s->acked = m->conns_received;
  s->clients = m->clients;
  s->requests = m->requests;
  s->answered = m->seq;
  s->last_pong_ms = clock_ms();
  if (t->n_held)
    settle_held(t, s->who.uid, false);
}

static void on_ctl(struct watch *w, uint32_t events) {
  struct wslot *s = (struct wslot *)w;
  struct wtable *t = s->t;
  struct ctl_msg m;
  int fds[1];
  size_t nfds = 0;
  ssize_t n;

  n = wire_recv_packet(s->ctl, &m, sizeof(m), fds, 1, &nfds, MSG_DONTWAIT);
  if (n == -EAGAIN)
    return;
  wire_close_fds(fds, nfds);
  if (n == sizeof(m) && nfds == 0 && m.type == CTL_PONG) {
    on_pong(t, s, &m);
    return;
  }
  /* 0: the worker is gone (its exit is reported by psockd-spawn). */
  if (n != 0 && n != -ECONNRESET) {
    log_err("worker %u (uid %u) sent a malformed control message: killing "
            "it",
            s->id, s->who.uid);
    kill_worker(t, s, SIGKILL);
  }
  close_ctl(t, s);
}

void wtable_report(struct wtable *t, const struct spawn_report *r) {
  struct wslot *s = slot_by_id(t, r->worker_id);
  char how[64];

  if (!s)
    return;
  if (r->type == SPAWN_STARTED && r->pid > 0) {
    s->pid = r->pid;
    log_info("worker %u (uid %u) is pid %d", s->id, s->who.uid, s->pid);
  } else if (r->type == SPAWN_STARTED) {
    log_err("psockd-spawn could not start worker %u: %s", s->id,
            strerror(-r->pid));
    slot_free(t, s);
  } else {
    log_exit_status(r->status, how, sizeof(how));
    if (s->killed || (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0))
      log_info("worker %u (uid %u, pid %d) %s", s->id, s->who.uid, r->pid, how);
    else
      log_warn("worker %u (uid %u, pid %d) %s", s->id, s->who.uid, r->pid, how);
    slot_free(t, s);
  }
}

/* ------------------------------------------------------ once a second */

static void tick_one(struct wtable *t, struct wslot *s) {
  const struct worker_limits *l = &t->env.limits;

  if (s->ctl < 0 || s->killed)
    return;
  if (t->now_ms - s->last_pong_ms > LIVENESS_MS) {
    log_err("worker %u (uid %u, pid %d) has not answered for %d ms: "
            "killing it",
            s->id, s->who.uid, s->pid, LIVENESS_MS);
    kill_worker(t, s, SIGKILL);
    return;
  }
  ping(s);
  if (s->draining)
    return;
  if (s->clients || s->handed != s->acked) {
    s->idle_since_ms = 0;
  } else if (!s->idle_since_ms) {
    s->idle_since_ms = t->now_ms;
  } else if (t->now_ms - s->idle_since_ms >= l->idle_ms) {
    struct ctl_msg drain = {.type = CTL_DRAIN};
    log_debug("worker %u (uid %u) idle: retiring it", s->id, s->who.uid);
    s->draining = true;
    send_ctl(s, &drain, -1);
  }
}

void wtable_tick(struct wtable *t, long long now_ms) {
  t->now_ms = now_ms;
  settle_held(t, 0, true);
  for (unsigned i = 0; i < t->n_slots; i++)
    if (t->slots[i].used && t->slots[i].pid > 0)
      tick_one(t, &t->slots[i]);
}

/* ----------------------------------------------------------- the rest */

void wtable_forget_all(struct wtable *t) {
  for (unsigned i = 0; i < t->n_slots; i++)
    if (t->slots[i].used)
      slot_free(t, &t->slots[i]);
}

static void drop_held(struct wtable *t) {
  while (t->n_held)
    close(t->held[--t->n_held].fd);
}

void wtable_kill_all(struct wtable *t, int signo) {
  for (unsigned i = 0; i < t->n_slots; i++)
    if (t->slots[i].used)
      kill_worker(t, &t->slots[i], signo);
}

void wtable_drain_all(struct wtable *t) {
  struct ctl_msg drain = {.type = CTL_DRAIN};

  drop_held(t);
  for (unsigned i = 0; i < t->n_slots; i++) {
    struct wslot *s = &t->slots[i];
    if (s->used && s->ctl >= 0) {
      s->draining = true;
      send_ctl(s, &drain, -1);
    }
  }
}

unsigned wtable_send_policy(struct wtable *t) {
  unsigned sent = 0;

  for (unsigned i = 0; i < t->n_slots; i++)
    if (t->slots[i].used && t->slots[i].ctl >= 0 &&
        send_policy(t, &t->slots[i]) == 0)
      sent++;
  return sent;
}

bool wtable_empty(const struct wtable *t) {
  for (unsigned i = 0; i < t->n_slots; i++)
    if (t->slots[i].used)
      return false;
  return true;
}

void wtable_stats(const struct wtable *t, unsigned *ret_workers,
                  unsigned *ret_users, uint64_t *ret_clients,
                  uint64_t *ret_requests) {
  *ret_workers = *ret_users = 0;
  *ret_clients = *ret_requests = 0;
  for (unsigned i = 0; i < t->n_slots; i++) {
    const struct wslot *s = &t->slots[i];
    bool seen = false;

    if (!s->used)
      continue;
    for (unsigned j = 0; j < i && !seen; j++)
      seen = t->slots[j].used && t->slots[j].who.uid == s->who.uid;
    *ret_users += !seen;
    (*ret_workers)++;
    *ret_clients += s->clients;
    *ret_requests += s->requests;
  }
}

int wtable_new(const struct wtable_env *env, struct wtable **ret) {
  _cleanup_free_ struct wtable *t = calloc(1, sizeof(*t));

  if (!t)
    return -ENOMEM;
  t->env = *env;
  t->n_slots = env->limits.max_total;
  t->slots = calloc(t->n_slots, sizeof(*t->slots));
  if (!t->slots)
    return -ENOMEM;
  t->next_id = 1;
  *ret = TAKE_PTR(t);
  return 0;
}

void wtable_free(struct wtable *t) {
  if (!t)
    return;
  wtable_forget_all(t);
  drop_held(t);
  free(t->slots);
  free(t);
}
