/* SPDX-License-Identifier: MIT */
/*
 * psockd's roles and its policy against one local user (issue 13, findings
 * 8 and 10), each attack performed for real against a real psockd, next to
 * its allowed twin:
 *
 *   8  psockd's roles run as a uid no client has: nobody cannot signal
 *      them, only its own worker; psockd --user nobody/root is refused
 *  10  a reload with a missing or broken policy file keeps the policy in
 *      force
 *
 * The fixture and the users involved: attacks_users_common.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "attacks_users_common.h"

/* The uid line of /proc/PID/status: its four ids. False if gone. */
static bool proc_ids(pid_t pid, const char *key, unsigned ids[4]) {
  char path[64], line[256];
  bool found = false;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  if (!(f = fopen(path, "re")))
    return false;
  while (!found && fgets(line, sizeof(line), f))
    found = strncmp(line, key, strlen(key)) == 0 &&
            sscanf(line + strlen(key), ":%u %u %u %u", &ids[0], &ids[1],
                   &ids[2], &ids[3]) == 4;
  fclose(f);
  return found;
}

/* ================================================= 8: the roles' users */

/* nobody signals psockd's master and roles (pids[0..3)): EPERM each. */
static int client_signal_roles(void *arg) {
  for (int i = 0; i < 3; i++) {
    pid_t pid = fx.sh->pids[i];

    CHECK(kill(pid, SIGSTOP) < 0 && errno == EPERM);
    CHECK(kill(pid, SIGKILL) < 0 && errno == EPERM);
  }
  return 0;
}

static void assert_service_ids(pid_t pid, const char *key) {
  unsigned ids[4];

  assert_true(proc_ids(pid, key, ids));
  for (int i = 0; i < 4; i++)
    if (ids[i] == 0 || ids[i] == NOBODY || ids[i] == OTHER_UID)
      fail_msg("pid %d: %s %u %u %u %u: a client's id", (int)pid, key, ids[0],
               ids[1], ids[2], ids[3]);
}

/*
 * Finding 8. The attack: without a psockd user the roles ran as nobody,
 * the uid of most sandboxed clients, and a client killed psockd-priv.
 * Now psockd-priv and psockd-spawn run as a uid (and gid) no client in
 * this test has, and nobody's SIGSTOP/SIGKILL on them and on the master
 * fail with EPERM; they are still there afterwards.
 */
static void test_8_roles_cannot_be_signalled(void **state) {
  pid_t priv = 0, spawn = 0;

  users_reset_shared();
  assert_int_equal(
      harness_psockd_procs(fx.psockd, "psockd --role=priv", &priv, 1), 1);
  assert_int_equal(
      harness_psockd_procs(fx.psockd, "psockd --role=spawn", &spawn, 1), 1);
  assert_service_ids(priv, "Uid");
  assert_service_ids(priv, "Gid");
  assert_service_ids(spawn, "Uid");
  assert_service_ids(spawn, "Gid");
  fx.sh->pids[0] = harness_psockd_pid(fx.psockd);
  fx.sh->pids[1] = priv;
  fx.sh->pids[2] = spawn;
  run_as_nobody(client_signal_roles);
  assert_false(users_proc_gone(priv));
  assert_false(users_proc_gone(spawn));
  assert_int_equal(
      harness_psockd_procs(fx.psockd, "psockd --role=priv", NULL, 0), 1);
}

/* 8 twin, root: served throughout until released. */
static int client_root_throughout(void *arg) {
  struct shared *sh = fx.sh;
  double worst = 0, end = harness_now_ms() + 10000;

  prctl(PR_SET_PDEATHSIG, SIGKILL);
  while (!sh->release && harness_now_ms() < end) {
    double lat = users_socket_ms();

    CHECK(lat >= 0);
    worst = lat > worst ? lat : worst;
    sh->count++;
    sh->phase = 1;
    usleep(20 * 1000);
  }
  sh->lat_ms = worst;
  CHECK(worst < PROMPT_MS);
  return 0;
}

