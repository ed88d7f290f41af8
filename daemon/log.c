/* SPDX-License-Identifier: MIT */
/*
 * log: one line per call on stderr, "<prio>psockd: text". The line is built
 * in one buffer and written with one write() so that lines from the lookup
 * threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int max_priority = LOG_INFO;
static char ident[32] = "psockd";

void log_set_max_priority(int prio) {
  max_priority = prio;
}

void log_set_ident(const char *name) {
  snprintf(ident, sizeof(ident), "%s", name);
}

void log_msg(int prio, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  int n, m;

  if (prio > max_priority)
    return;
  n = snprintf(line, sizeof(line), "<%d>%s: ", prio, ident);
  va_start(ap, fmt);
  m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (m < 0)
    return;
  n += m;
  if ((size_t)n > sizeof(line) - 2)
    n = (int)sizeof(line) - 2;
  line[n++] = '\n';
  /* A lost log line is not worth failing a request over. */
  if (write(STDERR_FILENO, line, (size_t)n) < 0)
    return;
}
