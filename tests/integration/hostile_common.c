/* SPDX-License-Identifier: MIT */
/*
 * The fixture and helpers of the hostile-client tests (see
 * hostile_common.h): the keeper, the warm-up, the final check that psockd
 * leaks nothing. Runs as root in the test programs; the client_* functions
 * run in their children, as nobody.
 */
#include "hostile_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

/* The keeper holds its connection at most this long. */
#define KEEPER_MAX_S 300

struct hostile_fixture fx;

/* ------------------------------------------------------ the test process */

/* Lines of psockd's log that hold both a and b. */
static int logged_lines(struct psockd_proc *p, const char *a, const char *b) {
  char *log = harness_psockd_log(p), *save = NULL;
  int n = 0;

  for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    n += strstr(l, a) && strstr(l, b);
  free(log);
  return n;
}

void hostile_assert_logged_line(struct psockd_proc *p, const char *a,
                                const char *b) {
  for (int i = 0; i < 300; i++) {
    if (logged_lines(p, a, b) > 0)
      return;
    usleep(10000);
  }
  harness_print_psockd_log(p);
  fail_msg("psockd's log has no line saying \"%s\" and \"%s\"", a, b);
}

void hostile_assert_not_logged_line(struct psockd_proc *p, const char *a,
                                    const char *b) {
  if (logged_lines(p, a, b) > 0) {
    harness_print_psockd_log(p);
    fail_msg("psockd's log has a line saying \"%s\" and \"%s\"", a, b);
  }
}

pid_t hostile_one_proc(struct psockd_proc *p, const char *title) {
  pid_t pid = harness_psockd_one_proc(p, title, 5000);

  if (!pid) {
    harness_print_psockd_log(p);
    fail_msg("psockd has no single process titled \"%s\"", title);
  }
  return pid;
}

long hostile_rss_kib(pid_t pid) {
  char path[64], line[256];
  long kib = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  if (!(f = fopen(path, "re")))
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

/* psockd's fd total once it stops changing, or as soon as it is want. */
static int settled_fds(struct psockd_proc *p, int want) {
  int n = -1, same = 0;

  for (int i = 0; i < 500 && same < 5; i++) {
    int m = harness_psockd_fd_total(p);

    same = m == n ? same + 1 : 0;
    n = m;
    if (n == want)
      break;
    usleep(10000);
  }
  return n;
}

Psock__V1__Response *hostile_getfqdn(int fd, uint64_t id, const char *name) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetfqdnRequest fq = PSOCK__V1__GETFQDN_REQUEST__INIT;

  fq.name = (char *)name;
  req.id = id;
  req.call_case = PSOCK__V1__REQUEST__CALL_GETFQDN;
  req.getfqdn = &fq;
  return raw_call(fd, &req, NULL, 0, NULL, 0, NULL);
}

/* ------------------------------------------ a client that never reads */

#define HOG_MAX_REQUESTS 2000
#define LATENCY_SAMPLES 200

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Pipeline requests without ever reading, then hold on until released. */
static int hog(struct shared *sh) {
  long sent = 0;
  int fd = raw_connect();

  CHECK(fd >= 0);
  for (long i = 0; i < HOG_MAX_REQUESTS; i++) {
    struct raw_socket_req s;
    struct raw_gai_req g;
    int r;

    raw_socket_request(&s, 100 + (uint64_t)i, AF_INET, SOCK_STREAM, 0);
    raw_gai_request(&g, 100 + (uint64_t)i, "localhost");
    r = raw_send_nowait(fd, i % 2 ? &g.req : &s.req);
    if (r == -EAGAIN)
      break; /* psockd has stopped reading us */
    CHECK(r == 0);
    sent++;
  }
  sh->hog_sent = sent;
  /* Let the worker do all it will do for us. */
  usleep(200 * 1000);
  sh->hog_ready = 1;
  harness_wait_flag(&sh->hog_release, 1, 15000);
  close(fd);
  return 0;
}

int client_never_reads(void *arg) {
  struct shared *sh = fx.share;
  double lat[LATENCY_SAMPLES];
  pid_t pid;
  int status;

  sh->hog_ready = sh->hog_release = 0;
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0)
    exit(hog(sh));
  CHECK(harness_wait_flag(&sh->hog_ready, 1, 10000));
  /* Another client of the same worker: served as promptly as ever. */
  for (int i = 0; i < LATENCY_SAMPLES; i++) {
    double t0 = harness_now_ms();
    psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

    CHECK(s != NULL);
    lat[i] = harness_now_ms() - t0;
    psock_close(s);
  }
  sh->hog_release = 1;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  qsort(lat, LATENCY_SAMPLES, sizeof(lat[0]), cmp_double);
  sh->lat_median_ms = lat[LATENCY_SAMPLES / 2];
  sh->lat_max_ms = lat[LATENCY_SAMPLES - 1];
  return 0;
}

