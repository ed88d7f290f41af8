/* SPDX-License-Identifier: MIT */
/*
 * worker: the event loop that serves the clients of one identity (see
 * worker.c). psockd-spawn forks it as that identity's uid, gid and groups,
 * with no capabilities.
 */
#pragma once

#include <stdbool.h>

#include "identity.h"

struct worker_options {
  unsigned lookup_threads; /* NSS calls at once in the resolver */
  bool seccomp;            /* system call filters on */
  bool audit_allow;        /* log allowed decisions too */
};

struct worker_config {
  int ctl_fd;          /* control socket to the master */
  int priv_fd;         /* channel to psockd-priv */
  unsigned id;         /* the master's number for this worker, for logs */
  struct identity who; /* the subject every client of this worker is */
  const struct worker_options *o;
};

/*
 * Serve until the master says drain or goes away, then finish what is in
 * flight. Returns 0 or -errno.
 */
int worker_run(const struct worker_config *cfg);
