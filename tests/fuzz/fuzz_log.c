/* SPDX-License-Identifier: MIT */
/*
 * daemon/log.c for the fuzz targets: every message is formatted (so the
 * sanitizers see each argument read) and dropped, unless PSOCK_FUZZ_LOG is
 * set in the environment, in which case it goes to stderr as psockd would
 * write it. Without this, a fuzzer printing a log line per input would
 * spend its time writing to the terminal.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static int max_priority = LOG_DEBUG;
static const char *ident = "psockd";
static int verbose = -1;

void log_set_max_priority(int prio) {
  max_priority = prio;
}

void log_set_ident(const char *name) {
  ident = name;
}

bool log_to_journal(void) {
  return false;
}

void log_msg(int prio, const char *fmt, ...) {
  char line[1024];
  va_list ap;

  if (prio > max_priority)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (verbose < 0)
    verbose = getenv("PSOCK_FUZZ_LOG") != NULL;
  if (verbose)
    fprintf(stderr, "<%d>%s: %s\n", prio, ident, line);
}

void log_audit(int prio, const struct log_audit_record *r) {
  log_msg(prio,
          "audit: decision=%s uid=%u gid=%u pid=%d unit=%s call=%s %s "
          "rule=\"%s\"",
          r->decision, r->uid, r->gid, r->pid, r->unit, r->call, r->args,
          r->rule);
}

bool log_limit_pass(struct log_limit *l, int prio) {
  (void)l;
  return prio <= max_priority;
}
