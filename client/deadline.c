/* SPDX-License-Identifier: MIT */
/*
 * deadline: the default timeout, deadlines and waiting (see deadline.h).
 * Trust boundary: none; the fds waited on are the caller's.
 */
#include "deadline.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>

#include "error.h"

/* Process-wide, read by every new socket: atomic instead of a lock that a
 * fork() in another thread could leave held. */
static _Atomic double default_timeout = PSOCK_TIMEOUT_NONE;

bool pc_timeout_ok(double t) {
  return t == PSOCK_TIMEOUT_NONE || (!isnan(t) && t >= 0.0);
}

PSOCK_EXPORT double psock_getdefaulttimeout(void) {
  return atomic_load(&default_timeout);
}

PSOCK_EXPORT int psock_setdefaulttimeout(double timeout) {
  if (!pc_timeout_ok(timeout))
    return pc_fail(pc_error_value("Timeout value out of range"));
  atomic_store(&default_timeout, timeout);
  return 0;
}

void pc_deadline_init(struct pc_deadline *d, double timeout) {
  time_t sec;

  /* Beyond ~30 years a deadline is forever, and time_t arithmetic stays
   * far from overflow. */
  d->forever = timeout < 0.0 || !(timeout < 1e9);
  if (d->forever)
    return;
  clock_gettime(CLOCK_MONOTONIC, &d->at);
  sec = (time_t)timeout; /* truncation is floor() here: timeout >= 0 */
  d->at.tv_sec += sec;
  d->at.tv_nsec += (long)((timeout - (double)sec) * 1e9);
  if (d->at.tv_nsec >= 1000000000L) {
    d->at.tv_sec++;
    d->at.tv_nsec -= 1000000000L;
  }
}

int pc_deadline_ms(const struct pc_deadline *d) {
  struct timespec now;
  int64_t ns;

  if (d->forever)
    return -1;
  clock_gettime(CLOCK_MONOTONIC, &now);
  ns = (int64_t)(d->at.tv_sec - now.tv_sec) * 1000000000LL +
       (d->at.tv_nsec - now.tv_nsec);
  if (ns <= 0)
    return 0;
  /* Round up: poll() must not wake before the deadline and spin. */
  ns = (ns + 999999) / 1000000;
  return ns > INT_MAX ? INT_MAX : (int)ns;
}

int pc_wait_fd(int fd, short events, const struct pc_deadline *d) {
  struct pollfd p = {.fd = fd, .events = events};
  int ms, r;

  for (;;) {
    ms = pc_deadline_ms(d);
    r = poll(&p, 1, ms);
    if (r > 0)
      return 0; /* ready, or an error the next call will report */
    if (r == 0 && ms == 0)
      return -PC_ETIMEOUT;
    if (r < 0 && errno != EINTR)
      return -errno;
  }
}
