/* SPDX-License-Identifier: MIT */
/*
 * notify: service manager notifications through libsystemd.
 */
#include "notify.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

void notify_ready(void) {
  sd_notify(0, "READY=1");
}

void notify_reloading(void) {
  struct timespec ts;

  /* Type=notify-reload wants MONOTONIC_USEC with RELOADING=1. */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL +
                 (unsigned long long)ts.tv_nsec / 1000ULL);
}

void notify_stopping(void) {
  sd_notify(0, "STOPPING=1");
}

void notify_watchdog(void) {
  uint64_t usec;

  if (sd_watchdog_enabled(0, &usec) > 0)
    sd_notify(0, "WATCHDOG=1");
}

void notify_status(const char *fmt, ...) {
  char buf[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  sd_notifyf(0, "STATUS=%s", buf);
}
