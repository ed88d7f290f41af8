/* SPDX-License-Identifier: MIT */
/*
 * Hostile clients that would take more than their share: a client that
 * pipelines requests and never reads its replies stalls nobody else on its
 * worker (three rounds, the worker's memory unchanged); a second psockd
 * started with small --max-inflight, --max-lookups and --max-conns gives
 * a client over each limit a typed error (or, for connections, a close),
 * logged, while a second user's clients get their full share at the same
 * moment; psockd gives back every fd after each.
 *
 * The fixture (a keeper, the warm-up, the final leak check) and how the
 * clients talk: hostile_common.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "hostile_common.h"
#include "wire.h"

/* Limits of the second psockd (test_limits_*). */
#define LIM_INFLIGHT 3
#define LIM_LOOKUPS 4
#define LIM_CONNS 6

/* A second user for the per-uid limits: no account has it, and it lies
 * below the range psockd takes its own uid from (61184-65519). */
#define OTHER_UID 41234
/* How long one client waits for the other of a pair. */
#define PAIR_WAIT_MS 10000

/* ---------------------------------------------- a client that never reads */

/*
 * Three rounds of client_never_reads(): while the hog's replies pile up
 * unread, the other client of the same worker is served at once, and
 * neither the worker's nor its resolver's memory grows from round to round.
 */
static void test_client_that_never_reads_stalls_nobody(void **state) {
  long rss[3], rss_res[3];

  for (int round = 0; round < 3; round++) {
    assert_as_nobody(client_never_reads);
    rss[round] = hostile_rss_kib(fx.worker);
    rss_res[round] = hostile_rss_kib(fx.resolver);
    print_message("round %d: %ld requests pipelined unread; other client's "
                  "psock_socket: median %.3f ms, max %.3f ms; worker VmRSS "
                  "%ld KiB, resolver %ld KiB\n",
                  round + 1, fx.share->hog_sent, fx.share->lat_median_ms,
                  fx.share->lat_max_ms, rss[round], rss_res[round]);
    assert_true(fx.share->hog_sent >= 100);
    /* Generous bounds for loaded CI machines and sanitizer builds. */
    assert_true(fx.share->lat_median_ms < 50.0);
    assert_true(fx.share->lat_max_ms < 1000.0);
  }
  /* Both clients were nobody's: one worker served them, the same one. */
  assert_int_equal(hostile_one_proc(fx.psockd, NOBODY_WORKER), fx.worker);
  if (fx.check_rss && rss[2] - rss[0] > RSS_SLACK_KIB)
    fail_msg("worker VmRSS grew from %ld to %ld KiB over rounds 1..3", rss[0],
             rss[2]);
  if (fx.check_rss && rss_res[2] - rss_res[0] > RSS_SLACK_KIB)
    fail_msg("resolver VmRSS grew from %ld to %ld KiB over rounds 1..3",
             rss_res[0], rss_res[2]);
}

/* --------------------------------------------------------------- limits */

static const char *const limit_args[] = {
    "--workers",     "1",  "--max-inflight=3", "--max-lookups=4",
    "--max-conns=6", NULL,
};

/* 5 slow lookups on one connection: 3 in flight, 2 refused at once. */
static int client_over_inflight(void *arg) {
  int refused, answered, fd = raw_connect();

  CHECK(fd >= 0);
  CHECK(hostile_send_slow(fd, 10, LIM_INFLIGHT + 2) == 0);
  CHECK(hostile_collect(fd, LIM_INFLIGHT + 2, "requests in flight", &refused,
                        &answered) == 0);
  CHECK(refused == 2 && answered == LIM_INFLIGHT);
  CHECK(raw_served(fd, 20));
  close(fd);
  return 0;
}

/*
 * Two connections, 3 slow lookups each: the worker of nobody's identity
 * refuses the 5th and 6th. While its 4 are in flight, the other user's
 * client (client_other_lookups) gets its own full 4.
 */
