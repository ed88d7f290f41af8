/* SPDX-License-Identifier: MIT */
/*
 * Shared by the tests of one local user's attacks on psockd and on its other
 * users (issue 13, findings 3, 6, 7, 8, 9, 10 and the NSS item), one program
 * per group: test_attacks_users_identity.c (9), _dos.c (3, 6, 7), _roles.c
 * (8, 10), _nss.c (NSS). Each attack is performed for real against a real
 * psockd, next to its allowed twin.
 *
 * The attacker is nobody (uid 65534); uid 1000 and root are the other
 * users. psockd runs with one worker per identity (--workers 1). Name
 * lookups see a private name service: /etc/hosts knows localhost; any
 * other name goes to a DNS server on 127.83.X.Y (harness_silent_name_service)
 * that never answers, so a lookup of "slow.test" takes a couple of seconds.
 *
 * Client functions (client_*) run in forked children: CHECK(), never
 * cmocka's assert_*. Those started with users_bg_start() run while the test
 * process watches psockd; they talk to it through struct shared. The rest
 * runs in the cmocka test process and may fail the test.
 */
#ifndef PSOCK_TEST_ATTACKS_USERS_COMMON_H
#define PSOCK_TEST_ATTACKS_USERS_COMMON_H

#include <stdbool.h>
#include <sys/types.h>

#include "harness.h"
#include "raw_client.h"

#define NOBODY HARNESS_NOBODY_UID
#define OTHER_UID 1000 /* a second unprivileged user */

#define SLOW_NAME "slow.test"

/* A reply psockd makes on its event loop takes far less than this. */
#define PROMPT_MS 500.0

/* What a background client and the test process tell each other. */
struct shared {
  volatile int phase, go, release;
  volatile double t_mark, lat_ms;
  volatile long count, count2;
  volatile pid_t pid, pids[4];
  char want[128];
};

struct users_fixture {
  struct psockd_proc *psockd; /* --workers 1, the default policy */
  int dns_fd;                 /* the DNS server that never answers */
  char resolv[128];           /* the resolv.conf that names it */
  struct shared *sh;          /* in memory shared with the clients */
};

extern struct users_fixture fx;

/* Clear struct shared for the next test. */
void users_reset_shared(void);

/* Run fn as uid (0: root with every capability) in the background. */
pid_t users_bg_start(uid_t uid, int flags, int (*fn)(void *));

/* The background client's verdict: it passed. */
void users_bg_join(pid_t pid, const char *what);

#define assert_child_passed(r, what)                                           \
  harness_assert_child(fx.psockd, (r), (what))

#define run_as_nobody(fn)                                                      \
  assert_child_passed(harness_run_as_nobody(0, (fn), NULL), #fn " as nobody")
#define run_as_root(fn)                                                        \
  assert_child_passed(harness_run_as_root(0, (fn), NULL), #fn " as root")
#define run_as_other(fn)                                                       \
  assert_child_passed(                                                         \
      harness_run_as(OTHER_UID, OTHER_UID, NULL, 0, 0, (fn), NULL),            \
      #fn " as uid 1000")

/* The workers serving uid (their count; the first max pids in ret). */
int users_workers_of(const struct psockd_proc *p, uid_t uid, pid_t *ret,
                     size_t max);

/* The one worker of uid, waiting up to 3 s for it; 0 if there is not
 * exactly one. Safe in a client. */
pid_t users_single_worker(const struct psockd_proc *p, uid_t uid);

/* Has pid gone (a zombie counts as gone)? */
bool users_proc_gone(pid_t pid);

/* In a client: psock_socket(AF_INET, SOCK_STREAM) through psockd, closed
 * at once: how long psockd took to answer (ms), or -1 if it refused. */
double users_socket_ms(void);

/* Client: psock_socket() answered at once, several times over ~1 s. */
int client_served_promptly(void *arg);

/* Client: hold one connection (its worker stays) until released. */
int client_hold(void *arg);

/* Private name service, the silent DNS server, struct shared, psockd;
 * root served promptly. */
int users_setup(void **state);
int users_teardown(void **state);

#endif /* PSOCK_TEST_ATTACKS_USERS_COMMON_H */