/* ------------------------------------------------------- slow lookups */

int hostile_send_slow(int fd, uint64_t id0, int n) {
  for (int i = 0; i < n; i++) {
    struct raw_gai_req g;

    raw_gai_request(&g, id0 + (uint64_t)i, SLOW_NAME);
    if (raw_send(fd, &g.req, NULL, 0) < 0)
      return -1;
  }
  return 0;
}

int hostile_collect(int fd, int n, const char *what, int *ret_refused,
                    int *ret_answered) {
  *ret_refused = *ret_answered = 0;
  for (int i = 0; i < n; i++) {
    Psock__V1__Response *r = raw_recv(fd, 5000, NULL, 0, NULL);

    if (!r)
      return -1;
    if (r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR &&
        r->error->kind == PSOCK__V1__ERROR__KIND__OS_ERROR &&
        r->error->code == EAGAIN && strstr(r->error->message, what))
      ++*ret_refused;
    else
      ++*ret_answered;
    psock__v1__response__free_unpacked(r, NULL);
  }
  return 0;
}

/* ------------------------------------------------------ nobody noticed */

/* Lines that would mean a role or a worker died, hung or misbehaved. */
static const char *const bad_news[] = {
    "restarting it",            /* psockd-priv or psockd-spawn died */
    "killed by signal",         /* a worker died (or was killed) */
    "has not answered for",     /* a worker hung */
    "malformed control message" /* a worker spoke nonsense */
};

/* Release the keeper and collect its result (0: still served at the end). */
static int keeper_stop(void) {
  int r;

  if (fx.keeper <= 0)
    return 0;
  fx.share->keeper_release = 1;
  r = harness_wait(fx.keeper, 10);
  fx.keeper = 0;
  return r;
}

void test_psockd_leaks_nothing(void **state) {
  char *log = harness_psockd_log(fx.psockd);
  const char *bad = NULL;
  long rss, rss_res;
  int fds, idle;

  for (size_t i = 0; i < sizeof(bad_news) / sizeof(bad_news[0]) && !bad; i++)
    if (strstr(log, bad_news[i]))
      bad = bad_news[i];
  free(log);
  /* The root client's worker retires; nobody's stays (the keeper). */
  assert_int_equal(hostile_one_proc(fx.psockd, "psockd-worker"), fx.worker);
  assert_int_equal(hostile_one_proc(fx.psockd, "psockd-resolver"), fx.resolver);
  fds = settled_fds(fx.psockd, fx.fds_idle);
  rss = hostile_rss_kib(fx.worker);
  rss_res = hostile_rss_kib(fx.resolver);
  print_message("psockd fds: %d after the warm-up, %d now; worker VmRSS: "
                "%ld KiB after the warm-up, %ld KiB now; resolver: %ld, %ld "
                "KiB%s\n",
                fx.fds_idle, fds, fx.rss_idle, rss, fx.rss_resolver, rss_res,
                fx.check_rss ? "" : " (not checked: sanitizer or wrapper)");
  if (fds != fx.fds_idle || bad)
    harness_print_psockd_log(fx.psockd);
  if (bad)
    fail_msg("psockd's log says \"%s\"", bad);
  assert_int_equal(fds, fx.fds_idle);
  if (fx.check_rss && rss - fx.rss_idle > RSS_SLACK_KIB)
    fail_msg("worker VmRSS grew from %ld to %ld KiB", fx.rss_idle, rss);
  if (fx.check_rss && rss_res - fx.rss_resolver > RSS_SLACK_KIB)
    fail_msg("resolver VmRSS grew from %ld to %ld KiB", fx.rss_resolver,
             rss_res);

  /* The keeper's connection, open throughout, is still served. */
  assert_child_passed(keeper_stop(), "client_keeper");
  /* With no client left, every worker retires: back to the start. */
  idle = harness_psockd_idle_fds(fx.psockd);
  print_message("psockd fds: %d at the start, %d with every client gone\n",
                fx.fds_start, idle);
  if (idle != fx.fds_start)
    harness_print_psockd_log(fx.psockd);
  assert_int_equal(idle, fx.fds_start);
}

