/* SPDX-License-Identifier: MIT */
/*
 * log: psockd's diagnostics. Lines go to stderr with a syslog priority
 * prefix ("<3>psockd: ..."), which journald and systemd understand when
 * psockd runs as a service and which stays readable in a terminal.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Messages above this priority are dropped (LOG_INFO by default). */
void log_set_max_priority(int prio);

/* Name at the start of each line ("psockd", "psockd-worker0", ...). */
void log_set_ident(const char *name);

void log_msg(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True when messages go to the journal (psockd runs as a service). */
bool log_to_journal(void);

/* One policy decision, as the audit trail records it. */
struct log_audit_record {
  const char *decision; /* "allow" or "deny" */
  unsigned uid, gid;
  int pid;
  const char *unit; /* "-" if none */
  const char *call;
  const char *args; /* "family=2 type=1 ..." */
  const char *rule;
};

/*
 * Record a decision: journal fields PSOCK_DECISION, PSOCK_UID, PSOCK_GID,
 * PSOCK_PID, PSOCK_UNIT, PSOCK_CALL, PSOCK_ARGS, PSOCK_RULE under systemd,
 * else one "audit: decision=... uid=... ..." line on stderr.
 */
void log_audit(int prio, const struct log_audit_record *r);

/*
 * Lines a client can provoke over and over (a protocol error, a refused
 * request): at most LOG_LIMIT_BURST per second from one call site, so that
 * one client cannot flood the log (and the journal's own rate limit then
 * drop other clients' audit records). Lines dropped are counted, and the
 * count is logged before the next line of that site that goes out. Event
 * loop thread only.
 */
#define LOG_LIMIT_BURST 20

struct log_limit {
  long long window; /* CLOCK_MONOTONIC second of the current window */
  unsigned passed, dropped;
};

/* True if a line of priority prio from the site owning l may go out. */
bool log_limit_pass(struct log_limit *l, int prio);

#define log_limited(prio, ...)                                                 \
  do {                                                                         \
    static struct log_limit l_;                                                \
    if (log_limit_pass(&l_, (prio)))                                           \
      log_msg((prio), __VA_ARGS__);                                            \
  } while (0)

/* "exited with status N" or "killed by signal N", for a wait status. */
void log_exit_status(int status, char *buf, size_t len);

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
