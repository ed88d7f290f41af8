/* SPDX-License-Identifier: MIT */
/*
 * spawnproto: the fixed-size messages between the master (the asking
 * side, spawnask.c) and psockd-spawn (spawn.c), the one process that may
 * change its uid: it starts each worker as the user it serves, signals
 * workers for the master, and reports their exits.
 *
 *   master -> spawn   SPAWN_START  worker_id, identity; 2 fds: the
 *                                  worker's control socket and its channel
 *                                  to psockd-priv
 *                     SPAWN_KILL   worker_id, signo
 *   spawn -> master   SPAWN_STARTED  worker_id, pid (or -errno)
 *                     SPAWN_EXITED   worker_id, pid, wait status
 */
#pragma once

#include <stdint.h>

#include "identity.h"

enum spawn_type {
  SPAWN_START = 1,
  SPAWN_KILL = 2,
  SPAWN_STARTED = 3,
  SPAWN_EXITED = 4,
};

struct spawn_request {
  uint32_t type;
  uint32_t worker_id;
  int32_t signo; /* SPAWN_KILL */
  uint32_t pad;
  struct identity identity; /* SPAWN_START: whom the worker serves */
};

struct spawn_report {
  uint32_t type;
  uint32_t worker_id;
  int32_t pid; /* SPAWN_STARTED: the worker, or -errno */
  int32_t status;
};
