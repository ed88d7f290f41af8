/* SPDX-License-Identifier: MIT */
/*
 * loop: the epoll registration every event source of a role shares.
 *
 * Each registered fd carries a struct watch (embedded in whatever owns the
 * fd: a connection, a pending create_connection, a channel), and the role's
 * loop calls watch->on_event for it. A watch whose owner went away during
 * the current batch of events is marked dead and skipped: owners are freed
 * only after the batch (see conn_bury() and call_reap()), so a later event
 * of the same batch never points at freed memory.
 *
 * Trust boundary: none.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct watch {
  void (*on_event)(struct watch *w, uint32_t events);
  bool dead;
};

struct loop {
  int epfd;
};

static inline int loop_add(struct loop *l, int fd, uint32_t events,
                           struct watch *w) {
  struct epoll_event ev = {.events = events, .data.ptr = w};

  w->dead = false;
  return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static inline int loop_mod(struct loop *l, int fd, uint32_t events,
                           struct watch *w) {
  struct epoll_event ev = {.events = events, .data.ptr = w};

  return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

/* Stop watching fd; w is dead from now on (its memory may live on until
 * the end of the batch). */
static inline void loop_del(struct loop *l, int fd, struct watch *w) {
  if (fd >= 0)
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
  if (w)
    w->dead = true;
}

/* Run the watch of one event unless it died earlier in the batch. */
static inline void loop_dispatch(const struct epoll_event *ev) {
  struct watch *w = ev->data.ptr;

  if (w && !w->dead)
    w->on_event(w, ev->events);
}
