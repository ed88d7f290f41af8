/* SPDX-License-Identifier: MIT */
/*
 * conn: client connections of a worker (see conn.h): life and references,
 * the reply queue, and the bounds on fds sent but not yet read.
 *
 * Trust boundary: writes only; every fd that leaves here through a reply,
 * or is dropped with a queued one, goes through the closer (the client may
 * hold the same socket and have set SO_LINGER on it).
 */
#include "conn.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "closer.h"
#include "log.h"
#include "wire.h"

struct outpkt {
  struct outpkt *next;
  size_t len;
  size_t nfds;
  int fds[PSOCK_MAX_REPLY_FDS];
  uint8_t data[];
};

/* A reply larger than the bound could never go out. */
_Static_assert(PSOCK_MAX_REPLY_FDS <= CONN_MAX_UNREAD_FDS,
               "a reply's fds fit in the unread bound");

static void conn_on_event(struct watch *w, uint32_t events);

/* ------------------------------------------------------- references */

void conn_ref(struct conn *c) {
  c->refs++;
}

static void outq_free(struct conn *c) {
  while (c->out_head) {
    struct outpkt *p = c->out_head;
    c->out_head = p->next;
    closer_add_fds(c->set->closer, p->fds, p->nfds);
    free(p);
  }
  c->out_tail = NULL;
}

void conn_unref(struct conn *c) {
  if (--c->refs > 0)
    return;
  outq_free(c);
  c->next = c->set->graveyard;
  c->set->graveyard = c;
}

void conn_bury(struct conn_set *s) {
  while (s->graveyard) {
    struct conn *next = s->graveyard->next;
    free(s->graveyard);
    s->graveyard = next;
  }
}

void conn_wait(struct conn *c, struct conn_waiter *w) {
  w->prev = NULL;
  w->next = c->waiters;
  if (c->waiters)
    c->waiters->prev = w;
  c->waiters = w;
}

void conn_unwait(struct conn *c, struct conn_waiter *w) {
  if (w->prev)
    w->prev->next = w->next;
  else if (c->waiters == w)
    c->waiters = w->next;
  if (w->next)
    w->next->prev = w->prev;
  w->prev = w->next = NULL;
}

/* ---------------------------------------------------------- life */

static void set_unread(struct conn *c, unsigned n) {
  c->set->unread_fds = c->set->unread_fds - c->unread_fds + n;
  c->unread_fds = n;
}

static void set_blocked(struct conn *c, bool blocked) {
  if (c->fd_blocked != blocked)
    c->set->fd_blocked += blocked ? 1 : -1u;
  c->fd_blocked = blocked;
}