static int client_over_lookups(void *arg) {
  struct shared *sh = fx.share;
  int refused, answered, a = raw_connect(), b = raw_connect();
  struct pollfd pa = {.fd = a, .events = POLLIN};

  CHECK(a >= 0 && b >= 0);
  CHECK(hostile_send_slow(a, 10, 3) == 0);
  /* a's are dispatched before b's: wait for psockd to take them. */
  usleep(100 * 1000);
  CHECK(hostile_send_slow(b, 20, 3) == 0);
  /* The refusals come at once, the answer after the resolver's 1 s. */
  CHECK(hostile_collect(b, 2, "name lookups in flight for this user", &refused,
                        &answered) == 0);
  CHECK(refused == 2 && answered == 0);
  sh->held = 1;
  /* Note when nobody's first lookup comes back, while the other runs. */
  while (!sh->other_done && sh->t_nobody_answer == 0) {
    if (poll(&pa, 1, 1) == 1)
      sh->t_nobody_answer = harness_now_ms();
  }
  CHECK(harness_wait_flag(&sh->other_done, 1, PAIR_WAIT_MS));
  CHECK(hostile_collect(b, 1, "in flight", &refused, &answered) == 0);
  CHECK(refused == 0 && answered == 1);
  CHECK(hostile_collect(a, 3, "in flight", &refused, &answered) == 0);
  CHECK(refused == 0 && answered == 3);
  close(a);
  close(b);
  return 0;
}

/* The other user's full share of lookups (over two connections: each
 * takes LIM_INFLIGHT at most). */
static int client_other_lookups(void *arg) {
  struct shared *sh = fx.share;
  int half = LIM_LOOKUPS / 2, refused, answered;
  int a = raw_connect(), b = raw_connect();

  /* Connected (its worker started) before nobody's lookups go out. */
  CHECK(a >= 0 && b >= 0);
  CHECK(harness_wait_flag(&sh->held, 1, PAIR_WAIT_MS));
  CHECK(hostile_send_slow(a, 10, half) == 0);
  CHECK(hostile_send_slow(b, 20, LIM_LOOKUPS - half) == 0);
  sh->t_other_sent = harness_now_ms();
  CHECK(hostile_collect(a, half, "in flight", &refused, &answered) == 0);
  CHECK(refused == 0 && answered == half);
  CHECK(hostile_collect(b, LIM_LOOKUPS - half, "in flight", &refused,
                        &answered) == 0);
  CHECK(refused == 0 && answered == LIM_LOOKUPS - half);
  CHECK(raw_served(a, 30));
  close(a);
  close(b);
  sh->other_done = 1;
  return 0;
}

/*
 * 6 connections are served; the 7th is closed at once, without a reply;
 * the 6 go on. Meanwhile the other user (client_other_conns) opens its own
 * 6. When one of nobody's goes, a new one is welcome again.
 */
static int client_over_conns(void *arg) {
  struct shared *sh = fx.share;
  int fds[LIM_CONNS], extra;

  for (int i = 0; i < LIM_CONNS; i++)
    CHECK((fds[i] = raw_connect()) >= 0);
  extra = raw_open();
  CHECK(extra >= 0);
  {
    Psock__V1__Response *r;

    /* Closed (perhaps before the hello could be sent), not timed out. */
    r = raw_hello(extra, PSOCK_PROTOCOL_VERSION);
    CHECK(r == NULL);
    CHECK(errno == 0 || errno == EPIPE || errno == ECONNRESET);
  }
  close(extra);
  sh->held = 1;
  CHECK(harness_wait_flag(&sh->other_done, 1, PAIR_WAIT_MS));
  for (int i = 0; i < LIM_CONNS; i++)
    CHECK(raw_served(fds[i], 30 + (uint64_t)i));
  /*
   * One goes, and a new one is welcome again at once, as a native socket
   * would be: the master, whose count says 6, asks the workers afresh
   * before it refuses. Several rounds, each at once after the close.
   */
  for (int round = 0; round < 5; round++) {
    close(fds[0]);
    fds[0] = raw_connect();
    CHECK(fds[0] >= 0);
  }
  CHECK(raw_served(fds[0], 40));
  for (int i = 0; i < LIM_CONNS; i++)
    close(fds[i]);
  return 0;
}

