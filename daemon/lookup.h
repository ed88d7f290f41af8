/* SPDX-License-Identifier: MIT */
/*
 * lookup: a small thread pool for calls that may block for seconds (name
 * service: getaddrinfo, getnameinfo, gethostby*). The event loop never
 * waits on them: a job's work() runs on a pool thread, its done() runs
 * back on the event loop thread when the loop sees the pool's eventfd.
 */
#pragma once

#include <stdbool.h>

struct lookup_job {
  void (*work)(struct lookup_job *job); /* pool thread */
  void (*done)(struct lookup_job *job); /* event loop thread */
  bool cancelled; /* set if the pool stopped before work() ran */
  struct lookup_job *next;
};

struct lookup_pool;

/* Start nthreads threads. Returns 0 or -errno. */
int lookup_pool_new(unsigned nthreads, struct lookup_pool **ret);

/* The eventfd that becomes readable when finished jobs are waiting. */
int lookup_pool_fd(const struct lookup_pool *pool);

/* Queue job; its done() will run from lookup_pool_dispatch(). */
void lookup_submit(struct lookup_pool *pool, struct lookup_job *job);

/* On the event loop: run done() of every finished job. */
void lookup_pool_dispatch(struct lookup_pool *pool);

/*
 * Remove the queued jobs (not yet started) for which match(job, arg) is
 * true; their done() runs from the next lookup_pool_dispatch() with
 * cancelled set. Jobs already running finish as usual.
 */
void lookup_cancel_if(struct lookup_pool *pool,
                      bool (*match)(const struct lookup_job *job, void *arg),
                      void *arg);

/* Jobs queued or running now. */
unsigned lookup_pool_pending(const struct lookup_pool *pool);

/*
 * Stop the threads (waiting for running work() calls to return), then run
 * done() for every job, with cancelled set on those that never ran.
 */
void lookup_pool_free(struct lookup_pool *pool);