/* 8 twin, nobody: kill its own worker, then be served by a new one. */
static int client_kill_own_worker(void *arg) {
  psock_sock *s;
  pid_t w = 0, w2 = 0;

  /* Every socket from psockd, none from a batch kept by the library (a
   * socket made before the kill is as good after it): the second call
   * must reach a worker. */
  setenv("PSOCK_FAST", "0", 1);
  s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s != NULL);
  psock_close(s);
  CHECK((w = users_single_worker(fx.psockd, NOBODY)) > 0);
  CHECK(kill(w, SIGKILL) == 0);
  for (int i = 0; i < 300 && !users_proc_gone(w); i++)
    usleep(10000);
  CHECK(users_proc_gone(w));
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  psock_close(s);
  CHECK((w2 = users_single_worker(fx.psockd, NOBODY)) > 0 && w2 != w);
  fx.sh->pid = w;
  return 0;
}

/*
 * Finding 8, the allowed twin: nobody may signal its own worker (it runs
 * as nobody). SIGKILL it: root's clients are served throughout, and
 * nobody's next call is served by a new worker.
 */
static void test_8_nobody_may_kill_its_own_worker(void **state) {
  char line[96];
  pid_t root;

  users_reset_shared();
  root = users_bg_start(0, 0, client_root_throughout);
  assert_true(harness_wait_flag(&fx.sh->phase, 1, 5000));
  run_as_nobody(client_kill_own_worker);
  usleep(200 * 1000);
  fx.sh->release = 1;
  users_bg_join(root, "client_root_throughout as root");
  print_message("root: %ld sockets while nobody killed its worker, slowest "
                "%.1f ms\n",
                fx.sh->count, fx.sh->lat_ms);
  snprintf(line, sizeof(line), "(uid %u, pid %d) killed by signal 9", NOBODY,
           (int)fx.sh->pid);
  harness_assert_logged(fx.psockd, line, 1, 3000);
}

/* Run psockd --user user; its exit status within 5 s (-1: still running)
 * and its output. */
static int psockd_as_user(const char *user, char **ret_log) {
  char dir[] = "/tmp/psock-attacks.XXXXXX", sock[64], log[64];
  int status = -1;
  pid_t pid;

  assert_non_null(mkdtemp(dir));
  snprintf(sock, sizeof(sock), "%s/psockd.sock", dir);
  snprintf(log, sizeof(log), "%s/psockd.log", dir);
  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
      _exit(126);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execl(getenv("PSOCKD"), "psockd", "--socket", sock, "--socket-mode=0666",
          "--user", user, "--verbose", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
    usleep(10000);
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    status = -1;
  }
  {
    FILE *f = fopen(log, "re");
    size_t len = 0;

    *ret_log = NULL;
    if (!f || getdelim(ret_log, &len, '\0', f) < 0) {
      free(*ret_log);
      *ret_log = strdup("");
    }
    if (f)
      fclose(f);
  }
  unlink(log);
  unlink(sock);
  rmdir(dir);
  return status;
}

/* Did psockd --user user exit non-zero at start, saying why, before it
 * said it was ready? Explains on stderr if not. */
static bool refused_at_start(const char *user) {
  char *log = NULL;
  int status = psockd_as_user(user, &log);
  bool ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
            strstr(log, "cannot run psockd's roles") && !strstr(log, "ready;");

  if (!ok) {
    fprintf(stderr,
            "psockd --user %s: %s %d\n----- its log -----\n%s----- end\n", user,
            status == -1        ? "still running after 5 s, status"
            : WIFEXITED(status) ? "exited with status"
                                : "killed by signal",
            status == -1        ? -1
            : WIFEXITED(status) ? WEXITSTATUS(status)
                                : WTERMSIG(status),
            log);
  }
  free(log);
  return ok;
}

/*
 * Finding 8: psockd --user nobody (or root) would put the roles under a
 * client's uid. It must refuse to start, every time: exit non-zero with
 * the reason in its log, never having said it was ready. (Three times
 * each: a refusal that depends on a race is not one.)
 */
static void test_8_psockd_refuses_a_client_uid_for_its_roles(void **state) {
  static const char *const users[] = {"nobody", "root"};

  for (size_t i = 0; i < 2; i++)
    for (int k = 0; k < 3; k++)
      if (!refused_at_start(users[i]))
        fail_msg("psockd --user %s did not refuse to start (try %d)", users[i],
                 k + 1);
}

