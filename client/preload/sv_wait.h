/* SPDX-License-Identifier: MIT */
/*
 * sv_wait: calls of the program the supervisor answers later, without
 * holding up its loop: a blocking connect() that psockd started (answered
 * when the socket is writable, as the kernel's blocking connect returns
 * when the handshake is over) and a send on a blocking socket whose buffer
 * is full. Each waits for its socket with epoll, bounded by the socket's
 * SO_SNDTIMEO as the kernel bounds it, and ends early, as the kernel's
 * interruptible wait would, when a signal the program catches is pending
 * for the waiting thread (the call then returns -ERESTARTSYS, which the
 * kernel turns into a restart or EINTR as the handler's SA_RESTART says;
 * with SO_SNDTIMEO it is EINTR, as sock_intr_errno() says).
 *
 * Trust boundary: the socket and the arguments are the copies the
 * supervisor took once when the call arrived.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sv_notif.h"

struct sv_wait;

/*
 * Try the call again now that the socket is ready: the call's result
 * (>= 0, or -errno) to answer with, or -EAGAIN to go on waiting.
 */
typedef long (*sv_retry_fn)(struct sv_wait *w, void *arg);

struct sv_wait_spec {
  int fd;                   /* the socket (taken over, closed at the end) */
  sv_retry_fn retry;        /* called when fd is writable */
  void *arg;                /* the retry's state, released at the end */
  void (*free_arg)(void *); /* how (NULL: free()) */
  long timeout_result;      /* the answer when SO_SNDTIMEO runs out */
};

/* Start, with the loop's epoll fd (each wait's epoll data is a pointer
 * to it, above SV_WAIT_TAG_MAX). killable: the kernel waits only
 * killably for answers (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV), so the
 * waiting threads' signals are looked for here; without it the kernel
 * interrupts a waiting call itself. */
#define SV_WAIT_TAG_MAX 16
void sv_wait_init(int epfd, bool killable);

/*
 * Park r (the notification is copied; r's pidfd stays r's) until spec's
 * socket is ready. Takes spec->fd and spec->arg in every case. 0, or
 * -errno when it cannot wait (the caller answers r itself then).
 */
int sv_wait_add(const struct sv_req *r, const struct sv_wait_spec *spec);

/* epoll reported events for w (a tag above SV_WAIT_TAG_MAX). */
void sv_wait_event(struct sv_wait *w, uint32_t events);

/* Deadlines, pending signals and calls that are gone: call it after
 * every wake-up of the loop; it does what is due. */
void sv_wait_tick(void);

/* Milliseconds until sv_wait_tick() is due, -1 if nothing waits. */
int sv_wait_timeout_ms(void);

/* The socket of w and the call it answers, for retry functions. */
int sv_wait_fd(const struct sv_wait *w);
const struct sv_req *sv_wait_req(const struct sv_wait *w);
