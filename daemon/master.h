/* SPDX-License-Identifier: MIT */
/*
 * master: psockd's supervising process (see master.c).
 */
#pragma once

#include <stdbool.h>

#include "master_workers.h"

struct master_options {
  const char *argv0;
  const char *self_exe; /* binary exec'd for psockd-priv and psockd-spawn */
  /* The listening socket, asked for once the policy has loaded and the
   * roles run, so that no client connects to a psockd that will not
   * start: returns it (the caller's to close) or -errno. */
  int (*open_listener)(void *ctx);
  void *listener_ctx;
  const char *user;        /* --user, or NULL for psockd / a dynamic uid */
  const char *policy_path; /* NULL: the built-in default policy */
  /* policy_path is the standard file, used only while it exists (else the
   * built-in default) when psockd starts. */
  bool policy_optional;
  bool verbose;
  bool seccomp;
  bool audit_allow;
  unsigned lookup_threads;
  struct worker_limits limits;
};

/* Run until SIGTERM. Returns 0 or -errno. */
int master_run(const struct master_options *o);
