/* SPDX-License-Identifier: MIT */
/*
 * spawn: psockd-spawn, the serving side of spawnproto.h (see spawn.c).
 */
#pragma once

#include "worker.h"

/* Serve the master until its control socket closes; every worker is
 * killed then. Returns 0 or -errno. */
int spawn_main(int control_fd, const struct worker_options *wo);
