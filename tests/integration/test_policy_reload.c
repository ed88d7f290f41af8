/* SPDX-License-Identifier: MIT */
/*
 * Policy reload: SIGHUP makes psockd read its policy file again and every
 * worker swap it in whole.
 *
 * - Under load: clients running as nobody create sockets as fast as they
 *   can while the file switches between policies A and B (which decide the
 *   measured requests alike) and psockd gets SIGHUP after SIGHUP: not one
 *   request may fail. Then a switch to C, which decides them the other way
 *   round: each request is decided by exactly one policy, as its outcome and
 *   the rule named in a refusal show, and every request made after
 *   psockd-priv and all workers said they use C is decided by C.
 * - A bad file: psockd says why (FILE:LINE:COL), keeps deciding by the
 *   policy in force and stays up; a good file after it is taken again.
 * - A policy given as a pipe (psockd --policy <(...)): the workers use the
 *   policy the master checked.
 *
 * Client functions run in forked children: CHECK(), never cmocka asserts.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "harness.h"
#include "policy_util.h"

#define CLIENTS 3
#define RELOADS 10        /* A -> B -> A ... under load */
#define RELOAD_GAP_MS 200 /* so the load phase takes about 2 s */
/* Generous: a loaded machine may be slow to schedule psockd. */
#define WAIT_MS 10000

/* What a request's outcome is consistent with. */
enum { IS_A = 1, IS_B = 2, IS_C = 4 };

/* Which policies a request may be decided by, set by the test. */
enum phase {
  PHASE_AB,     /* only A and B were ever loaded */
  PHASE_SWITCH, /* C is on its way to the workers */
  PHASE_C,      /* every worker said it uses C */
  PHASE_STOP
};

/* Shared between the test and the client processes. */
struct load {
  atomic_int phase;
  atomic_uint started;
  atomic_uint requests, failures, after_c;
  atomic_uint x_allowed, x_refused, y_allowed, y_refused;
  atomic_flag reported;
  char first_failure[512];
};

static struct {
  char dir[POL_PATH_MAX];
  char path[POL_FILE_MAX];
  /* The policies and the lines of their rules for X and Y. */
  struct pol_text a, b, c;
  unsigned a_y, b_y, c_x;
  struct psockd_proc *psockd;
  struct load *load;
  pid_t clients; /* the process running clients_main(), 0 if none */
  /* Scanning psockd's log as it grows. */
  FILE *log;
  char line[4096]; /* the last, partial line */
  size_t line_len;
  unsigned sighups, installs, kept, restarts, sent_to;
} fx;

/* ------------------------------------------------------------ policies */

static void build_policies(void) {
  struct pol_text *a = &fx.a, *b = &fx.b, *c = &fx.c;

  /* X = socket(inet, stream), Y = socket(inet, dgram). */
  pol_add(a, "# policy A: X allowed, Y refused with EPERM");
  pol_add(a, "allow anyone socket family=inet type=stream proto=0,tcp");
  fx.a_y = pol_add(a, "deny anyone socket family=inet type=dgram "
                      "errno=EPERM");
  pol_add(a, "allow anyone lookup");
  pol_add(a, "deny anyone all");

  pol_add(b, "# policy B: X and Y decided as by A, other rules changed");
  /* Names: a worker, sandboxed by now, resolves them when it parses. */
  pol_add(b, "allow user=%s group=%s lookup,reverse", pol_nobody_user(),
          pol_nobody_group());
  pol_add(b, "allow anyone socket family=inet6 type=stream proto=0,tcp");
  pol_add(b, "%s", "");
  pol_add(b, "allow anyone socket family=inet type=stream proto=tcp,0");
  fx.b_y = pol_add(b, "deny anyone socket family=inet type=dgram");
  pol_add(b, "deny anyone all");

  pol_add(c, "# policy C: X refused with EPERM, Y allowed");
  for (int i = 0; i < 5; i++)
    pol_add(c, "#");
  fx.c_x = pol_add(c, "deny anyone socket family=inet type=stream "
                      "errno=EPERM");
  pol_add(c, "allow anyone socket family=inet type=dgram proto=0,udp");
  pol_add(c, "deny anyone all");

  /* Each refusal names a line no other policy refuses X or Y on. */
  assert_true(fx.a_y != fx.b_y && fx.b_y != fx.c_x && fx.a_y != fx.c_x);
}

