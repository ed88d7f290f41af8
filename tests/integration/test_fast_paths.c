/* SPDX-License-Identifier: MIT */
/*
 * The fast paths of issue 16 against a real psockd: its policy page says
 * which calls an identity makes without asking and which sockets psockd
 * hands out in batches; libpsock-client, its preload and psock-run's
 * supervisor decide by it at every call.
 *
 *   reload    as nobody, a running client connects freely (psockd's worker
 *             stopped meanwhile: no round trip, and a socket from the
 *             batch); psockd reloads a policy that refuses that
 *             destination; once every worker says the policy is in force,
 *             the same client's very next connect() is refused with the
 *             policy's errno, and another destination still connects.
 *             Twin: the same with PSOCK_FAST=0 (every call asks psockd).
 *   conformance
 *             tests/conformance/sockcalls natively, and through psock-run
 *             (preload and seccomp modes) under psockd's built-in default
 *             policy with the fast paths on and with PSOCK_FAST=0, as
 *             nobody and as root: every output identical to the native one.
 *
 * psockd sends the page to every Hello that asks (Hello.page): setup
 * asserts that it does, so that no fast path goes untested unnoticed.
 *
 * Client functions run in forked children: CHECK(), never cmocka asserts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "harness.h"
#include "raw_client.h"
#include "wire.h"

#define RUN_TIMEOUT_MS 30000
/* Generous: a loaded machine may be slow to schedule psockd. */
#define WAIT_MS 10000
/* While psockd's worker is stopped: a round trip would take this long,
 * and the master kills a worker that misses its pings for 3 s. */
#define STOPPED_TIMEOUT_MS "1500"

#define TEST_HOSTS                                                             \
  "127.0.0.1\tlocalhost\n"                                                     \
  "::1\tlocalhost\n"                                                           \
  "127.0.0.5\tpsock-conformance.test psock-alias.test\n"                       \
  "fd00:5::5\tpsock-conformance.test\n"
#define TEST_NSSWITCH                                                          \
  "passwd: files\ngroup: files\nshadow: files\nhosts: files\n"                 \
  "networks: files\nprotocols: files\nservices: files\n"

/* Everything the clients do is allowed outright: their calls are free. */
#define POLICY_FREE                                                            \
  "allow uid=65534 socket family=inet,inet6 type=stream,dgram "                \
  "proto=0,tcp,udp\n"                                                          \
  "allow uid=65534 connect,sendto family=inet,inet6 addr=any port=any\n"       \
  "allow uid=65534 bind family=inet,inet6 addr=any port=0,1024-65535\n"        \
  "allow uid=65534 listen family=inet,inet6\n"
/* The same, but one destination refused (the port is filled in). */
#define POLICY_RESTRICTED                                                      \
  "allow uid=65534 socket family=inet,inet6 type=stream,dgram "                \
  "proto=0,tcp,udp\n"                                                          \
  "deny uid=65534 connect family=inet addr=127.0.0.1 port=%u errno=EPERM\n"    \
  "allow uid=65534 connect,sendto family=inet,inet6 addr=any port=any\n"       \
  "allow uid=65534 bind family=inet,inet6 addr=any port=0,1024-65535\n"        \
  "allow uid=65534 listen family=inet,inet6\n"

static struct {
  char work[64];  /* 0755: copies of our binaries, the policy */
  char files[96]; /* 0777: what nobody writes */
  char policy[128];
  char psock_run[PATH_MAX], preload[PATH_MAX], sockcalls[PATH_MAX];
  char preload_env[3 * PATH_MAX];
  struct psockd_proc *reload; /* --policy fx.policy, reloaded */
  struct psockd_proc *dflt;   /* the built-in default policy */
} fx;

/* ------------------------------------------------------------ helpers */

static void copy_in(const char *var, const char *name, char *dst) {
  const char *src = getenv(var);

  if (!src || !*src)
    fail_msg("%s is not set: run this test through `meson test`", var);
  snprintf(dst, PATH_MAX, "%s/%s", fx.work, name);
  if (harness_copy_file(src, dst, 0755) < 0)
    fail_msg("copying %s: %s", src, strerror(errno));
}

/* A TCP listener of the test's own on 127.0.0.1 (backlog for the
 * connects of a test; never accepted). */
static int listener(uint16_t *ret_port) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(fd, 64), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  *ret_port = ntohs(sin.sin_port);
  return fd;
}

/* Does psockd's HelloReply carry a policy page (and its fd)? Asked as
 * the test (root): a worker of every identity makes one. */
