/* SPDX-License-Identifier: MIT */
/*
 * psockd's configuration against a client in a sandbox (issue 13, findings
 * 11 and 12, and a client whose pid psockd cannot see):
 *
 *  11  a connect rule next to a socket rule binds nothing (the holder of
 *      the socket connects it itself): psockctl check --strict and explain
 *      say so; connect without socket holds
 *  12  psockd started by hand makes its socket 0600 (0660 root:psock where
 *      that group exists), --socket-group/--socket-mode open it to one
 *      group, and a symlink at the socket path is neither followed nor
 *      replaced
 * unit  a client whose pid psockd cannot see (psockd in a pid namespace of
 *      its own) matches every deny unit= rule, never widening the policy
 *
 * The fixture and the psockd of each test: attacks_sandbox_common.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "attacks_sandbox_common.h"

/* -------------------------------------- finding 11: rules the holder skips */

/* Run `psockctl ARGS` (stdout and stderr) into out; its exit status. */
static int psockctl(char *out, size_t size, const char *args) {
  char cmd[512];
  size_t n = 0;
  FILE *f;
  int st;

  snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", getenv("PSOCKCTL"), args);
  f = popen(cmd, "re");
  assert_non_null(f);
  while (n + 1 < size && fgets(out + n, (int)(size - n), f))
    n += strlen(out + n);
  out[n] = '\0';
  st = pclose(f);
  assert_true(WIFEXITED(st));
  return WEXITSTATUS(st);
}

struct f11 {
  uint16_t allowed; /* the port the connect rule names (an echo) */
  uint16_t denied;  /* a listener of the test the rule does not name */
  bool socket_rule; /* the policy gives unconnected sockets */
};

static int echo_once_through(psock_sock *s) {
  char buf[8] = {0};

  CHECK(psock_sendall(s, "f11", 3, 0) == 0);
  CHECK(psock_recv(s, buf, sizeof(buf), 0) == 3 && memcmp(buf, "f11", 3) == 0);
  return 0;
}

/* Under socket + restricted connect: psockd refuses the connect, but the
 * holder of the socket connects it itself (what the warning says). */
static int client_connect_bypass(void *arg) {
  const struct f11 *t = arg;
  struct sockaddr_in sin = loopback(t->denied);
  psock_address denied, allowed;
  psock_sock *s;
  int r;

  CHECK(psock_addr_inet(&denied, "127.0.0.1", t->denied) == 0);
  CHECK(psock_addr_inet(&allowed, "127.0.0.1", t->allowed) == 0);
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  CHECK(psock_connect(s, &denied) == -1);
  CHECK(harness_last_error(PSOCK_ERR_POLICY, EACCES, NULL));
  CHECK(connect(psock_fileno(s), (struct sockaddr *)&sin, sizeof(sin)) == 0);
  psock_close(s);
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL && psock_connect(s, &allowed) == 0);
  r = echo_once_through(s);
  CHECK(r == 0);
  psock_close(s);
  return 0;
}

/* Twin: connect without socket: connected sockets only, and the rule
 * holds. */
static int client_connect_only(void *arg) {
  const struct f11 *t = arg;
  psock_address denied, allowed;
  psock_sock *s;
  int r;

  CHECK(psock_addr_inet(&denied, "127.0.0.1", t->denied) == 0);
  CHECK(psock_addr_inet(&allowed, "127.0.0.1", t->allowed) == 0);
  CHECK(psock_socket(AF_INET, SOCK_STREAM, 0) == NULL);
  CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
  CHECK(psock_create_connection(&denied, 5.0, NULL) == NULL);
  CHECK(harness_last_error(PSOCK_ERR_POLICY, EACCES, NULL));
  s = psock_create_connection(&allowed, 5.0, NULL);
  CHECK(s != NULL);
  r = echo_once_through(s);
  CHECK(r == 0);
  psock_close(s);
  return 0;
}

/* The policy of t. */
static void f11_policy(const struct f11 *t, char *buf, size_t size) {
  snprintf(buf, size,
           "%sallow anyone connect family=inet addr=127.0.0.1 port=%u\n"
           "allow anyone lookup\n",
           t->socket_rule
               ? "allow anyone socket family=inet type=stream proto=0,tcp\n"
               : "",
           t->allowed);
}

