/* SPDX-License-Identifier: MIT */
/*
 * sv_wait: calls answered later (see sv_wait.h). A short list: a program
 * has at most one waiting call per thread.
 */
#include "sv_wait.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The kernel's "restart if SA_RESTART, else EINTR" (include/linux/errno.h). */
#define ERESTARTSYS 512
/* How often a waiting thread's pending signals are looked at. */
#define SIGNAL_POLL_MS 20

struct sv_wait {
  struct sv_req req; /* the notification (no pidfd) */
  int fd;
  sv_retry_fn retry;
  void *arg;
  void (*free_arg)(void *);
  long timeout_result;
  bool bounded; /* SO_SNDTIMEO set: deadline_ms counts */
  long long deadline_ms;
  struct sv_wait *prev, *next;
};

static struct sv_wait *waits;
static int wait_epfd = -1;
static bool wait_killable;
static long long next_signal_poll;

static long long now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void sv_wait_init(int epfd, bool killable) {
  wait_epfd = epfd;
  wait_killable = killable;
}

int sv_wait_fd(const struct sv_wait *w) {
  return w->fd;
}

const struct sv_req *sv_wait_req(const struct sv_wait *w) {
  return &w->req;
}

static void drop(struct sv_wait *w) {
  epoll_ctl(wait_epfd, EPOLL_CTL_DEL, w->fd, NULL);
  close(w->fd);
  w->free_arg(w->arg);
  if (w->prev)
    w->prev->next = w->next;
  else
    waits = w->next;
  if (w->next)
    w->next->prev = w->prev;
  free(w);
}

/* Answer and forget w. A call that is gone (a signal, its thread killed)
 * is forgotten all the same. */
static void finish(struct sv_wait *w, long result) {
  sv_reply(&w->req, result);
  drop(w);
}

int sv_wait_add(const struct sv_req *r, const struct sv_wait_spec *spec) {
  struct epoll_event ev = {.events = EPOLLOUT};
  struct timeval tv = {0};
  socklen_t len = sizeof(tv);
  struct sv_wait *w = calloc(1, sizeof(*w));

  void (*free_arg)(void *) = spec->free_arg ? spec->free_arg : free;

  if (!w) {
    close(spec->fd);
    free_arg(spec->arg);
    return -ENOMEM;
  }
  w->req = *r;
  w->req.pidfd = -1;
  w->fd = spec->fd;
  w->retry = spec->retry;
  w->arg = spec->arg;
  w->free_arg = free_arg;
  w->timeout_result = spec->timeout_result;
  if (getsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0 &&
      (tv.tv_sec > 0 || tv.tv_usec > 0)) {
    w->bounded = true;
    w->deadline_ms = now_ms() + tv.tv_sec * 1000LL + (tv.tv_usec + 999) / 1000;
  }
  ev.data.ptr = w;
  if (epoll_ctl(wait_epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
    int err = errno;

    close(w->fd);
    free_arg(w->arg);
    free(w);
    return -err;
  }
  if (!waits)
    next_signal_poll = now_ms() + SIGNAL_POLL_MS;
  w->next = waits;
  if (waits)
    waits->prev = w;
  waits = w;
  return 0;
}

void sv_wait_event(struct sv_wait *w, uint32_t events) {
  long res = w->retry(w, w->arg);

  if (res != -EAGAIN)
    finish(w, res);
}

/*
 * Would the kernel's interruptible wait have ended for a signal? One that
 * the thread does not block, is pending for it, and that it catches. A
 * signal pending for the whole process is counted only when the process
 * has one thread: otherwise another thread may take it, and the kernel
 * would not have interrupted this one.
 */
static bool signal_waiting(pid_t tid) {
  struct sv_task t;
  uint64_t pending;

  if (sv_task(tid, &t) < 0)
    return false;
  pending = t.sig_pending | (t.threads == 1 ? t.shared_pending : 0);
  return (pending & ~t.blocked & t.caught) != 0;
}

void sv_wait_tick(void) {
  long long now = now_ms();
  bool poll_signals = now >= next_signal_poll;
  struct sv_wait *w = waits, *next;

  if (poll_signals)
    next_signal_poll = now + SIGNAL_POLL_MS;
  for (; w; w = next) {
    next = w->next;
    if (w->bounded && now >= w->deadline_ms)
      finish(w, w->timeout_result);
    else if (!poll_signals)
      continue;
    else if (!sv_valid(&w->req))
      drop(w);
    else if (wait_killable && signal_waiting((pid_t)w->req.n.pid))
      /* With a send timeout the kernel never restarts. */
      finish(w, w->bounded ? -EINTR : -ERESTARTSYS);
  }
}

int sv_wait_timeout_ms(void) {
  long long now = now_ms(), due = next_signal_poll;

  if (!waits)
    return -1;
  for (struct sv_wait *w = waits; w; w = w->next)
    if (w->bounded && w->deadline_ms < due)
      due = w->deadline_ms;
  return due <= now ? 0 : (int)(due - now);
}
