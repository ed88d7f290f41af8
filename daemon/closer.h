/* SPDX-License-Identifier: MIT */
/*
 * closer: close client-visible sockets off the event loop.
 *
 * close() of a socket's last reference runs the protocol's release in the
 * closing thread; with SO_LINGER set and unsent data (or a FIN the peer
 * never acknowledges) it waits up to the linger time. A client can arrange
 * for psockd's copy to be the last one (close its own right after sending
 * it), so an event loop that closed such fds itself could be frozen by any
 * client. Every fd that a client has held, holds, or may already hold
 * (fds received in requests, fds sent in replies) is closed here instead,
 * on a thread of its own, unless a look at it shows the close cannot wait
 * (a socket without a positive SO_LINGER time): those are closed at once,
 * so that a socket the client closed stops working as soon as it would
 * natively.
 *
 * The loop queues with closer_add() and hands each batch over with
 * closer_flush() once per iteration, so a busy loop pays one lock and at
 * most one wake-up per batch, not per fd.
 */
#pragma once

#include <stddef.h>

struct closer;

/* Start the closing thread. Returns 0 or -errno. */
int closer_new(struct closer **ret);

/* Close fd (>= 0) now if that cannot block, else queue it; -1 is ignored.
 * Loop thread only. */
void closer_add(struct closer *c, int fd);

/* Queue fds[0..n) and set each slot to -1. */
void closer_add_fds(struct closer *c, int *fds, size_t n);

/*
 * Close fds[0..n) just sent in a reply, at once, and set each slot to -1.
 * Each is still referenced by the message in flight until the client has
 * read it, so this close is the last only if the client read the reply,
 * set a linger time and closed its copy in the moment since the send: no
 * look at it first would close that race, and losing it stalls only the
 * worker of the client's own identity (see closer_add()).
 */
void closer_close_sent(int *fds, size_t n);

/* Hand what was queued since the last flush to the thread. */
void closer_flush(struct closer *c);

/*
 * Flush, let the thread close everything queued, stop it and free c; for a
 * process about to exit. A thread still waiting out a linger after 200 ms
 * is left behind (the exit closes its fds without lingering). NULL is
 * ignored.
 */
void closer_free(struct closer *c);