/* psockctl check and explain on t's policy; then a psockd serving it. */
static struct psockd_proc *f11_check_and_start(const struct f11 *t) {
  const char *path = fx.policy;
  char policy[256], args[160], want[96], out[4096];

  f11_policy(t, policy, sizeof(policy));
  harness_write_policy(path, policy, false);
  snprintf(args, sizeof(args), "check --policy %s", path);
  assert_int_equal(psockctl(out, sizeof(out), args), 0);
  snprintf(args, sizeof(args), "check --strict --policy %s", path);
  assert_int_equal(psockctl(out, sizeof(out), args), t->socket_rule ? 1 : 0);
  if (t->socket_rule) {
    /* The warning names the connect rule (line 2) and the socket rule. */
    snprintf(want, sizeof(want), "%s:2: warning:", path);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof(want), "rule %s:1 may give", path);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "psock-run --mode=seccomp"));
  } else {
    assert_null(strstr(out, "warning"));
  }
  snprintf(args, sizeof(args),
           "explain --policy %s --user nobody connect addr=127.0.0.1 port=%u",
           path, t->denied);
  assert_int_equal(psockctl(out, sizeof(out), args), 1);
  assert_non_null(strstr(out, "deny EACCES"));
  if (t->socket_rule) {
    snprintf(want, sizeof(want), "but rule %s:1 gives this client", path);
    assert_non_null(strstr(out, want));
  } else {
    assert_null(strstr(out, "warning"));
  }
  return sandbox_start_with_policy(0, policy, false);
}

static void test_f11_unenforceable_rule_warned(void **state) {
  struct f11 t = {.socket_rule = true};
  struct harness_echo *echo = harness_start_echo(&t.allowed);
  int listener = harness_loopback_socket(SOCK_STREAM, &t.denied);
  struct psockd_proc *p = f11_check_and_start(&t);

  AS_NOBODY(HARNESS_EMPTY_NETNS, client_connect_bypass, &t);
  sandbox_stop_own(p);
  /* The holder's own connect arrived: the rule did not bind it. */
  assert_int_equal(pending_connections(listener), 1);

  t.socket_rule = false;
  p = f11_check_and_start(&t);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_connect_only, &t);
  sandbox_stop_own(p);
  assert_int_equal(pending_connections(listener), 0);
  close(listener);
  harness_stop_echo(echo);
}

/* ------------------------------------ finding 12: psockd's socket mode */

struct hand {
  pid_t pid;
  char dir[sizeof("/tmp/psock-attack-f12.XXXXXX")];
  char sock[64], log[64];
};

/* psockd started by hand, as an admin would: no --socket-mode unless
 * given in extra. Returns true if it listens, false if it exited. */
