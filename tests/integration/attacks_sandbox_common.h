/* SPDX-License-Identifier: MIT */
/*
 * Shared by the tests of the security review's attacks from a sandbox
 * (issue 13), one program per group: test_attacks_sandbox_unix.c (finding
 * 1, with 5's peer credentials), _kernel.c (2, 4, 5), _config.c (11, 12 and
 * the client whose pid psockd cannot see). Findings 3, 6, 7, 8, 9 and 10
 * are in test_attacks_users_*.c.
 *
 * Each attack is performed for real against a real psockd by a local user
 * (nobody, mostly in an empty network namespace) and asserts that it fails
 * the way the fix promises (a typed error, a log line), next to its allowed
 * twin that proves the legitimate path still works. Each test starts with
 * the default psockd (the default policy, on the host); a test that needs
 * another policy starts a psockd of its own (sandbox_start_with_policy())
 * and stops it (sandbox_stop_own()).
 *
 * Client functions (client_*) run in a forked child: they use CHECK(),
 * never cmocka's assert_*. Of the helpers below, abstract_*(), loopback()
 * and owner_of() are safe in a client; the rest runs in the cmocka test
 * process and may fail the test.
 */
#ifndef PSOCK_TEST_ATTACKS_SANDBOX_COMMON_H
#define PSOCK_TEST_ATTACKS_SANDBOX_COMMON_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "harness.h"
#include "raw_client.h"

#define KIND_OS PSOCK__V1__ERROR__KIND__OS_ERROR
#define KIND_POLICY PSOCK__V1__ERROR__KIND__POLICY_DENIED

/* A second unprivileged user. */
#define USER_UID 1000

struct sandbox_fixture {
  struct psockd_proc *psockd;  /* the default policy, on the host */
  struct psockd_proc *watched; /* whose log a failing child prints */
  char policy[64];             /* the policy file of a test's own psockd */
  char name_host[64];          /* abstract names, per test program */
  char name_ok[64];
  char name_squat[64];
  char name_fdpass[64];
  char pattern_ok[64];
};

extern struct sandbox_fixture fx;

/* Run fn as nobody, root or uid; fail the test unless it passed. */
#define AS_NOBODY(flags, fn, arg)                                              \
  harness_assert_child(fx.watched,                                             \
                       harness_run_as_nobody((flags), (fn), (arg)),            \
                       #fn " as nobody")
#define AS_ROOT(flags, fn, arg)                                                \
  harness_assert_child(fx.watched, harness_run_as_root((flags), (fn), (arg)),  \
                       #fn " as root")
#define AS_USER(uid, gid, groups, n, flags, fn, arg)                           \
  harness_assert_child(                                                        \
      fx.watched,                                                              \
      harness_run_as((uid), (gid), (groups), (n), (flags), (fn), (arg)),       \
      #fn " as " #uid)

/* p's log says text (now). */
#define assert_log_has(p, text) harness_assert_logged((p), (text), 1, 0)

/*
 * Start psockd (flags of harness_start_psockd_flags()) with rules in
 * fx.policy, followed by the default policy if with_default. The file
 * stays until the next one replaces it (psockd reads it after it has
 * started listening).
 */
struct psockd_proc *sandbox_start_with_policy(int flags, const char *rules,
                                              bool with_default);

/* Stop a test's own psockd; the default one serves the next clients. */
void sandbox_stop_own(struct psockd_proc *p);

/* Is r the error (kind, code)? Frees r. */
bool refused(Psock__V1__Response *r, int kind, int code);

/* Is r a reply of this result case? Frees r. */
bool has_result(Psock__V1__Response *r, int result_case);

/* The sockaddr of an abstract AF_UNIX name; its length. */
socklen_t abstract_sockaddr(struct sockaddr_un *sun, const char *name);

/* A listening abstract AF_UNIX socket in this process's netns, or -1. */
int abstract_listen(const char *name, int type, int flags);

/* connect() fd to an abstract name. */
int abstract_connect(int fd, const char *name);

/* 127.0.0.1:port. */
struct sockaddr_in loopback(uint16_t port);

/* Connections waiting on a non-blocking listener (each accepted, closed). */
int pending_connections(int listen_fd);

/* The uid that owns fd's socket (or file), -1 on error. */
uid_t owner_of(int fd);

/* Names, the policy file's directory, the default psockd. */
int sandbox_setup(void **state);
/* Before each test: the default psockd (a test that failed half-way may
 * have left its own running; the harness stops it at exit). */
int sandbox_use_default_psockd(void **state);
int sandbox_teardown(void **state);

/* A test of the group, run with the default psockd. */
#define sandbox_test(fn) cmocka_unit_test_setup(fn, sandbox_use_default_psockd)

#endif /* PSOCK_TEST_ATTACKS_SANDBOX_COMMON_H */
