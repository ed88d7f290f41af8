/* SPDX-License-Identifier: MIT */
/*
 * conn: one client connection in a worker: its identity, references, the
 * replies waiting to be sent, and the calls waiting off the loop.
 *
 * A connection is read only while it has no reply queued: a client that
 * does not read its replies stops being read, so it can make psockd hold at
 * most one queued reply per request in flight. Replies that carry fds are
 * also bounded while unread (CONN_MAX_UNREAD_FDS per connection,
 * CONN_MAX_UNREAD_FDS_ALL per worker): beyond that the next one waits in
 * the queue until the client has read what it was sent. The kernel charges
 * fds in flight to the sending user, and a worker runs as the client's own
 * uid, so what is left of the bound is the client's own budget.
 *
 * Trust boundary: the connection's fd leads to a client; this file only
 * writes to it (the worker reads, dispatch decodes). fds in replies may be
 * in the client's hands already, so they are closed through the closer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "loop.h"

#define CONN_MAX_UNREAD_FDS 64
#define CONN_MAX_UNREAD_FDS_ALL 1024

struct closer;
struct outpkt;
struct conn;
struct page;

/* Something in flight off the loop for a connection: cancelled (on the
 * loop thread) when the connection closes before it finishes. */
struct conn_waiter {
  void (*cancel)(struct conn_waiter *w);
  struct conn_waiter *prev, *next;
};

/* What the connections of one worker share. */
struct conn_set {
  struct loop *loop;
  struct closer *closer;
  const struct page *page; /* the identity's policy page, or NULL */
  struct conn *live;
  struct conn *graveyard; /* freed after the current batch of events */
  uint64_t next_serial;
  uint64_t n_live;
  uint64_t replies;    /* replies sent, for statistics */
  unsigned unread_fds; /* sum over live connections */
  unsigned fd_blocked; /* connections waiting for their client to read */
  /* Called for each readable connection (the worker reads it). */
  void (*on_readable)(struct conn *c);
};

struct conn {
  struct watch watch; /* first: the loop hands us this pointer */
  struct conn_set *set;
  int fd;
  unsigned refs;
  bool dead;            /* fd closed: replies still pending are dropped */
  bool hello_done;      /* handshake completed */
  bool close_when_sent; /* answered a violation: close after the reply */
  bool fd_blocked;      /* a reply waits for the client to read fds */
  uint32_t events;      /* epoll mask now registered */
  uint64_t serial;      /* for log lines */
  unsigned inflight;    /* requests being served off the loop */
  unsigned unread_fds;  /* fds sent since the client last had read all */
  struct identity peer; /* who, fixed by the kernel at connect time */
  struct outpkt *out_head, *out_tail;
  struct conn_waiter *waiters;
  struct conn *prev, *next;
};

/*
 * Start serving fd (takes it in every case) for peer. Returns 0 and *ret
 * (the set's reference; callers that keep it take their own), or -errno.
 */
int conn_add(struct conn_set *s, int fd, const struct identity *peer,
             struct conn **ret);

/*
 * Send one reply packet to c: at once if the socket takes it and no bound
 * is exceeded, else queued (c stops being read until its queue drains).
 * Takes ownership of fds in every case. Returns 0, or -errno when the
 * connection failed (it is closed then).
 */
int conn_send(struct conn *c, const void *buf, size_t len, int *fds,
              size_t nfds);

/* Close the fd now, cancel what waits, free when the last ref goes. */
void conn_close(struct conn *c, const char *why);

void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

void conn_wait(struct conn *c, struct conn_waiter *w);
void conn_unwait(struct conn *c, struct conn_waiter *w);

/* Retry the queues of connections blocked on unread fds (a timer calls
 * this while s->fd_blocked > 0). */
void conn_retry_blocked(struct conn_set *s);

/* After a batch of events: free the connections closed during it. */
void conn_bury(struct conn_set *s);

/* Close every connection (stopping). */
void conn_close_all(struct conn_set *s, const char *why);
