/* SPDX-License-Identifier: MIT */
/*
 * fake_conn: daemon/conn.c for fuzz_dispatch, the one module of a worker's
 * stack the target does not link. Everything conn.h declares is here, with
 * conn.h's contract, on the real struct conn and struct conn_set.
 *
 * Why a fake: conn.c is where a reply leaves psockd, through the client's
 * socket. The target has no client process; what it needs at that boundary
 * is to look at every reply before it would go. So conn_send() here checks
 * the reply against the oracles below instead of writing it to a socket,
 * and everything under the connection (dispatch, calls, handlers, the
 * resolver's asking side, authz, policy, the closer, the event loop of the
 * create_connection attempts) is psockd's own code.
 *
 * What it does as conn.c does:
 *  - references: conn_add() gives the set's reference; conn_close() drops
 *    it; the last conn_unref() moves the connection to the set's
 *    graveyard, and conn_bury() frees it after the batch (so ASan reports
 *    a call that outlives its connection's memory);
 *  - conn_close(): marks it dead, cancels every waiter (each pending call:
 *    its cancel finishes it, with no reply, while the connection is dead),
 *    unlinks it from the live list, closes its fd;
 *  - conn_send(): takes the fds in every case and hands them to the closer
 *    (sent: the client holds its own copies; dropped: nobody does); on a
 *    dead connection it returns -EPIPE; a reply answering a violation
 *    (close_when_sent) closes the connection once it is out; after
 *    fake_conn_hang_up() a send fails with -EPIPE and closes the
 *    connection inside conn_send(), as a send to a client that left does.
 *
 * What conn.c does that this does not: there is no socket, so nothing is
 * written (wire_send_packet() and SCM_RIGHTS are not exercised here; the
 * unit and hostile tests cover them) and nothing is read (the target calls
 * dispatch_packet() as worker.c's conn_read() would). A reply always goes
 * out at once: there is no reply queue, no EPOLLOUT, no stopping reading a
 * client with a reply waiting, no bound on unread fds (CONN_MAX_UNREAD_FDS,
 * SIOCOUTQ, fd_blocked, conn_retry_blocked() has nothing to retry), and the
 * connection is never on the epoll loop.
 *
 * Oracles, on every reply: its length is 1..PSOCK_MAX_PACKET with at most
 * PSOCK_MAX_REPLY_FDS fds (a socket with its batch); it decodes as a Response
 * with a result set and fd_count equal to the fds that come with it; every fd
 * is open and close-on-exec; an error reply has no fd, a known kind and a
 * message. And what conn.c takes for granted: no reference is dropped twice, no
 * call waits on a closed connection (nothing would ever cancel it), no
 * reply is sent on a connection whose last reference is gone.
 */
#include "fake_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "closer.h"
#include "log.h"
#include "wire.h"

struct fake_conn {
  struct conn c; /* first: a struct conn * is a struct fake_conn * */
  bool gone;     /* the client left: sends fail */
};

void (*fake_conn_on_reply)(struct conn *c, const Psock__V1__Response *r,
                           const int *fds, size_t nfds);
bool fake_conn_lenient;
unsigned long fake_conn_replies;