static bool hand_start(struct hand *h, const char *const *extra) {
  const char *argv[16] = {getenv("PSOCKD"), "--socket", h->sock, "--verbose"};
  size_t argc = 4;
  struct stat st;

  for (size_t i = 0; extra && extra[i]; i++)
    argv[argc++] = extra[i];
  fflush(NULL);
  h->pid = fork();
  assert_true(h->pid >= 0);
  if (h->pid == 0) {
    int fd = open(h->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
      _exit(126);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  for (int i = 0; i < 500; i++) {
    int status;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    bool up;

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", h->sock);
    up = lstat(h->sock, &st) == 0 && S_ISSOCK(st.st_mode) &&
         connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    close(fd);
    if (up)
      return true;
    if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
      h->pid = 0;
      assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      return false;
    }
    usleep(10000);
  }
  fail_msg("psockd started by hand neither listened nor exited in 5 s");
  return false;
}

static void hand_dir(struct hand *h) {
  memcpy(h->dir, "/tmp/psock-attack-f12.XXXXXX", sizeof(h->dir));
  assert_non_null(mkdtemp(h->dir));
  assert_int_equal(chmod(h->dir, 0755), 0);
  snprintf(h->sock, sizeof(h->sock), "%s/s.sock", h->dir);
  snprintf(h->log, sizeof(h->log), "%s/psockd.log", h->dir);
}

static char *hand_log(const struct hand *h) {
  static char text[8192];
  FILE *f = fopen(h->log, "re");
  size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;

  if (f)
    fclose(f);
  text[n] = '\0';
  return text;
}

static void hand_stop(struct hand *h) {
  int status = 0;

  if (h->pid > 0) {
    kill(h->pid, SIGTERM);
    for (int i = 0; i < 1000 && waitpid(h->pid, &status, WNOHANG) == 0; i++)
      usleep(10000);
    if (kill(h->pid, 0) == 0) {
      kill(h->pid, SIGKILL);
      waitpid(h->pid, &status, 0);
      fail_msg("psockd started by hand ignored SIGTERM");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fprintf(stderr, "psockd log:\n%s\n", hand_log(h));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  unlink(h->log);
  rmdir(h->dir);
}

struct f12 {
  const char *path;
  int want; /* 0, or the errno connect() must fail with */
};

/* connect() to psockd's socket; with success, the handshake too. */
static int client_socket_access(void *arg) {
  const struct f12 *t = arg;
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r, conn;

  CHECK(fd >= 0);
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", t->path);
  errno = 0;
  r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
  close(fd);
  if (t->want) {
    CHECK(r == -1 && errno == t->want);
    return 0;
  }
  CHECK(r == 0);
  CHECK(setenv("PSOCK_SOCKET", t->path, 1) == 0);
  conn = raw_connect();
  CHECK(conn >= 0);
  close(conn);
  return 0;
}

static void assert_node(const char *path, mode_t mode, gid_t gid) {
  struct stat st;

  assert_int_equal(lstat(path, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 07777, mode);
  assert_int_equal(st.st_uid, 0);
  assert_int_equal(st.st_gid, gid);
}

/* The attack: any local user uses a psockd an admin started by hand. */
static void test_f12_default_socket_mode(void **state) {
  struct group *psock = getgrnam("psock");
  struct hand h;
  struct f12 t;

  hand_dir(&h);
  t.path = h.sock;
  assert_true(hand_start(&h, NULL));
  if (psock) {
    printf("note: group psock exists (gid %u): expecting 0660 root:psock\n",
           (unsigned)psock->gr_gid);
    assert_node(h.sock, 0660, psock->gr_gid);
  } else {
    assert_node(h.sock, 0600, 0);
  }
  assert_non_null(strstr(hand_log(&h), psock ? "mode 0660" : "mode 0600"));
  t.want = EACCES;
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_socket_access, &t);
  /* Twin: root uses it. */
  t.want = 0;
  AS_ROOT(HARNESS_EMPTY_NETNS, client_socket_access, &t);
  hand_stop(&h);
}

/* Twin: --socket-group/--socket-mode open it to one group. */
static void test_f12_socket_group_and_mode(void **state) {
  static const char *const extra[] = {"--socket-group", "nogroup",
                                      "--socket-mode", "0660", NULL};
  struct group *nogroup = getgrnam("nogroup");
  struct hand h;
  struct f12 t;

  if (!nogroup || nogroup->gr_gid != HARNESS_NOBODY_GID) {
    printf("skipped: no group nogroup with gid %d on this machine\n",
           HARNESS_NOBODY_GID);
    skip();
  }
  hand_dir(&h);
  t.path = h.sock;
  assert_true(hand_start(&h, extra));
  assert_node(h.sock, 0660, HARNESS_NOBODY_GID);
  t.want = 0;
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_socket_access, &t);
  t.want = EACCES;
  AS_USER(USER_UID, USER_UID, NULL, 0, HARNESS_EMPTY_NETNS,
          client_socket_access, &t);
  hand_stop(&h);
}

/* A symlink planted at the socket path: psockd must not follow it (no
 * unlink, chmod or chown of its target), and refuses to start. */
static void test_f12_symlink_at_socket_path(void **state) {
  static const char precious[] = "precious\n";
  char target[96], link_to[96] = {0}, want[128], buf[32] = {0};
  struct hand h;
  struct stat st;
  int fd;

  hand_dir(&h);
  snprintf(target, sizeof(target), "%s/target", h.dir);
  fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, precious, strlen(precious)), strlen(precious));
  assert_int_equal(fchmod(fd, 0644), 0);
  close(fd);
  assert_int_equal(symlink(target, h.sock), 0);

  assert_false(hand_start(&h, NULL));
  snprintf(want, sizeof(want), "cannot listen on %s", h.sock);
  if (!strstr(hand_log(&h), want))
    fail_msg("psockd's log lacks \"%s\":\n%s", want, hand_log(&h));
  /* The link and its target are as they were. */
  assert_int_equal(lstat(h.sock, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  assert_true(readlink(h.sock, link_to, sizeof(link_to) - 1) > 0);
  assert_string_equal(link_to, target);
  assert_int_equal(lstat(target, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0644);
  assert_int_equal(st.st_uid, 0);
  assert_int_equal(st.st_gid, 0);
  fd = open(target, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(read(fd, buf, sizeof(buf)), strlen(precious));
  assert_string_equal(buf, precious);
  close(fd);
  unlink(h.sock);
  unlink(target);
  hand_stop(&h);
}

/* ------------------------- a client whose pid psockd cannot see (unit) */

#define UNIT_POLICY                                                            \
  "deny unit=*.service socket family=inet type=stream\n"                       \
  "allow anyone socket family=inet type=stream,dgram proto=0,tcp,udp\n"

static int client_unit_unknown_refused(void *arg) {
  psock_sock *s;

  CHECK(psock_socket(AF_INET, SOCK_STREAM, 0) == NULL);
  CHECK(harness_last_error(PSOCK_ERR_POLICY, EACCES, "policy.conf:1)"));
  /* The same psockd serves what no unit= rule refuses. */
  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s != NULL);
  psock_close(s);
  return 0;
}

static int client_unit_known_allowed(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s != NULL);
  psock_close(s);
  return 0;
}

/* Is psockd (the child of the harness's middle process) pid 1 of a pid
 * namespace nested in ours? */
static bool psockd_in_own_pidns(const struct psockd_proc *p) {
  char path[64], line[256];
  int child = 0;
  bool nested = false;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
           (int)harness_psockd_pid(p), (int)harness_psockd_pid(p));
  f = fopen(path, "re");
  if (!f || fscanf(f, "%d", &child) != 1)
    child = 0;
  if (f)
    fclose(f);
  snprintf(path, sizeof(path), "/proc/%d/status", child);
  f = child > 0 ? fopen(path, "re") : NULL;
  while (f && fgets(line, sizeof(line), f)) {
    int a, b;

    if (sscanf(line, "NSpid: %d %d", &a, &b) == 2)
      nested = a == child && b == 1;
  }
  if (f)
    fclose(f);
  return nested;
}

static void test_unit_of_invisible_pid_never_widens(void **state) {
  char cgroup[4096] = {0};
  FILE *f = fopen("/proc/self/cgroup", "re");
  struct psockd_proc *p;

  assert_non_null(f);
  assert_true(fread(cgroup, 1, sizeof(cgroup) - 1, f) > 0);
  fclose(f);
  if (strstr(cgroup, ".service")) {
    printf("skipped: this test runs in a .service unit, which the deny "
           "rule would match anyway\n");
    skip();
  }
  p = sandbox_start_with_policy(HARNESS_PSOCKD_OWN_PIDNS, UNIT_POLICY, false);
  assert_true(psockd_in_own_pidns(p));
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_unit_unknown_refused, NULL);
  assert_log_has(p, "unit=(unknown)");
  sandbox_stop_own(p);

  /* Twin: psockd sees the client's pid, reads its unit (none). */
  p = sandbox_start_with_policy(0, UNIT_POLICY, false);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_unit_known_allowed, NULL);
  sandbox_stop_own(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      sandbox_test(test_f11_unenforceable_rule_warned),
      sandbox_test(test_f12_default_socket_mode),
      sandbox_test(test_f12_socket_group_and_mode),
      sandbox_test(test_f12_symlink_at_socket_path),
      sandbox_test(test_unit_of_invisible_pid_never_widens),
  };

  return cmocka_run_group_tests(tests, sandbox_setup, sandbox_teardown);
}
