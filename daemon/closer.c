/* SPDX-License-Identifier: MIT */
/*
 * closer: the closing thread (see closer.h). Two growable arrays: the
 * loop's batch (no lock: loop thread only) and the shared queue (under the
 * mutex). closer_flush() moves the batch to the queue with one lock and
 * signals the thread only if it is waiting.
 *
 * Trust boundary: none; the fds are numbers the loop owns.
 */
#include "closer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

struct fdvec {
  int *fds;
  size_t n, cap;
};

struct closer {
  struct fdvec batch; /* loop thread only */
  pthread_mutex_t lock;
  pthread_cond_t wake;
  struct fdvec queue; /* under lock */
  bool waiting, stopping, started;
  pthread_t thread;
};

static int fdvec_push(struct fdvec *v, int fd) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 64;
    int *p = realloc(v->fds, cap * sizeof(int));
    if (!p)
      return -ENOMEM;
    v->fds = p;
    v->cap = cap;
  }
  v->fds[v->n++] = fd;
  return 0;
}

static void *closer_thread(void *arg) {
  struct closer *c = arg;
  struct fdvec mine = {0};

  pthread_mutex_lock(&c->lock);
  c->started = true;
  pthread_cond_broadcast(&c->wake);
  for (;;) {
    while (c->queue.n == 0 && !c->stopping) {
      c->waiting = true;
      pthread_cond_wait(&c->wake, &c->lock);
      c->waiting = false;
    }
    if (c->queue.n == 0 && c->stopping)
      break;
    /* Swap buffers: close without holding the lock. */
    struct fdvec t = c->queue;
    c->queue = mine;
    mine = t;
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < mine.n; i++)
      close(mine.fds[i]);
    mine.n = 0;
    pthread_mutex_lock(&c->lock);
  }
  pthread_mutex_unlock(&c->lock);
  free(mine.fds);
  return NULL;
}

int closer_new(struct closer **ret) {
  _cleanup_free_ struct closer *c = calloc(1, sizeof(*c));
  sigset_t all, old;
  int r;

  if (!c)
    return -ENOMEM;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->wake, NULL);
  /* Signals belong to the loop thread. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  r = -pthread_create(&c->thread, NULL, closer_thread, c);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r < 0) {
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    return r;
  }
  /* Wait until the thread runs: a seccomp filter installed next would
   * kill a thread still starting up (rseq, set_robust_list, ...). */
  pthread_mutex_lock(&c->lock);
  while (!c->started)
    pthread_cond_wait(&c->wake, &c->lock);
  pthread_mutex_unlock(&c->lock);
  *ret = TAKE_PTR(c);
  return 0;
}

/*
 * Whether close(fd) returns at once: a socket without a positive linger
 * time. Such fds are closed inline, so that a socket the client has closed
 * stops working when the client's close returns, as it would natively (a
 * listener psockd still held would otherwise keep completing handshakes
 * until the thread got to it). Everything else goes to the thread.
 *
 * The check races with a client setting SO_LINGER on its own copy between
 * getsockopt() and close(); the worst it buys is a loop stalled for the
 * linger time, in a worker that serves only that client's own identity
 * (the master kills a worker that stops answering pings; see security.md).
 */
static bool close_is_quick(int fd) {
  struct linger l;
  socklen_t len = sizeof(l);

  /* Fails (ENOTSOCK) for anything but a socket: a pipe, a FUSE file whose
   * release may wait, ... go to the thread. */
  if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) < 0)
    return false;
  return !(l.l_onoff && l.l_linger > 0);
}

void closer_add(struct closer *c, int fd) {
  if (fd < 0)
    return;
  if (close_is_quick(fd)) {
    close(fd);
    return;
  }
  /* Out of memory: closing here is still better than leaking the fd. */
  if (!c || fdvec_push(&c->batch, fd) < 0)
    close(fd);
}

void closer_add_fds(struct closer *c, int *fds, size_t n) {
  for (size_t i = 0; i < n; i++) {
    closer_add(c, fds[i]);
    fds[i] = -1;
  }
}

void closer_close_sent(int *fds, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (fds[i] >= 0)
      close(fds[i]);
    fds[i] = -1;
  }
}

void closer_flush(struct closer *c) {
  bool wake;

  if (!c || c->batch.n == 0)
    return;
  pthread_mutex_lock(&c->lock);
  for (size_t i = 0; i < c->batch.n; i++)
    if (fdvec_push(&c->queue, c->batch.fds[i]) < 0) {
      log_err("closer: out of memory; closing on the loop");
      close(c->batch.fds[i]);
    }
  wake = c->waiting;
  pthread_mutex_unlock(&c->lock);
  c->batch.n = 0;
  if (wake)
    pthread_cond_signal(&c->wake);
}

/* A closer whose thread was still closing when its process stopped. */
static struct closer *abandoned;

void closer_free(struct closer *c) {
  struct timespec until;

  if (!c)
    return;
  closer_flush(c);
  pthread_mutex_lock(&c->lock);
  c->stopping = true;
  pthread_cond_signal(&c->wake);
  pthread_mutex_unlock(&c->lock);
  /* A close waiting out a client's SO_LINGER would hold the exit for as
   * long: give up on it. The process exits next, and the kernel does not
   * linger for a process that exits (it closes what is left at once). */
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_nsec += 200 * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  if (pthread_timedjoin_np(c->thread, NULL, &until) != 0) {
    abandoned = c;
    return;
  }
  free(c->batch.fds);
  free(c->queue.fds);
  pthread_cond_destroy(&c->wake);
  pthread_mutex_destroy(&c->lock);
  free(c);
}