void fuzz_fail(const char *fmt, ...) {
  va_list ap;

  fputs("fuzz oracle failed: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

/* ------------------------------------------------------- references */

void conn_ref(struct conn *c) {
  if (c->refs == 0)
    fuzz_fail("conn_ref on a connection whose last reference is gone");
  c->refs++;
}

void conn_unref(struct conn *c) {
  if (c->refs == 0)
    fuzz_fail("conn_unref: a reference dropped twice");
  if (--c->refs > 0)
    return;
  if (!c->dead)
    fuzz_fail("the last reference of a live connection dropped");
  c->next = c->set->graveyard;
  c->set->graveyard = c;
}

void conn_bury(struct conn_set *s) {
  while (s->graveyard) {
    struct conn *next = s->graveyard->next;
    free((struct fake_conn *)s->graveyard);
    s->graveyard = next;
  }
}

void conn_wait(struct conn *c, struct conn_waiter *w) {
  if (c->dead)
    fuzz_fail("a call waits on a closed connection: nothing will cancel it");
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

int conn_add(struct conn_set *s, int fd, const struct identity *peer,
             struct conn **ret) {
  struct fake_conn *f = calloc(1, sizeof(*f));
  struct conn *c = &f->c;

  if (!f) {
    if (fd >= 0)
      close(fd);
    return -ENOMEM;
  }
  c->set = s;
  c->fd = fd; /* never read nor watched; closed by conn_close() */
  c->refs = 1;
  c->peer = *peer;
  c->serial = ++s->next_serial;
  c->events = EPOLLIN;
  c->next = s->live;
  if (s->live)
    s->live->prev = c;
  s->live = c;
  s->n_live++;
  *ret = c;
  return 0;
}

void conn_close(struct conn *c, const char *why) {
  struct conn_set *s = c->set;

  if (c->dead)
    return;
  conn_ref(c);
  c->dead = true;
  log_debug("conn %" PRIu64 " (pid %d): closed: %s", c->serial, c->peer.pid,
            why);
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  s->n_live--;
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

void fake_conn_hang_up(struct conn *c) {
  ((struct fake_conn *)c)->gone = true;
}

void conn_retry_blocked(struct conn_set *s) {
  /* Nothing ever waits for a client to read here. */
  (void)s;
}

/* -------------------------------------------------------- replies */

static void check_error(const Psock__V1__Error *e, size_t nfds) {
  if (nfds != 0)
    fuzz_fail("an error reply carries %zu fd(s)", nfds);
  if (fake_conn_lenient)
    return;
  if (!e->message || !e->message[0])
    fuzz_fail("an error reply without a message (kind %d code %d)",
              (int)e->kind, (int)e->code);
  if (e->kind <= PSOCK__V1__ERROR__KIND__KIND_UNSPECIFIED ||
      e->kind > PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR)
    fuzz_fail("an error reply of unknown kind %d", (int)e->kind);
}

static void check_reply(struct conn *c, const void *buf, size_t len,
                        const int *fds, size_t nfds) {
  Psock__V1__Response *r;

  if (len == 0 || len > PSOCK_MAX_PACKET)
    fuzz_fail("a reply of %zu bytes", len);
  if (nfds > PSOCK_MAX_REPLY_FDS)
    fuzz_fail("a reply with %zu fds", nfds);
  r = psock__v1__response__unpack(NULL, len, buf);
  if (!r)
    fuzz_fail("a reply that does not decode as a Response");
  if (r->fd_count != nfds)
    fuzz_fail("fd_count %u with %zu fd(s)", r->fd_count, nfds);
  if (r->result_case == PSOCK__V1__RESPONSE__RESULT__NOT_SET)
    fuzz_fail("a reply without a result");
  if (r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR)
    check_error(r->error, nfds);
  for (size_t i = 0; i < nfds; i++) {
    int flags = fcntl(fds[i], F_GETFD);
    if (flags < 0 || !(flags & FD_CLOEXEC))
      fuzz_fail("reply fd %d is %s", fds[i],
                flags < 0 ? "not open" : "not close-on-exec");
  }
  if (fake_conn_on_reply)
    fake_conn_on_reply(c, r, fds, nfds);
  psock__v1__response__free_unpacked(r, NULL);
}

int conn_send(struct conn *c, const void *buf, size_t len, int *fds,
              size_t nfds) {
  if (c->refs == 0)
    fuzz_fail("a reply on a connection whose last reference is gone");
  if (c->dead) {
    closer_add_fds(c->set->closer, fds, nfds);
    return -EPIPE;
  }
  check_reply(c, buf, len, fds, nfds);
  closer_add_fds(c->set->closer, fds, nfds);
  if (((struct fake_conn *)c)->gone) {
    conn_close(c, "Broken pipe");
    return -EPIPE;
  }
  c->set->replies++;
  fake_conn_replies++;
  if (c->close_when_sent)
    conn_close(c, "protocol error answered");
  return 0;
}
