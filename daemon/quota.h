/* SPDX-License-Identifier: MIT */
/*
 * quota: bounds on what one client may hold in a worker, so that a single
 * client (or a single user with many connections) cannot take a worker's
 * memory, threads or fds from everyone else. Each limit is per worker
 * process; with N workers a user can hold up to N times as much.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct limits {
  unsigned inflight_per_conn; /* requests answered off the event loop */
  unsigned lookups_per_uid;   /* name lookups running at once per uid */
  unsigned conns_per_uid;     /* client connections per uid */
};

#define LIMITS_DEFAULT_INFLIGHT_PER_CONN 64
#define LIMITS_DEFAULT_LOOKUPS_PER_UID 16
#define LIMITS_DEFAULT_CONNS_PER_UID 1024

extern struct limits limits;

/*
 * Per-uid counters. limits_take() returns true and counts one if uid is
 * below max; limits_give() gives one back.
 */
enum limits_counter { LIMITS_CONNS, LIMITS_LOOKUPS };
bool limits_take(enum limits_counter which, uid_t uid, unsigned max);
void limits_give(enum limits_counter which, uid_t uid);

/* Release the counter tables (at exit). */
void limits_cleanup(void);
