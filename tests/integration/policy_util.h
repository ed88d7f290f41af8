/* SPDX-License-Identifier: MIT */
/*
 * Support shared by the policy integration tests (test_policy*.c): policy
 * files written by the test, refusals checked in the client and then found
 * again in psockd's audit log, psockd and psockctl run as commands.
 *
 * pol_* functions named "assert" or taking no child context run in the
 * cmocka test process and fail the test on error. pol_denied() and
 * pol_allowed() run in the client child (harness_run_as_*): they never use
 * cmocka and return 0 or -1 (explained on stderr), for CHECK().
 */
#ifndef PSOCK_TEST_POLICY_UTIL_H
#define PSOCK_TEST_POLICY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

/* ------------------------------------------------------- policy files */

/* A private directory /tmp/psock-policy.XXXXXX (mode 0755) into buf. */
#define POL_DIR_TEMPLATE "/tmp/psock-policy.XXXXXX"
#define POL_PATH_MAX 64
/* A file in it, and "FILE:LINE". */
#define POL_FILE_MAX (POL_PATH_MAX + 32)
#define POL_RULE_MAX (POL_FILE_MAX + 16)
void pol_make_dir(char dir[POL_PATH_MAX]);
/* Remove dir and everything in it. */
void pol_remove_dir(const char *dir);

/* Write text to path atomically (a temporary file renamed over it). */
void pol_write_file(const char *path, const char *text);

/* The whole file, NUL-terminated (caller frees), or NULL with errno. */
char *pol_read_file(const char *path);

/*
 * A policy built line by line, so that tests name rules and the file's
 * line numbers follow: pol_add() appends one line and returns its number.
 */
struct pol_text {
  char buf[32768];
  size_t len;
  unsigned lines;
};
unsigned pol_add(struct pol_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "PATH:LINE" into a rotating static buffer (valid for 8 more calls). */
const char *pol_rule(const char *path, unsigned line);

/* --------------------------------------------- decisions and the audit */

/*
 * In a client child: the last psock call was refused by policy: kind
 * PSOCK_ERR_POLICY, code and errno err, message "denied by policy (RULE)".
 * Records the refusal (this pid and uid, call, args, rule) for
 * pol_assert_audited(). args is a piece of the audit line's arguments that
 * must appear in it ("addr=inet:127.0.0.1:80", "family=17", ...) or "".
 */
int pol_denied(int err, const char *rule, const char *call, const char *args);

/* In a client child: record an allowed call (psockd runs with
 * --audit-allow) for pol_assert_audited(). Always returns 0. */
int pol_allowed(const char *rule, const char *call, const char *args);

/*
 * Set up the shared record (call once, in the group setup, before any
 * child runs; it is inherited by every child).
 */
void pol_audit_init(void);

/*
 * In the test process: every decision the children recorded since the last
 * call has its own line in psockd's log, "audit: decision=deny|allow
 * uid=UID gid=.. pid=PID unit=.. call=CALL ... ARGS ... rule="RULE"".
 * Fails the test (printing the log) otherwise; forgets the records.
 */
void pol_assert_audited(const struct psockd_proc *p);

/* Forget the records (for children whose result does not matter). */
void pol_audit_reset(void);

/* ------------------------------------------------------------- the log */

/* Lines of psockd's log so far that contain needle. */
unsigned pol_log_count(const struct psockd_proc *p, const char *needle);

/* Wait (at most timeout_ms) until pol_log_count() >= n; the final count. */
unsigned pol_wait_log_count(const struct psockd_proc *p, const char *needle,
                            unsigned n, int timeout_ms);

/* ---------------------------------------------------------- commands */

/*
 * Run argv (argv[0] is a path) with stdin from /dev/null, stdout and
 * stderr into *ret_out and *ret_err (caller frees; may be NULL to
 * discard). Returns the exit status, or -1 if it did not exit normally
 * within 10 s.
 */
int pol_run(const char *const *argv, char **ret_out, char **ret_err);

/* The binary named by environment variable var (set by meson), or fail. */
const char *pol_binary(const char *var);

/* ------------------------------------------------------ identities */

/* Name of user 65534 and of group 65534 ("nobody", "nogroup"). */
const char *pol_nobody_user(void);
const char *pol_nobody_group(void);

/*
 * A group that is neither root's (0) nor nobody's (65534), to give a child
 * as its supplementary group: its gid and name. Fails the test if the
 * system has none.
 */
void pol_other_group(gid_t *ret_gid, char *name, size_t len);

/* Milliseconds of CLOCK_MONOTONIC. */
long long pol_now_ms(void);
void pol_sleep_ms(int ms);

#endif /* PSOCK_TEST_POLICY_UTIL_H */
