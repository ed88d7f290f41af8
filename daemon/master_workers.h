/* SPDX-License-Identifier: MIT */
/*
 * master_workers: the master's table of workers (see master_workers.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "identity.h"
#include "loop.h"
#include "spawnproto.h"

struct worker_limits {
  unsigned per_identity;  /* --workers: processes serving one identity */
  unsigned max_total;     /* --max-workers */
  unsigned max_per_uid;   /* --max-workers-per-uid */
  unsigned conns_per_uid; /* --max-conns */
  unsigned idle_ms;       /* --worker-idle: retire after this long idle */
  unsigned spread;        /* connections per worker before another starts */
};

struct wtable;

/* The parts of the master the table uses (it owns none of them). */
struct wtable_env {
  struct loop *loop;
  int *spawn_fd;  /* psockd-spawn's control socket, -1 while it is down */
  int *priv_fd;   /* psockd-priv's control socket, -1 while it is down */
  int *policy_fd; /* the policy's memfd, -1 for the default */
  const char *policy_name;
  struct worker_limits limits;
};

int wtable_new(const struct wtable_env *env, struct wtable **ret);
void wtable_free(struct wtable *t);

/*
 * Hand the connection fd (taken in every case) of client who to a worker
 * serving who, starting one if needed. Returns 0, or -errno when it could
 * not be served (the connection is closed; the reason logged). A
 * connection that the last reports put over its uid's --max-conns is held
 * until that uid's workers have reported afresh (at most about a second),
 * then routed or refused.
 */
int wtable_route(struct wtable *t, int fd, const struct identity *who);

/* A report from psockd-spawn. */
void wtable_report(struct wtable *t, const struct spawn_report *r);

/* Once a second: pings, workers that stopped answering, idle workers,
 * held connections that waited long enough. */
void wtable_tick(struct wtable *t, long long now_ms);

/* psockd-spawn is gone: its workers died with it. */
void wtable_forget_all(struct wtable *t);

/* psockd-priv is gone: every worker's channel with it; they must go. */
void wtable_kill_all(struct wtable *t, int signo);

/* Tell every worker to finish and exit (stopping). */
void wtable_drain_all(struct wtable *t);

/* Send the policy in force to every worker. Returns how many got it. */
unsigned wtable_send_policy(struct wtable *t);

bool wtable_empty(const struct wtable *t);

/* For STATUS=: running workers, distinct uids, clients, requests. */
void wtable_stats(const struct wtable *t, unsigned *ret_workers,
                  unsigned *ret_users, uint64_t *ret_clients,
                  uint64_t *ret_requests);