/* ---------------------------------------------------------------- setup */

static int client_warm_up_raw(void *arg) {
  struct raw_gai_req g;
  Psock__V1__Response *r;
  int fd = raw_connect();

  CHECK(fd >= 0);
  CHECK(raw_served(fd, 2));
  raw_gai_request(&g, 3, "localhost");
  r = raw_call(fd, &g.req, NULL, 0, NULL, 0, NULL);
  CHECK(r != NULL && r->result_case == PSOCK__V1__RESPONSE__RESULT_GETADDRINFO);
  psock__v1__response__free_unpacked(r, NULL);
  close(fd);
  return 0;
}

/* Everything a worker and its resolver allocate once: the resolver's
 * lookup threads, big arena blocks. */
static int client_warm_up(void *arg) {
  size_t len = 60 * 1024;
  char *name = malloc(len + 1);
  Psock__V1__Response *r;
  int refused, answered, fd;
  psock_sock *s;

  CHECK(client_warm_up_raw(arg) == 0);
  fd = raw_connect();
  CHECK(fd >= 0 && name != NULL);
  /* Every lookup thread of the resolver runs once. */
  CHECK(hostile_send_slow(fd, 10, 8) == 0);
  CHECK(hostile_collect(fd, 8, "in flight", &refused, &answered) == 0);
  memset(name, 'w', len);
  name[len] = '\0';
  r = hostile_getfqdn(fd, 20, name);
  CHECK(r != NULL);
  psock__v1__response__free_unpacked(r, NULL);
  close(fd);
  free(name);
  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s != NULL);
  psock_close(s);
  return 0;
}

/*
 * A client of nobody's worker that holds one connection from the setup to
 * the end, then proves it is still served.
 */
static int client_keeper(void *arg) {
  struct shared *sh = fx.share;
  int fd = raw_connect();

  CHECK(fd >= 0);
  CHECK(raw_served(fd, 2));
  sh->keeper_ready = 1;
  CHECK(harness_wait_flag(&sh->keeper_release, 1, KEEPER_MAX_S * 1000));
  CHECK(raw_served(fd, 3));
  close(fd);
  return 0;
}

int hostile_setup(void **state) {
  const char *args[] = {"--workers", "1", NULL};
  char resolv[128];

  fx.check_rss = getenv("PSOCKD_WRAPPER") == NULL;
#if defined(__SANITIZE_ADDRESS__)
  fx.check_rss = false; /* freed memory sits in ASan's quarantine */
#endif
  /* A lookup of SLOW_NAME takes one second. */
  fx.dns_fd =
      harness_silent_name_service(77, 1, "files dns", resolv, sizeof(resolv));
  fx.share = harness_shared_memory(sizeof(*fx.share));

  /* --workers 1: one worker per identity, so every client as nobody is
   * served by the same process. It starts with the first client (the
   * harness's probe of the socket was root's: that one retires). */
  fx.psockd = harness_start_psockd(args);
  fx.fds_start = harness_psockd_idle_fds(fx.psockd);
  assert_true(fx.fds_start > 0);
  fx.keeper = harness_start_as(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID, NULL, 0,
                               0, client_keeper, NULL);
  assert_true(fx.keeper > 0);
  if (!harness_wait_flag(&fx.share->keeper_ready, 1, 5000))
    assert_child_passed(keeper_stop(), "client_keeper (start)");
  fx.worker = hostile_one_proc(fx.psockd, NOBODY_WORKER);
  fx.resolver = hostile_one_proc(fx.psockd, NOBODY_RESOLVER);
  assert_child_passed(harness_run_as_nobody(0, client_warm_up, NULL),
                      "client_warm_up");
  assert_child_passed(harness_run_as_nobody(0, client_never_reads, NULL),
                      "client_never_reads (warm-up)");
  assert_int_equal(hostile_one_proc(fx.psockd, NOBODY_WORKER), fx.worker);
  fx.fds_idle = settled_fds(fx.psockd, -1);
  fx.rss_idle = hostile_rss_kib(fx.worker);
  fx.rss_resolver = hostile_rss_kib(fx.resolver);
  assert_true(fx.fds_idle > 0 && fx.rss_idle > 0 && fx.rss_resolver > 0);
  return 0;
}

int hostile_teardown(void **state) {
  /* After a failure the keeper may still hold on: let it go. */
  keeper_stop();
  harness_stop_psockd(fx.psockd);
  close(fx.dns_fd);
  munmap(fx.share, sizeof(*fx.share));
  return 0;
}
