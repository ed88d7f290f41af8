/* SPDX-License-Identifier: MIT */
/*
 * proctitle: rewrite the command line in place (see proctitle.h). The
 * strings of argv are contiguous in memory as the kernel laid them out;
 * the new title is written over them and the rest is zeroed, so
 * /proc/PID/cmdline (what ps shows) reads as the new title.
 *
 * Trust boundary: none.
 */
#include "proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

static char *area;
static size_t area_len;

void proctitle_init(int argc, char **argv) {
  if (argc < 1 || !argv[0])
    return;
  area = argv[0];
  area_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) - argv[0]);
}

void proctitle_set(const char *fmt, ...) {
  char title[256];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(title, sizeof(title), fmt, ap);
  va_end(ap);
  prctl(PR_SET_NAME, title, 0, 0, 0); /* the first 15 bytes */
  if (!area || area_len == 0)
    return;
  memset(area, 0, area_len);
  memcpy(area, title, strlen(title) < area_len ? strlen(title) : area_len - 1);
}