static int client_other_conns(void *arg) {
  struct shared *sh = fx.share;
  int fds[LIM_CONNS];

  CHECK(harness_wait_flag(&sh->held, 1, PAIR_WAIT_MS));
  for (int i = 0; i < LIM_CONNS; i++) {
    CHECK((fds[i] = raw_connect()) >= 0);
    CHECK(raw_served(fds[i], 30 + (uint64_t)i));
  }
  for (int i = 0; i < LIM_CONNS; i++)
    close(fds[i]);
  sh->other_done = 1;
  return 0;
}

/*
 * Run nobody_fn as nobody and, at the same time, other_fn as OTHER_UID:
 * nobody_fn sets share->held once it is at its limit and waits for
 * share->other_done. Both must pass.
 */
static void run_pair(struct psockd_proc *p, int (*nobody_fn)(void *),
                     const char *nobody_name, int (*other_fn)(void *),
                     const char *other_name) {
  int r_nobody, r_other;
  pid_t pid;

  fx.share->held = fx.share->other_done = 0;
  fx.share->t_other_sent = fx.share->t_nobody_answer = 0;
  pid = harness_start_as(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID, NULL, 0, 0,
                         nobody_fn, NULL);
  assert_true(pid > 0);
  r_other = harness_run_as(OTHER_UID, OTHER_UID, NULL, 0, 0, other_fn, NULL);
  /* Or nobody's client would wait out PAIR_WAIT_MS for nothing. */
  fx.share->other_done = 1;
  r_nobody = harness_wait(pid, HARNESS_CHILD_TIMEOUT_S);
  harness_assert_child(p, r_other, other_name);
  harness_assert_child(p, r_nobody, nobody_name);
}

/*
 * Every worker of p retires and p holds the fds it held at its start: what
 * the case before took, it gave back.
 */
static void assert_back_to(struct psockd_proc *p, int start,
                           const char *after) {
  int now = harness_psockd_idle_fds(p);

  if (now != start) {
    harness_print_psockd_log(p);
    fail_msg("psockd holds %d fds after %s, %d at its start", now, after,
             start);
  }
}

static void test_limits_give_typed_errors_or_close(void **state) {
  struct psockd_proc *p = harness_start_psockd(limit_args);
  char uid_nobody[32], uid_other[32];
  int start;

  /* Our PSOCK_SOCKET now names this psockd; the main one is unchanged. */
  start = harness_psockd_idle_fds(p);
  assert_true(start > 0);

  harness_assert_child(p, harness_run_as_nobody(0, client_over_inflight, NULL),
                       "client_over_inflight");
  harness_assert_logged(
      p, "(uid 65534): 3 requests in flight: getaddrinfo refused", 1, 3000);
  assert_back_to(p, start, "--max-inflight");

  run_pair(p, client_over_lookups, "client_over_lookups", client_other_lookups,
           "client_other_lookups");
  print_message("nobody's first lookup answered %.0f ms after the other "
                "user's were sent\n",
                fx.share->t_nobody_answer - fx.share->t_other_sent);
  /* The other user's went out while nobody's 4 were still in flight. */
  assert_true(fx.share->t_nobody_answer > fx.share->t_other_sent);
  hostile_assert_logged_line(p, "[uid 65534]: ",
                             "4 name lookups already in flight for this user: "
                             "refused");
  snprintf(uid_other, sizeof(uid_other), "[uid %u]: ", OTHER_UID);
  hostile_assert_not_logged_line(p, uid_other, "already in flight");
  assert_back_to(p, start, "--max-lookups");

  run_pair(p, client_over_conns, "client_over_conns", client_other_conns,
           "client_other_conns");
  snprintf(uid_nobody, sizeof(uid_nobody), "uid %u pid ", HARNESS_NOBODY_UID);
  hostile_assert_logged_line(p, uid_nobody, ": already 6 connections: refused");
  snprintf(uid_other, sizeof(uid_other), "uid %u pid ", OTHER_UID);
  hostile_assert_not_logged_line(p, uid_other, "connections: refused");
  assert_back_to(p, start, "--max-conns");

  harness_stop_own_psockd(p, fx.psockd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_that_never_reads_stalls_nobody),
      cmocka_unit_test(test_limits_give_typed_errors_or_close),
      /* Last: after every hostile client has come and gone. */
      cmocka_unit_test(test_psockd_leaks_nothing),
  };

  return cmocka_run_group_tests_name("hostile-limits", tests, hostile_setup,
                                     hostile_teardown);
}
