/* SPDX-License-Identifier: MIT */
/*
 * master: psockd's supervising process (see master.c).
 */
#pragma once

#include <stdbool.h>

#define MASTER_MAX_WORKERS 64

struct master_options {
  const char *argv0;
  const char *self_exe;    /* binary exec'd for each role */
  int listen_fd;           /* the listening socket, shared by workers */
  unsigned workers;        /* 1..MASTER_MAX_WORKERS */
  const char *user;        /* --user, or NULL for psockd/nobody */
  const char *policy_path; /* NULL: the built-in default policy */
  /* policy_path is the standard file, used only while it exists (else the
   * built-in default): checked again at each reload. */
  bool policy_optional;
  bool verbose;
  bool seccomp;
  bool audit_allow;
};

/* Run until SIGTERM. Returns 0 or -errno. */
int master_run(const struct master_options *o);
