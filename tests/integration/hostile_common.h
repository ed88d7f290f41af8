/* SPDX-License-Identifier: MIT */
/*
 * Shared by the hostile-client tests, one program per group:
 * test_hostile_framing.c (packets and their fds), test_hostile_requests.c
 * (requests psockd must refuse), test_hostile_limits.c (a client that never
 * reads, every per-client limit exceeded). Their clients, as nobody, speak
 * the wire protocol by hand (raw_client.h) and break it in every way a
 * client can. Each case gets the documented response (docs/protocol.md: a
 * framing error closes that one connection, a request error gets a typed
 * Error and the connection stays), finds a line in psockd's log saying why,
 * and harms nobody else.
 *
 * psockd runs one worker per client identity, started with the identity's
 * first connection and retired when idle (--worker-idle, 1 s here). A
 * keeper, a client as nobody, holds one connection from the setup to the
 * end, so that every hostile client as nobody meets the same worker (and
 * its resolver) that the keeper uses. Each program ends with
 * test_psockd_leaks_nothing(): that worker is still the same process, the
 * keeper's connection is still served, psockd holds the fds it held after
 * the warm-up, and neither the worker's nor its resolver's resident memory
 * has grown (beyond 1 MiB of noise). Once the keeper has gone too, every
 * worker retires and psockd holds exactly the fds it held right after its
 * start. harness_stop_psockd() fails the test if psockd, built with the
 * sanitizers or run under valgrind ($PSOCKD_WRAPPER), reported anything in
 * its log.
 *
 * Name lookups see a private name service: /etc/hosts knows localhost; any
 * other name goes to a DNS server on 127.77.X.Y
 * (harness_silent_name_service()) that never answers, so "slow.test" takes
 * one second: long enough to hold a lookup in flight on purpose.
 *
 * Client functions (client_*) run in a forked child as nobody: they use
 * CHECK(), never cmocka's assert_*. The rest runs in the cmocka test
 * process and may fail the test.
 */
#ifndef PSOCK_TEST_HOSTILE_COMMON_H
#define PSOCK_TEST_HOSTILE_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "raw_client.h"

#define SLOW_NAME "slow.test"
/* Slack for the worker's resident memory after the warm-up. */
#define RSS_SLACK_KIB 1024

#define NOBODY_WORKER "psockd-worker uid=65534 "
#define NOBODY_RESOLVER "psockd-resolver uid=65534"

/* Figures and signals clients hand to the test process and each other. */
struct shared {
  volatile int hog_ready, hog_release;
  volatile long hog_sent;
  volatile double lat_max_ms, lat_median_ms;
  volatile int keeper_ready, keeper_release;
  /* Two clients of two users at once (test_hostile_limits.c). */
  volatile int held;               /* nobody's client is at its limit now */
  volatile int other_done;         /* the other user's client has finished */
  volatile double t_other_sent;    /* CLOCK_MONOTONIC ms: its lookups sent */
  volatile double t_nobody_answer; /* nobody's first lookup answered */
};

struct hostile_fixture {
  struct psockd_proc *psockd;
  int dns_fd;           /* the DNS server that never answers */
  int fds_start;        /* psockd's fds right after its start, no worker */
  int fds_idle;         /* its fds after the warm-up: the keeper only */
  long rss_idle;        /* nobody's worker's VmRSS (KiB) after the warm-up */
  long rss_resolver;    /* its resolver's, likewise */
  pid_t worker;         /* nobody's one worker */
  pid_t resolver;       /* and its resolver */
  pid_t keeper;         /* the client holding a connection throughout */
  bool check_rss;       /* not under ASan or a wrapper such as valgrind */
  struct shared *share; /* written by clients, read by the test */
};

extern struct hostile_fixture fx;

#define assert_child_passed(r, what)                                           \
  harness_assert_child(fx.psockd, (r), (what))

#define assert_as_nobody(fn)                                                   \
  assert_child_passed(harness_run_as_nobody(0, (fn), NULL), #fn)

/* The main psockd's log gains a line holding text within 3 s. */
#define assert_logged(text) harness_assert_logged(fx.psockd, (text), 1, 3000)

/* p's log gains a line holding both a and b within 3 s. */
void hostile_assert_logged_line(struct psockd_proc *p, const char *a,
                                const char *b);

/* p's log has no line holding both a and b. */
void hostile_assert_not_logged_line(struct psockd_proc *p, const char *a,
                                    const char *b);

/* The one process of p titled title (waiting up to 5 s); fails the test
 * unless there is exactly one. */
pid_t hostile_one_proc(struct psockd_proc *p, const char *title);

/* VmRSS of pid in KiB, or -1. */
long hostile_rss_kib(pid_t pid);

/* Send n slow lookups with ids from id0 without waiting. 0 or -1. */
int hostile_send_slow(int fd, uint64_t id0, int n);

/* Collect n replies; count those refused with EAGAIN whose message holds
 * what, and those that are lookup results (GAI errors or addresses). */
int hostile_collect(int fd, int n, const char *what, int *ret_refused,
                    int *ret_answered);

/* getfqdn(name) on fd, with this request id: the reply (raw_call()). */
Psock__V1__Response *hostile_getfqdn(int fd, uint64_t id, const char *name);

/* Client: a hog pipelines requests without ever reading while this client
 * times psock_socket() on the same worker (struct shared gets the
 * figures). */
int client_never_reads(void *arg);

/* Last of every program: after every hostile client has come and gone,
 * psockd leaks nothing and nobody's worker is the same. */
void test_psockd_leaks_nothing(void **state);

/* The silent DNS server, psockd (--workers 1), the keeper, the warm-up. */
int hostile_setup(void **state);
int hostile_teardown(void **state);

#endif /* PSOCK_TEST_HOSTILE_COMMON_H */
