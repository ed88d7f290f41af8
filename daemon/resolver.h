/* SPDX-License-Identifier: MIT */
/*
 * resolver: a worker's name-service process (see resolver.c).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct resolver_options {
  unsigned threads; /* lookup threads (NSS calls at once) */
  bool seccomp;     /* install the resolver's system call filter */
};

/*
 * Fork the resolver of the calling worker (before the worker sandboxes
 * itself: the child runs under a filter of its own). Returns the worker's
 * end of the channel (resolveproto.h) and the child's pid, or -errno.
 */
int resolver_start(const struct resolver_options *o, pid_t *ret_pid);