/* ============================================ 10: a reload fails open */

/* nobody: TCP served; UDP refused by the rule named in want, or served
 * if want is empty. */
static int client_udp(void *arg) {
  const char *want = fx.sh->want;
  psock_sock *t = psock_socket(AF_INET, SOCK_STREAM, 0);
  psock_sock *u = psock_socket(AF_INET, SOCK_DGRAM, 0);

  CHECK(t != NULL);
  psock_close(t);
  if (!*want) {
    CHECK(u != NULL);
    psock_close(u);
    return 0;
  }
  CHECK(u == NULL);
  CHECK(harness_last_error(PSOCK_ERR_POLICY, EPERM, want));
  return 0;
}

#define POLICY_TCP_ONLY                                                        \
  "# finding 10: nobody gets TCP, not UDP\n"                                   \
  "allow anyone socket family=inet type=stream proto=0,tcp\n"                  \
  "deny anyone socket family=inet type=dgram errno=EPERM\n"                    \
  "allow anyone lookup\n"                                                      \
  "deny anyone all\n"
#define POLICY_BROKEN                                                          \
  "allow anyone socket family=inet type=dgram proto=0,udp\n"                   \
  "allow anyone frobnicate\n"
#define POLICY_UDP                                                             \
  "allow anyone socket family=inet type=stream proto=0,tcp\n"                  \
  "allow anyone socket family=inet type=dgram proto=0,udp\n"                   \
  "deny anyone all\n"

/* A reload: SIGHUP, then the log says text for the n-th time. */
static void reload(struct psockd_proc *p, const char *text, unsigned n) {
  assert_int_equal(kill(harness_psockd_pid(p), SIGHUP), 0);
  harness_assert_logged(p, text, n, 5000);
}

/*
 * Finding 10. The attack: with the policy file gone at SIGHUP, psockd fell
 * back to the built-in default policy, which grants more (UDP for
 * everyone here). Now a missing file, and a file that does not parse,
 * keep the policy in force ("keeping the policy in force"): nobody is
 * still refused UDP by the same rule, and served TCP. Twin: a new valid
 * file that allows UDP is taken, and nobody gets UDP.
 */
static void test_10_reload_never_widens_by_accident(void **state) {
  char dir[] = "/tmp/psock-attacks.XXXXXX", path[64];
  const char *args[] = {"--policy", path, "--workers", "1", NULL};
  struct psockd_proc *p;

  assert_non_null(mkdtemp(dir));
  assert_int_equal(chmod(dir, 0755), 0);
  snprintf(path, sizeof(path), "%s/policy.conf", dir);
  harness_write_policy(path, POLICY_TCP_ONLY, false);
  p = harness_start_psockd(args);
  users_reset_shared();
  /* UDP refused by the file's third line. */
  snprintf(fx.sh->want, sizeof(fx.sh->want), "denied by policy (%s:3)", path);
  run_as_nobody(client_udp);

  assert_int_equal(unlink(path), 0);
  reload(p, "keeping the policy in force", 1);
  run_as_nobody(client_udp);

  harness_write_policy(path, POLICY_BROKEN, false);
  reload(p, "keeping the policy in force", 2);
  run_as_nobody(client_udp);

  harness_write_policy(path, POLICY_UDP, false);
  reload(p, "SIGHUP: policy ", 1);
  fx.sh->want[0] = '\0';
  run_as_nobody(client_udp);
  assert_int_equal(harness_psockd_log_count(p, "keeping the policy in force"),
                   2);

  harness_stop_own_psockd(p, fx.psockd);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_8_roles_cannot_be_signalled),
      cmocka_unit_test(test_8_nobody_may_kill_its_own_worker),
      cmocka_unit_test(test_8_psockd_refuses_a_client_uid_for_its_roles),
      cmocka_unit_test(test_10_reload_never_widens_by_accident),
  };

  return cmocka_run_group_tests_name("attacks-users-roles", tests, users_setup,
                                     users_teardown);
}