static bool psockd_sends_page(const struct psockd_proc *p) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__Hello h = PSOCK__V1__HELLO__INIT;
  Psock__V1__Response *r;
  int fd, fds[1] = {-1};
  size_t nfds = 0;
  bool page;

  setenv("PSOCK_SOCKET", harness_psockd_socket(p), 1);
  fd = raw_open();
  assert_true(fd >= 0);
  h.protocol_version = PSOCK_PROTOCOL_VERSION;
  h.has_page = true;
  h.page = true;
  req.id = 1;
  req.call_case = PSOCK__V1__REQUEST__CALL_HELLO;
  req.hello = &h;
  r = raw_call(fd, &req, NULL, 0, fds, 1, &nfds);
  assert_non_null(r);
  assert_int_equal(r->result_case, PSOCK__V1__RESPONSE__RESULT_HELLO);
  page = r->hello->has_page && r->hello->page;
  if (page)
    assert_int_equal(nfds, 1);
  if (nfds)
    close(fds[0]);
  psock__v1__response__free_unpacked(r, NULL);
  close(fd);
  return page;
}

/* "policy in force:" lines in p's log so far; the number of workers the
 * last SIGHUP was sent to in *ret_sent (psockd-priv not counted). */
static unsigned installs(const struct psockd_proc *p, unsigned *ret_sent) {
  char *log = harness_psockd_log(p), *l = log, *s;
  unsigned n = 0, w;

  for (; (l = strstr(l, "policy in force:")); l++)
    n++;
  for (l = log; (s = strstr(l, "SIGHUP: policy")); l = s + 1) {
    const char *and = strstr(s, " and ");

    if (and&&sscanf(and, " and %u worker", &w) == 1)
      *ret_sent = w;
  }
  free(log);
  return n;
}

/* Write rules as p's policy, SIGHUP it, and wait until psockd-priv and
 * every worker running say they use it. */
static void reload(const struct psockd_proc *p, const char *rules) {
  unsigned sighups = harness_psockd_log_count(p, "SIGHUP: policy");
  unsigned sent = 0, before = installs(p, &sent);
  double deadline;

  harness_write_policy(fx.policy, rules, false);
  assert_int_equal(kill(harness_psockd_pid(p), SIGHUP), 0);
  harness_assert_logged(p, "SIGHUP: policy", sighups + 1, WAIT_MS);
  installs(p, &sent);
  deadline = harness_now_ms() + WAIT_MS;
  while (installs(p, &sent) < before + sent + 1) {
    if (harness_now_ms() > deadline) {
      harness_print_psockd_log(p);
      fail_msg("psockd-priv and %u worker(s) did not say \"policy in force\"",
               sent);
    }
    usleep(10000);
  }
}

/* ------------------------------------------------------------- reload */

/* Between the test and its client (harness_shared_memory()). */
struct shared {
  volatile int step;
  int fast; /* the fast paths on */
  uint16_t refused_port, other_port;
};

/*
 * The running client: connects freely; with the fast paths on, does so
 * again and takes a socket while psockd's worker is stopped; then, after
 * the reload, its very next connect to the same destination is refused.
 */
static int client_reload(void *arg) {
  struct shared *sh = arg;
  psock_address dest, other;
  psock_sock *s, *spare;

  if (!sh->fast)
    setenv("PSOCK_FAST", "0", 1);
  setenv("PSOCK_DAEMON_TIMEOUT_MS", STOPPED_TIMEOUT_MS, 1);
  CHECK(psock_addr_inet(&dest, "127.0.0.1", sh->refused_port) == 0);
  CHECK(psock_addr_inet(&other, "127.0.0.1", sh->other_port) == 0);
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  CHECK(psock_connect(s, &dest) == 0);
  psock_close(s);
  spare = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(spare != NULL);
  /* One more: whatever the batch size, the cache then holds one. */
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  psock_close(s);

  sh->step = 1;
  CHECK(harness_wait_flag(&sh->step, 2, WAIT_MS));
  if (sh->fast) {
    /* psockd's worker is stopped: only what needs no round trip works. */
    CHECK(psock_connect(spare, &dest) == 0);
    s = psock_socket(AF_INET, SOCK_STREAM, 0); /* the rest of a batch */
    CHECK(s != NULL);
    psock_close(s);
  }
  psock_close(spare);
  sh->step = 3;

  CHECK(harness_wait_flag(&sh->step, 4, 3 * WAIT_MS));
  unsetenv("PSOCK_DAEMON_TIMEOUT_MS");
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  CHECK(psock_connect(s, &dest) == -1);
  CHECK(harness_last_error(PSOCK_ERR_POLICY, EPERM, NULL));
  psock_close(s);
  /* Twin: a destination the new policy allows still connects. */
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL && psock_connect(s, &other) == 0);
  psock_close(s);
  return 0;
}

