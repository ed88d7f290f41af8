/* SPDX-License-Identifier: MIT */
/*
 * lookup: thread pool for blocking name-service calls. Jobs are intrusive
 * (struct lookup_job sits inside the caller's request), so queueing never
 * allocates. Two lists under one mutex: queued jobs for the threads,
 * finished jobs for the event loop, which learns of them through an
 * eventfd.
 */
#include "lookup.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

struct lookup_pool {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_cond_t started_cond; /* a thread has started */
  unsigned started;
  struct lookup_job *queue_head, *queue_tail;
  struct lookup_job *done_head, *done_tail;
  unsigned pending;
  bool stopping;
  int efd;
  unsigned nthreads;
  pthread_t threads[];
};

static void list_push(struct lookup_job **head, struct lookup_job **tail,
                      struct lookup_job *job) {
  job->next = NULL;
  if (*tail)
    (*tail)->next = job;
  else
    *head = job;
  *tail = job;
}

static void *pool_thread(void *arg) {
  struct lookup_pool *pool = arg;
  uint64_t one = 1;

  pthread_mutex_lock(&pool->lock);
  pool->started++;
  pthread_cond_signal(&pool->started_cond);
  for (;;) {
    struct lookup_job *job;

    while (!pool->queue_head && !pool->stopping)
      pthread_cond_wait(&pool->wake, &pool->lock);
    if (pool->stopping)
      break;
    job = pool->queue_head;
    pool->queue_head = job->next;
    if (!pool->queue_head)
      pool->queue_tail = NULL;
    pthread_mutex_unlock(&pool->lock);

    job->work(job);

    pthread_mutex_lock(&pool->lock);
    list_push(&pool->done_head, &pool->done_tail, job);
    if (write(pool->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
      log_err("lookup: eventfd write: %m");
  }
  pthread_mutex_unlock(&pool->lock);
  return NULL;
}

int lookup_pool_new(unsigned nthreads, struct lookup_pool **ret) {
  struct lookup_pool *pool;
  sigset_t all, old;
  int r = 0;

  pool = calloc(1, sizeof(*pool) + nthreads * sizeof(pthread_t));
  if (!pool)
    return -ENOMEM;
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->wake, NULL);
  pthread_cond_init(&pool->started_cond, NULL);
  pool->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (pool->efd < 0) {
    r = -errno;
    goto fail;
  }
  /* Threads inherit the mask: signals belong to the event loop. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  for (; pool->nthreads < nthreads; pool->nthreads++) {
    r = -pthread_create(&pool->threads[pool->nthreads], NULL, pool_thread,
                        pool);
    if (r < 0)
      break;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  /* Wait until every thread runs: the worker installs its seccomp filter
   * next, and a thread still starting up (rseq, set_robust_list, ...)
   * would be killed by it. */
  pthread_mutex_lock(&pool->lock);
  while (pool->started < pool->nthreads)
    pthread_cond_wait(&pool->started_cond, &pool->lock);
  pthread_mutex_unlock(&pool->lock);
  if (r < 0)
    goto fail;
  *ret = pool;
  return 0;
fail:
  lookup_pool_free(pool);
  return r;
}

int lookup_pool_fd(const struct lookup_pool *pool) {
  return pool->efd;
}

void lookup_submit(struct lookup_pool *pool, struct lookup_job *job) {
  job->cancelled = false;
  pthread_mutex_lock(&pool->lock);
  list_push(&pool->queue_head, &pool->queue_tail, job);
  pool->pending++;
  pthread_cond_signal(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
}

static void run_done_list(struct lookup_pool *pool, struct lookup_job *job) {
  while (job) {
    struct lookup_job *next = job->next;
    job->done(job);
    job = next;
  }
  (void)pool;
}

void lookup_pool_dispatch(struct lookup_pool *pool) {
  struct lookup_job *list;
  uint64_t n;
  unsigned count = 0;

  if (read(pool->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
    log_err("lookup: eventfd read: %m");
  pthread_mutex_lock(&pool->lock);
  list = pool->done_head;
  pool->done_head = pool->done_tail = NULL;
  for (struct lookup_job *j = list; j; j = j->next)
    count++;
  pool->pending -= count;
  pthread_mutex_unlock(&pool->lock);
  run_done_list(pool, list);
}

void lookup_cancel_if(struct lookup_pool *pool,
                      bool (*match)(const struct lookup_job *job, void *arg),
                      void *arg) {
  struct lookup_job **pp, *prev = NULL;
  uint64_t one = 1;
  bool any = false;

  pthread_mutex_lock(&pool->lock);
  for (pp = &pool->queue_head; *pp;) {
    struct lookup_job *job = *pp;
    if (!match(job, arg)) {
      prev = job;
      pp = &job->next;
      continue;
    }
    *pp = job->next;
    if (pool->queue_tail == job)
      pool->queue_tail = prev;
    job->cancelled = true;
    list_push(&pool->done_head, &pool->done_tail, job);
    any = true;
  }
  if (any && write(pool->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
    log_err("lookup: eventfd write: %m");
  pthread_mutex_unlock(&pool->lock);
}

unsigned lookup_pool_pending(const struct lookup_pool *pool) {
  return pool->pending;
}

void lookup_pool_free(struct lookup_pool *pool) {
  struct lookup_job *queued;

  if (!pool)
    return;
  pthread_mutex_lock(&pool->lock);
  pool->stopping = true;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  for (unsigned i = 0; i < pool->nthreads; i++)
    pthread_join(pool->threads[i], NULL);

  queued = pool->queue_head;
  for (struct lookup_job *j = queued; j; j = j->next)
    j->cancelled = true;
  run_done_list(pool, pool->done_head);
  run_done_list(pool, queued);
  if (pool->efd >= 0)
    close(pool->efd);
  pthread_cond_destroy(&pool->wake);
  pthread_cond_destroy(&pool->started_cond);
  pthread_mutex_destroy(&pool->lock);
  free(pool);
}
