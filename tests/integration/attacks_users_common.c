/* SPDX-License-Identifier: MIT */
/*
 * The fixture and helpers of the users' attack tests (see
 * attacks_users_common.h). Runs as root in the test programs; the client_*
 * functions run in their children.
 */
#include "attacks_users_common.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

struct users_fixture fx;

void users_reset_shared(void) {
  memset((void *)fx.sh, 0, sizeof(*fx.sh));
}

pid_t users_bg_start(uid_t uid, int flags, int (*fn)(void *)) {
  pid_t pid = harness_start_as(uid, uid, NULL, 0, flags, fn, NULL);

  assert_true(pid > 0);
  return pid;
}

void users_bg_join(pid_t pid, const char *what) {
  assert_child_passed(harness_wait(pid, HARNESS_CHILD_TIMEOUT_S), what);
}

int users_workers_of(const struct psockd_proc *p, uid_t uid, pid_t *ret,
                     size_t max) {
  char title[64];

  snprintf(title, sizeof(title), "psockd-worker uid=%u ", (unsigned)uid);
  return harness_psockd_procs(p, title, ret, max);
}

pid_t users_single_worker(const struct psockd_proc *p, uid_t uid) {
  char title[64];

  snprintf(title, sizeof(title), "psockd-worker uid=%u ", (unsigned)uid);
  return harness_psockd_one_proc(p, title, 3000);
}

bool users_proc_gone(pid_t pid) {
  char t[64];
  /* A zombie has no command line either. */
  return !harness_proc_title(pid, t, sizeof(t));
}

double users_socket_ms(void) {
  double t0 = harness_now_ms(), lat;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  lat = harness_now_ms() - t0;
  if (!s)
    return -1;
  psock_close(s);
  return lat;
}

int client_served_promptly(void *arg) {
  double worst = 0;

  for (int i = 0; i < 10; i++) {
    double lat = users_socket_ms();

    CHECK(lat >= 0);
    worst = lat > worst ? lat : worst;
    usleep(100 * 1000);
  }
  if (worst >= PROMPT_MS)
    fprintf(stderr, "uid %u: psock_socket took %.1f ms\n", getuid(), worst);
  CHECK(worst < PROMPT_MS);
  return 0;
}

int client_hold(void *arg) {
  struct shared *sh = fx.sh;
  int rc = raw_connect();

  CHECK(rc >= 0 && raw_served(rc, 2));
  sh->phase = 1;
  CHECK(harness_wait_flag(&sh->release, 1, 15000));
  close(rc);
  return 0;
}

int users_setup(void **state) {
  const char *args[] = {"--workers", "1", NULL};

  fx.dns_fd = harness_silent_name_service(83, 2, "files dns", fx.resolv,
                                          sizeof(fx.resolv));
  fx.sh = harness_shared_memory(sizeof(*fx.sh));
  fx.psockd = harness_start_psockd(args);
  users_reset_shared();
  run_as_root(client_served_promptly);
  return 0;
}

int users_teardown(void **state) {
  harness_stop_psockd(fx.psockd);
  close(fx.dns_fd);
  munmap((void *)fx.sh, sizeof(*fx.sh));
  return 0;
}