static void reload_honoured(bool fast) {
  struct shared *sh = harness_shared_memory(sizeof(*sh));
  char restricted[1024];
  pid_t client, worker = 0;
  int l1, l2, r;

  l1 = listener(&sh->refused_port);
  l2 = listener(&sh->other_port);
  sh->fast = fast;
  reload(fx.reload, POLICY_FREE);
  setenv("PSOCK_SOCKET", harness_psockd_socket(fx.reload), 1);
  client = harness_start_as(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID, NULL, 0,
                            HARNESS_EMPTY_NETNS, client_reload, sh);
  assert_true(client > 0);
  if (harness_wait_flag(&sh->step, 1, WAIT_MS) && fast) {
    worker =
        harness_psockd_one_proc(fx.reload, "psockd-worker uid=65534 ", WAIT_MS);
    assert_true(worker > 0);
    assert_int_equal(kill(worker, SIGSTOP), 0);
  }
  sh->step = 2;
  harness_wait_flag(&sh->step, 3, 2 * WAIT_MS);
  if (worker > 0)
    kill(worker, SIGCONT);
  if (sh->step == 3) {
    snprintf(restricted, sizeof(restricted), POLICY_RESTRICTED,
             sh->refused_port);
    reload(fx.reload, restricted);
    sh->step = 4;
  }
  r = harness_wait(client, 3 * WAIT_MS / 1000);
  harness_assert_child(fx.reload, r,
                       fast ? "the running client (fast paths on)"
                            : "the running client (PSOCK_FAST=0)");
  close(l1);
  close(l2);
  munmap(sh, sizeof(*sh));
}

static void test_reload_honoured_by_next_connect(void **state) {
  reload_honoured(true);
}

static void test_reload_honoured_without_fast_paths(void **state) {
  reload_honoured(false);
}

/* --------------------------------------------------------- conformance */

struct run {
  const char *tag;
  bool nobody;
  const char *const *argv;
  const char *env; /* "NAME=value" or NULL */
  pid_t pid;
  int status;
  char outpath[PATH_MAX];
  char *out;
};

/* Run r to its end (setpriv in front for nobody), stdout to a file. */
static void run(struct run *r) {
  const char *argv[32];
  char errpath[PATH_MAX];
  double deadline = harness_now_ms() + RUN_TIMEOUT_MS;
  size_t n = 0;

  snprintf(r->outpath, sizeof(r->outpath), "%s/%s.out", fx.files, r->tag);
  snprintf(errpath, sizeof(errpath), "%s/%s.err", fx.files, r->tag);
  if (r->nobody) {
    argv[n++] = "/usr/bin/setpriv";
    argv[n++] = "--reuid=65534";
    argv[n++] = "--regid=65534";
    argv[n++] = "--clear-groups";
  }
  for (size_t i = 0; r->argv[i] && n < 31; i++)
    argv[n++] = r->argv[i];
  argv[n] = NULL;
  fflush(NULL);
  r->pid = fork();
  assert_true(r->pid >= 0);
  if (r->pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    int out = open(r->outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
        dup2(err, 2) < 0 || chdir(fx.files) < 0)
      _exit(124);
    close_range(3, ~0U, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (r->env)
      putenv((char *)r->env);
    execv(argv[0], (char *const *)argv);
    _exit(124);
  }
  while (waitpid(r->pid, &r->status, WNOHANG) == 0) {
    if (harness_now_ms() > deadline) {
      kill(r->pid, SIGKILL);
      waitpid(r->pid, &r->status, 0);
      break;
    }
    usleep(5000);
  }
  r->out = harness_read_text(r->outpath);
  if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0 ||
      !strstr(r->out, "\ndone\n")) {
    char *err = harness_read_text(errpath);

    fprintf(stderr, "----- %s (status 0x%x) -----\n%s----- stderr -----\n%s",
            r->tag, r->status, r->out, err);
    free(err);
    fail_msg("%s did not run to its end", r->tag);
  }
}

/* Fail with a diff unless r printed what native printed. */
static void assert_same(const struct run *native, const struct run *r) {
  char cmd[3 * PATH_MAX];

  if (strcmp(native->out, r->out) == 0)
    return;
  snprintf(cmd, sizeof(cmd), "diff -u '%s' '%s' >&2", native->outpath,
           r->outpath);
  if (system(cmd) < 0)
    fprintf(stderr, "diff could not run\n");
  fail_msg("%s differs from %s", r->tag, native->tag);
}

/* A 0777 directory for sockcalls (it makes AF_UNIX paths there). */
static void sockcalls_dir(const char *tag, char *dir, size_t len) {
  snprintf(dir, len, "%s/%s", fx.files, tag);
  assert_int_equal(mkdir(dir, 0777), 0);
  assert_int_equal(chmod(dir, 0777), 0);
}

