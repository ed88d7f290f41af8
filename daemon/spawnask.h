/* SPDX-License-Identifier: MIT */
/*
 * spawnask: the master's side of psockd-spawn (spawnproto.h; the serving
 * side is spawn.c). Each returns 0 or -errno.
 */
#pragma once

#include <stdint.h>

#include "identity.h"
#include "spawnproto.h"

/* Ask for a worker serving who, with its control socket and its channel to
 * psockd-priv (the fds stay the caller's). The pid comes later, in a
 * SPAWN_STARTED report. */
int spawnask_start(int spawn_fd, uint32_t worker_id, const struct identity *who,
                   int ctl_fd, int priv_fd);

/* Ask psockd-spawn to signal a worker (it runs as another user). */
int spawnask_kill(int spawn_fd, uint32_t worker_id, int signo);

/* Read one report; -EAGAIN if none is waiting, -EPROTO if malformed,
 * -ECONNRESET if psockd-spawn is gone. */
int spawnask_report(int spawn_fd, struct spawn_report *ret);
