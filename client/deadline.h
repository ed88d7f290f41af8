/* SPDX-License-Identifier: MIT */
/*
 * deadline: time in libpsock-client. The module-wide default timeout of
 * the seed (psock_getdefaulttimeout / psock_setdefaulttimeout), what a
 * valid timeout is, deadlines on CLOCK_MONOTONIC and waiting for an fd
 * until one expires. Used by the sockets (their modes) and by the
 * connection to psockd (its answer timeout); calls only error.
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <time.h>

struct pc_deadline {
  bool forever;
  struct timespec at; /* CLOCK_MONOTONIC */
};

/* A valid timeout: None, or a number >= 0 (not NaN). */
bool pc_timeout_ok(double t);

/* timeout < 0 means forever. */
void pc_deadline_init(struct pc_deadline *d, double timeout);
/* Milliseconds left for poll(): -1 forever, 0 when expired (rounded up). */
int pc_deadline_ms(const struct pc_deadline *d);
/* Wait for events on fd: 0 ready, -PC_ETIMEOUT, -errno. */
int pc_wait_fd(int fd, short events, const struct pc_deadline *d);