/* sockcalls through psock-run in mode, fast paths on or off, as who:
 * the same output as native's. */
static void conform(const struct run *native, const char *who, const char *mode,
                    bool fast) {
  char tag[64], dir[PATH_MAX], mode_arg[32];
  struct run r = {.nobody = native->nobody};

  snprintf(tag, sizeof(tag), "%s-%s-%s", who, mode, fast ? "fast" : "slow");
  snprintf(mode_arg, sizeof(mode_arg), "--mode=%s", mode);
  sockcalls_dir(tag, dir, sizeof(dir));
  r.tag = tag;
  r.env = fast ? NULL : "PSOCK_FAST=0";
  /* For root, psock-run's namespace is the host's unless asked. */
  r.argv = (const char *const[]){fx.psock_run,
                                 mode_arg,
                                 "--netns=empty",
                                 "--socket",
                                 harness_psockd_socket(fx.dflt),
                                 "--",
                                 fx.sockcalls,
                                 dir,
                                 NULL};
  run(&r);
  assert_same(native, &r);
  free(r.out);
}

static void conformance_as(bool nobody, const char *who) {
  char tag[64], dir[PATH_MAX];
  struct run native = {.nobody = nobody};

  snprintf(tag, sizeof(tag), "%s-native", who);
  sockcalls_dir(tag, dir, sizeof(dir));
  native.tag = tag;
  native.argv = (const char *const[]){fx.sockcalls, dir, NULL};
  run(&native);
  conform(&native, who, "preload", true);
  conform(&native, who, "preload", false);
  conform(&native, who, "seccomp", true);
  conform(&native, who, "seccomp", false);
  free(native.out);
}

static void test_conformance_with_and_without_fast_paths(void **state) {
  conformance_as(true, "nobody");
  conformance_as(false, "root");
}

/* -------------------------------------------------------------- setup */

static int setup(void **state) {
  char why[256], runtimes[2 * PATH_MAX];

  /* LeakSanitizer cannot stop a program under the seccomp mode's filter
   * (test_psock_run_seccomp.c says why): leak checks run elsewhere. */
  setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
  snprintf(fx.work, sizeof(fx.work), "/tmp/psock-fast.XXXXXX");
  if (!mkdtemp(fx.work))
    fail_msg("mkdtemp: %s", strerror(errno));
  assert_int_equal(chmod(fx.work, 0755), 0);
  snprintf(fx.files, sizeof(fx.files), "%s/files", fx.work);
  assert_int_equal(mkdir(fx.files, 0777), 0);
  assert_int_equal(chmod(fx.files, 0777), 0);
  snprintf(fx.policy, sizeof(fx.policy), "%s/policy.conf", fx.work);
  copy_in("PSOCK_RUN", "psock-run", fx.psock_run);
  copy_in("PSOCK_PRELOAD_LIB", "libpsock-preload.so", fx.preload);
  copy_in("PSOCK_SOCKCALLS", "sockcalls", fx.sockcalls);
  /* In a sanitizer build the runtimes come first in LD_PRELOAD. */
  if (harness_sanitizer_runtimes(runtimes, sizeof(runtimes), why, sizeof(why)) <
      0)
    fail_msg("%s", why);
  snprintf(fx.preload_env, sizeof(fx.preload_env), "%s%s", runtimes,
           fx.preload);
  assert_int_equal(setenv("PSOCK_PRELOAD", fx.preload_env, 1), 0);

  harness_private_name_service(TEST_HOSTS, NULL, TEST_NSSWITCH);
  harness_write_policy(fx.policy, POLICY_FREE, false);
  fx.reload = harness_start_psockd(
      (const char *const[]){"--policy", fx.policy, "--workers", "1", NULL});
  /* Not --audit-allow: a psockd that logs allowed calls frees none. */
  fx.dflt = harness_start_psockd_default_policy(
      (const char *const[]){"--workers", "1", NULL});
  assert_true(psockd_sends_page(fx.reload));
  return 0;
}

static int teardown(void **state) {
  char cmd[PATH_MAX + 16];

  harness_stop_psockd(fx.dflt);
  harness_stop_psockd(fx.reload);
  /* Our own directory, named by mkdtemp: nothing else is removed. */
  if (strncmp(fx.work, "/tmp/psock-fast.", 16) == 0) {
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", fx.work);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", fx.work);
  }
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reload_honoured_by_next_connect),
      cmocka_unit_test(test_reload_honoured_without_fast_paths),
      cmocka_unit_test(test_conformance_with_and_without_fast_paths),
  };
  return cmocka_run_group_tests_name("fast paths", tests, setup, teardown);
}