/* --------------------------------------------------------- the clients */

/* Was the last call refused with err by line of the policy file? */
static bool refused_by(int err, unsigned line) {
  char want[POL_RULE_MAX + 32];

  snprintf(want, sizeof(want), "denied by policy (%s)",
           pol_rule(fx.path, line));
  return psock_last_error_kind() == PSOCK_ERR_POLICY &&
         psock_last_error_code() == err && errno == err &&
         strcmp(psock_last_error_message(), want) == 0;
}

/* Ask for X or Y; the policies its outcome is consistent with (0: none). */
static unsigned request(bool x) {
  psock_sock *s = psock_socket(AF_INET, x ? SOCK_STREAM : SOCK_DGRAM, 0);

  if (s) {
    psock_close(s);
    return x ? IS_A | IS_B : IS_C;
  }
  if (x)
    return refused_by(EPERM, fx.c_x) ? IS_C : 0;
  if (refused_by(EPERM, fx.a_y))
    return IS_A;
  return refused_by(EACCES, fx.b_y) ? IS_B : 0;
}

static void report(struct load *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(struct load *ld, const char *fmt, ...) {
  va_list ap;

  atomic_fetch_add(&ld->failures, 1);
  if (atomic_flag_test_and_set(&ld->reported))
    return;
  va_start(ap, fmt);
  vsnprintf(ld->first_failure, sizeof(ld->first_failure), fmt, ap);
  va_end(ap);
}

/* One client: mostly X, every 32nd request Y (each refusal of Y is an
 * audit line, and the log should stay small), until told to stop. */
static int client_loop(struct load *ld) {
  bool seen_c = false;
  unsigned long n = 0;

  atomic_fetch_add(&ld->started, 1);
  for (;;) {
    int phase = atomic_load(&ld->phase);
    bool x = n++ % 32 != 0;
    unsigned may, got;

    if (phase == PHASE_STOP)
      break;
    may = phase == PHASE_AB  ? IS_A | IS_B
          : phase == PHASE_C ? IS_C
                             : IS_A | IS_B | IS_C;
    /* One connection, one worker: it never goes back from C. */
    if (seen_c)
      may = IS_C;
    got = request(x);
    atomic_fetch_add(&ld->requests, 1);
    if (phase == PHASE_C)
      atomic_fetch_add(&ld->after_c, 1);
    atomic_fetch_add(got & IS_C ? (x ? &ld->x_refused : &ld->y_allowed)
                                : (x ? &ld->x_allowed : &ld->y_refused),
                     1);
    if (!(got & may))
      report(ld,
             "pid %d request %lu (%s) in phase %d: outcome fits policies "
             "0x%x, expected 0x%x; psock error %d/%d \"%s\"",
             (int)getpid(), n, x ? "X" : "Y", phase, got, may,
             psock_last_error_kind(), psock_last_error_code(),
             psock_last_error_message());
    seen_c |= got == IS_C;
  }
  return 0;
}

/* As nobody: CLIENTS processes, each with its own connection. */
static int clients_main(void *arg) {
  struct load *ld = arg;
  pid_t pids[CLIENTS];
  int ret = 0;

  /* As fast as they can, but the test and psockd's master must still get
   * the CPU when they need it, or the reloads (and the test) drag on. */
  errno = 0;
  if (nice(10) == -1 && errno != 0)
    report(ld, "nice: %s", strerror(errno));

  for (int i = 0; i < CLIENTS; i++) {
    pids[i] = fork();
    if (pids[i] < 0) {
      report(ld, "fork: %s", strerror(errno));
      atomic_store(&ld->phase, PHASE_STOP);
      return __LINE__;
    }
    if (pids[i] == 0) {
      /* Gone with their parent, whatever happens to the test. */
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      exit(client_loop(ld));
    }
  }
  for (int i = 0; i < CLIENTS; i++) {
    int status;

    if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
      ret = __LINE__;
  }
  return ret;
}

/* In the test process: run clients_main() as nobody in a process of its
 * own, so that the test can reload meanwhile. */
static void start_clients(void) {
  fflush(NULL);
  fx.clients = fork();
  assert_true(fx.clients >= 0);
  if (fx.clients == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    _exit(harness_run_as_nobody(0, clients_main, fx.load) == 0 ? 0 : 1);
  }
}

/* Tell the clients to stop and wait for them: their exit status. */
static int finish_clients(void) {
  long long deadline = pol_now_ms() + WAIT_MS;
  pid_t pid = fx.clients;
  int status;

  if (pid <= 0)
    return 0;
  fx.clients = 0;
  atomic_store(&fx.load->phase, PHASE_STOP);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (pol_now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    pol_sleep_ms(5);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------- the log */

static void count_line(const char *l) {
  const char *sent = strstr(l, "SIGHUP: policy");
  unsigned n;

  /* "... sent to psockd-priv and N worker(s)": N + 1 installs to come. */
  if (sent && (sent = strstr(sent, " and ")) &&
      sscanf(sent, " and %u worker", &n) == 1)
    fx.sent_to = n + 1;
  fx.sighups += strstr(l, "SIGHUP: policy") != NULL;
  fx.installs += strstr(l, "policy in force:") != NULL;
  fx.kept += strstr(l, "keeping the policy in force") != NULL;
  fx.restarts += strstr(l, "killed by signal") != NULL;
}

/* Count the lines of interest that psockd logged since the last call. The
 * log grows by an audit line per refusal, so it is read only once. */
static void scan_log(void) {
  char buf[65536];
  size_t n;

  if (!fx.log) {
    char path[POL_FILE_MAX + 64];

    snprintf(path, sizeof(path), "%s/psockd.log",
             harness_psockd_dir(fx.psockd));
    fx.log = fopen(path, "re");
    assert_non_null(fx.log);
  }
  clearerr(fx.log);
  while ((n = fread(buf, 1, sizeof(buf), fx.log)) > 0) {
    for (size_t i = 0; i < n; i++) {
      if (buf[i] != '\n') {
        /* A line longer than this is no line of interest. */
        if (fx.line_len < sizeof(fx.line) - 1)
          fx.line[fx.line_len++] = buf[i];
        continue;
      }
      fx.line[fx.line_len] = '\0';
      count_line(fx.line);
      fx.line_len = 0;
    }
  }
}

static void wait_log(const unsigned *count, unsigned want, const char *what) {
  long long deadline = pol_now_ms() + WAIT_MS;

  for (scan_log(); *count < want; scan_log()) {
    if (pol_now_ms() > deadline) {
      harness_print_psockd_log(fx.psockd);
      fail_msg("psockd did not log %s (%u of %u) within %d ms", what, *count,
               want, WAIT_MS);
    }
    pol_sleep_ms(10);
  }
}

/* Write text as the policy file, SIGHUP psockd, wait until psockd-priv
 * and every worker running has said that it uses the new policy (a worker
 * started later gets it when it starts). */
static void reload(const char *text) {
  unsigned sighups, installs;

  scan_log();
  sighups = fx.sighups;
  installs = fx.installs;
  pol_write_file(fx.path, text);
  assert_int_equal(kill(harness_psockd_pid(fx.psockd), SIGHUP), 0);
  wait_log(&fx.sighups, sighups + 1, "\"SIGHUP: policy ... sent\"");
  /* psockd-priv and each worker running then say they use it. */
  wait_log(&fx.installs, installs + fx.sent_to,
           "\"policy in force\" per worker and psockd-priv");
}

static void assert_psockd_alive(void) {
  char path[64], state = '?';
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/stat",
           (int)harness_psockd_pid(fx.psockd));
  f = fopen(path, "re");
  assert_non_null(f);
  assert_int_equal(fscanf(f, "%*d (%*[^)]) %c", &state), 1);
  fclose(f);
  if (state == 'Z' || state == 'X') {
    harness_print_psockd_log(fx.psockd);
    fail_msg("psockd has exited");
  }
}

/* -------------------------------------------------------------- tests */

static void test_reload_under_load(void **state) {
  struct load *ld = fx.load;
  long long deadline = pol_now_ms() + WAIT_MS;
  int r;

  memset(ld, 0, sizeof(*ld));
  atomic_store(&ld->phase, PHASE_AB);
  reload(fx.a.buf);
  start_clients();
  while ((atomic_load(&ld->started) < CLIENTS ||
          atomic_load(&ld->requests) < 100) &&
         pol_now_ms() < deadline)
    pol_sleep_ms(5);
  assert_int_equal(atomic_load(&ld->started), CLIENTS);

  /* A and B decide X and Y alike: nothing may change for the clients. */
  for (int i = 0; i < RELOADS; i++) {
    reload(i % 2 == 0 ? fx.b.buf : fx.a.buf);
    pol_sleep_ms(RELOAD_GAP_MS);
  }
  assert_int_equal(atomic_load(&ld->x_refused), 0);
  assert_int_equal(atomic_load(&ld->y_allowed), 0);

  /* C decides them the other way round, from the moment it is in force. */
  atomic_store(&ld->phase, PHASE_SWITCH);
  reload(fx.c.buf);
  atomic_store(&ld->phase, PHASE_C);
  deadline = pol_now_ms() + WAIT_MS;
  while (atomic_load(&ld->after_c) < 200 && pol_now_ms() < deadline)
    pol_sleep_ms(5);
  r = finish_clients();

  fprintf(stderr,
          "%u requests: X allowed %u, refused %u; Y allowed %u, refused %u; "
          "%u after C was in force; %u SIGHUPs\n",
          atomic_load(&ld->requests), atomic_load(&ld->x_allowed),
          atomic_load(&ld->x_refused), atomic_load(&ld->y_allowed),
          atomic_load(&ld->y_refused), atomic_load(&ld->after_c), fx.sighups);
  if (atomic_load(&ld->failures))
    fail_msg("%u request(s) not decided by exactly one policy; first: %s",
             atomic_load(&ld->failures), ld->first_failure);
  assert_int_equal(r, 0);
  assert_true(atomic_load(&ld->after_c) >= 200);
  assert_true(atomic_load(&ld->x_refused) > 0 &&
              atomic_load(&ld->y_allowed) > 0);
  assert_psockd_alive();
  /* No worker died on the way (a reload is no reason to). */
  scan_log();
  if (fx.restarts)
    harness_print_psockd_log(fx.psockd);
  assert_int_equal(fx.restarts, 0);
}

/* X refused by C's rule, Y allowed: the clients see policy C. */
static int client_sees_c(void *arg) {
  CHECK(request(true) == IS_C);
  CHECK(request(false) == IS_C);
  return 0;
}

static int client_sees_a(void *arg) {
  CHECK(request(true) == (IS_A | IS_B));
  CHECK(request(false) == IS_A);
  return 0;
}

static void assert_log_has(const char *needle) {
  char *log = harness_psockd_log(fx.psockd);
  bool found = strstr(log, needle) != NULL;

  free(log);
  if (!found) {
    harness_print_psockd_log(fx.psockd);
    fail_msg("psockd's log lacks \"%s\"", needle);
  }
}

static void test_bad_policy_keeps_the_old_one(void **state) {
  char want[POL_FILE_MAX + 128];
  unsigned kept, installs;

  reload(fx.c.buf);
  assert_int_equal(harness_run_as_nobody(0, client_sees_c, NULL), 0);

  /* The man page's example of a broken file: two errors on line 2. */
  scan_log();
  kept = fx.kept;
  installs = fx.installs;
  pol_write_file(fx.path,
                 "allow anyone socket family=inet type=stream proto=0,tcp\n"
                 "allow anyone conect family=inet addr=10.0.0.0/33 port=any\n");
  assert_int_equal(kill(harness_psockd_pid(fx.psockd), SIGHUP), 0);
  wait_log(&fx.kept, kept + 1, "\"keeping the policy in force\"");
  snprintf(want, sizeof(want), "%s:2:14: unknown call 'conect'", fx.path);
  assert_log_has(want);
  snprintf(want, sizeof(want), "%s:2:47: bad prefix length '33'", fx.path);
  assert_log_has(want);

  /* Nothing went to the workers; C still decides; psockd is up. */
  pol_sleep_ms(100);
  scan_log();
  assert_int_equal(fx.installs, installs);
  assert_int_equal(harness_run_as_nobody(0, client_sees_c, NULL), 0);
  assert_psockd_alive();

  /* An unreadable file is no different. */
  assert_int_equal(unlink(fx.path), 0);
  assert_int_equal(kill(harness_psockd_pid(fx.psockd), SIGHUP), 0);
  wait_log(&fx.kept, kept + 2, "\"keeping the policy in force\"");
  assert_int_equal(harness_run_as_nobody(0, client_sees_c, NULL), 0);

  /* And the next good file is taken. */
  reload(fx.a.buf);
  assert_int_equal(harness_run_as_nobody(0, client_sees_a, NULL), 0);
  assert_psockd_alive();
}

/*
 * `psockd --policy <(generate)`: the file is a pipe that can be read only
 * once. The workers must get what the master read and checked, not a
 * second read of the same path (which finds the pipe empty).
 */
static void test_policy_from_a_pipe(void **state) {
  char arg[32];
  const char *args[] = {"--workers", "2", "--policy", arg, NULL};
  struct psockd_proc *p;
  int fds[2];
  size_t len = strlen(fx.a.buf);

  /* Policy A, read from /dev/fd/N of a pipe psockd inherits. */
  assert_int_equal(pipe(fds), 0);
  assert_true(write(fds[1], fx.a.buf, len) == (ssize_t)len);
  close(fds[1]);
  snprintf(arg, sizeof(arg), "/dev/fd/%d", fds[0]);
  snprintf(fx.path, sizeof(fx.path), "%s", arg);
  p = harness_start_psockd(args);
  close(fds[0]);
  fx.psockd = p;
  /* The worker started for this client gets what the master read. */
  assert_int_equal(harness_run_as_nobody(0, client_sees_a, NULL), 0);
  harness_stop_psockd(p);
  fx.psockd = NULL;
}

/* ------------------------------------------------------------ fixtures */

static int setup(void **state) {
  pol_make_dir(fx.dir);
  snprintf(fx.path, sizeof(fx.path), "%s/policy.conf", fx.dir);
  build_policies();
  fx.load = mmap(NULL, sizeof(*fx.load), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(fx.load != MAP_FAILED);
  return 0;
}

static int teardown(void **state) {
  munmap(fx.load, sizeof(*fx.load));
  pol_remove_dir(fx.dir);
  return 0;
}

/* Each test: a psockd of its own with policy A, whose workers stay while
 * the test runs (so that a worker starting is not taken for a reload). */
static int start_psockd(void **state) {
  const char *args[] = {"--workers",        "2", "--policy", fx.path,
                        "--worker-idle=60", NULL};

  snprintf(fx.path, sizeof(fx.path), "%s/policy.conf", fx.dir);
  pol_write_file(fx.path, fx.a.buf);
  fx.sighups = fx.installs = fx.kept = fx.restarts = fx.sent_to = 0;
  fx.line_len = 0;
  fx.psockd = harness_start_psockd(args);
  /* psockd-priv says it has the policy: psockd is ready for reloads. */
  wait_log(&fx.installs, 1, "\"policy in force\" in psockd-priv");
  return 0;
}

static int stop_psockd(void **state) {
  /* A test that failed half-way leaves its clients running. */
  finish_clients();
  if (fx.log)
    fclose(fx.log);
  fx.log = NULL;
  harness_stop_psockd(fx.psockd);
  fx.psockd = NULL;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reload_under_load, start_psockd,
                                      stop_psockd),
      cmocka_unit_test_setup_teardown(test_bad_policy_keeps_the_old_one,
                                      start_psockd, stop_psockd),
      cmocka_unit_test(test_policy_from_a_pipe),
  };

  return cmocka_run_group_tests_name("policy reload", tests, setup, teardown);
}
