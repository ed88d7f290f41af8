/* SPDX-License-Identifier: MIT */
/*
 * log: one line per call on stderr, "<prio>psockd: text". The line is built
 * in one buffer and written with one write() so that lines from the lookup
 * threads never interleave. When stderr is connected to the journal (the
 * service manager says so in $JOURNAL_STREAM), messages go to the journal
 * directly with sd_journal_send(), so audit records keep their fields.
 */
#include "log.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

static int max_priority = LOG_INFO;
static char ident[32] = "psockd";

void log_set_max_priority(int prio) {
  max_priority = prio;
}

static int use_journal = -1; /* unknown until the first message */

void log_set_ident(const char *name) {
  snprintf(ident, sizeof(ident), "%s", name);
}

/* True if stderr is the journal stream the service manager set up. */
static bool stderr_is_journal(void) {
  const char *e = getenv("JOURNAL_STREAM");
  unsigned long long dev, ino;
  struct stat st;

  if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
    return false;
  return fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

bool log_to_journal(void) {
  if (use_journal < 0)
    use_journal = stderr_is_journal();
  return use_journal;
}

void log_msg(int prio, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  int n, m;

  if (prio > max_priority)
    return;
  if (log_to_journal()) {
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", prio,
                    "SYSLOG_IDENTIFIER=%s", ident, NULL);
    return;
  }
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

bool log_limit_pass(struct log_limit *l, int prio) {
  struct timespec ts;

  if (prio > max_priority)
    return false;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  if (ts.tv_sec != l->window) {
    if (l->dropped)
      log_msg(prio, "(%u lines like the next were not logged)", l->dropped);
    l->window = ts.tv_sec;
    l->passed = l->dropped = 0;
  }
  if (l->passed >= LOG_LIMIT_BURST) {
    l->dropped++;
    return false;
  }
  l->passed++;
  return true;
}

void log_audit(int prio, const struct log_audit_record *r) {
  if (prio > max_priority)
    return;
  if (log_to_journal()) {
    sd_journal_send("MESSAGE=audit: %s %s uid=%u pid=%d %s (%s)", r->decision,
                    r->call, r->uid, r->pid, r->args, r->rule, "PRIORITY=%d",
                    prio, "SYSLOG_IDENTIFIER=%s", ident, "PSOCK_AUDIT=1",
                    "PSOCK_DECISION=%s", r->decision, "PSOCK_UID=%u", r->uid,
                    "PSOCK_GID=%u", r->gid, "PSOCK_PID=%d", r->pid,
                    "PSOCK_UNIT=%s", r->unit, "PSOCK_CALL=%s", r->call,
                    "PSOCK_ARGS=%s", r->args, "PSOCK_RULE=%s", r->rule, NULL);
    return;
  }
  log_msg(prio,
          "audit: decision=%s uid=%u gid=%u pid=%d unit=%s call=%s %s "
          "rule=\"%s\"",
          r->decision, r->uid, r->gid, r->pid, r->unit, r->call, r->args,
          r->rule);
}

void log_exit_status(int status, char *buf, size_t len) {
  if (WIFSIGNALED(status))
    snprintf(buf, len, "killed by signal %d%s", WTERMSIG(status),
             WTERMSIG(status) == SIGSYS ? " (forbidden system call)" : "");
  else
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}