void conn_close(struct conn *c, const char *why) {
  struct conn_set *s = c->set;

  if (c->dead)
    return;
  conn_ref(c);
  c->dead = true;
  log_debug("conn %" PRIu64 " (pid %d): closed: %s", c->serial, c->peer.pid,
            why);
  loop_del(s->loop, c->fd, &c->watch);
  /* The connection is an AF_UNIX socket of ours: no linger to wait out. */
  close(c->fd);
  c->fd = -1;
  s->n_live--;
  set_unread(c, 0);
  set_blocked(c, false);
  outq_free(c);
  /* Work off the loop for a client that is gone: cancel it. */
  while (c->waiters) {
    struct conn_waiter *w = c->waiters;
    conn_unwait(c, w);
    w->cancel(w);
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    s->live = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  conn_unref(c); /* the set's own reference */
  conn_unref(c);
}

void conn_close_all(struct conn_set *s, const char *why) {
  while (s->live)
    conn_close(s->live, why);
}

static void conn_set_events(struct conn *c, uint32_t events) {
  if (c->dead || c->events == events)
    return;
  if (loop_mod(c->set->loop, c->fd, events, &c->watch) < 0) {
    log_err("epoll_ctl: %m");
    conn_close(c, "epoll_ctl failed");
    return;
  }
  c->events = events;
}

int conn_add(struct conn_set *s, int fd, const struct identity *peer,
             struct conn **ret) {
  _cleanup_close_ int cfd = fd;
  _cleanup_free_ struct conn *c = calloc(1, sizeof(*c));
  int r;

  if (!c)
    return -ENOMEM;
  c->watch.on_event = conn_on_event;
  c->set = s;
  c->fd = cfd;
  c->refs = 1;
  c->peer = *peer;
  c->serial = ++s->next_serial;
  c->events = EPOLLIN;
  r = loop_add(s->loop, cfd, EPOLLIN, &c->watch);
  if (r < 0)
    return r;
  TAKE_FD(cfd);
  c->next = s->live;
  if (s->live)
    s->live->prev = c;
  s->live = c;
  s->n_live++;
  *ret = TAKE_PTR(c);
  return 0;
}

/* -------------------------------------------------------- replies */

/*
 * May a reply with nfds fds go out now? While the bounds hold, yes. When
 * they would be exceeded, ask the kernel whether the client has read
 * everything sent so far (nothing of ours left in its queue): then the
 * count starts again.
 */
static bool may_send_fds(struct conn *c, size_t nfds) {
  int queued = 0;

  if (nfds == 0)
    return true;
  if (c->unread_fds + nfds <= CONN_MAX_UNREAD_FDS &&
      c->set->unread_fds + nfds <= CONN_MAX_UNREAD_FDS_ALL)
    return true;
  if (ioctl(c->fd, SIOCOUTQ, &queued) == 0 && queued == 0)
    set_unread(c, 0);
  return c->unread_fds + nfds <= CONN_MAX_UNREAD_FDS &&
         c->set->unread_fds + nfds <= CONN_MAX_UNREAD_FDS_ALL;
}

static void sent(struct conn *c, int *fds, size_t nfds) {
  /* The client holds its own copies now (in flight or read): ours go. */
  closer_close_sent(fds, nfds);
  set_unread(c, c->unread_fds + (unsigned)nfds);
  c->set->replies++;
}

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

  if (c->dead || nfds > PSOCK_MAX_REPLY_FDS) {
    closer_add_fds(c->set->closer, fds, nfds);
    return c->dead ? -EPIPE : -EMSGSIZE;
  }
  if (!c->out_head && may_send_fds(c, nfds)) {
    r = wire_send_packet(c->fd, buf, len, fds, nfds, MSG_DONTWAIT);
    if (r == 0) {
      sent(c, fds, nfds);
      if (c->close_when_sent)
        conn_close(c, "protocol error answered");
      return 0;
    }
    if (r != -EAGAIN) {
      closer_add_fds(c->set->closer, fds, nfds);
      conn_close(c, strerror(-r));
      return r;
    }
  }
  r = outq_push(c, buf, len, fds, nfds);
  if (r < 0) {
    closer_add_fds(c->set->closer, fds, nfds);
    conn_close(c, "out of memory queueing a reply");
    return r;
  }
  if (nfds && !may_send_fds(c, nfds)) {
    /* Not read (a readable connection with a reply queued would wake the
     * level-triggered loop at once, again and again) until the retry
     * timer finds the client has read what it was sent. */
    set_blocked(c, true);
    conn_set_events(c, 0);
  } else {
    conn_set_events(c, EPOLLOUT);
  }
  return 0;
}

/* Send what is queued, as far as the socket and the bounds allow. */
static void conn_flush(struct conn *c) {
  while (c->out_head && !c->dead) {
    struct outpkt *p = c->out_head;
    int r;

    if (!may_send_fds(c, p->nfds)) {
      set_blocked(c, true);
      conn_set_events(c, 0);
      return;
    }
    set_blocked(c, false);
    r = wire_send_packet(c->fd, p->data, p->len, p->fds, p->nfds, MSG_DONTWAIT);
    if (r == -EAGAIN) {
      conn_set_events(c, EPOLLOUT);
      return;
    }
    if (r < 0) {
      conn_close(c, strerror(-r));
      return;
    }
    c->out_head = p->next;
    if (!c->out_head)
      c->out_tail = NULL;
    sent(c, p->fds, p->nfds);
    free(p);
  }
  if (c->dead)
    return;
  if (c->close_when_sent)
    conn_close(c, "protocol error answered");
  else
    conn_set_events(c, EPOLLIN);
}

void conn_retry_blocked(struct conn_set *s) {
  for (struct conn *c = s->live, *next; c; c = next) {
    int queued = 0;

    next = c->next;
    if (c->unread_fds && ioctl(c->fd, SIOCOUTQ, &queued) == 0 && queued == 0)
      set_unread(c, 0);
  }
  /* Flushing c may close c, never another connection: next stays. */
  for (struct conn *c = s->live, *next; c && s->fd_blocked; c = next) {
    next = c->next;
    if (c->fd_blocked) {
      conn_ref(c);
      conn_flush(c);
      conn_unref(c);
    }
  }
}

static void conn_on_event(struct watch *w, uint32_t events) {
  struct conn *c = (struct conn *)w;

  if (c->dead)
    return;
  conn_ref(c);
  if (events & EPOLLOUT)
    conn_flush(c);
  if (!c->dead && (events & EPOLLIN) && !c->out_head)
    c->set->on_readable(c);
  if (!c->dead && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
    conn_close(c, "hang-up");
  conn_unref(c);
}
