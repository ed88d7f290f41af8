/* SPDX-License-Identifier: MIT */
/*
 * libpsock-client's connection to psockd (client/conn.c), against the fake
 * psockd of tests/unit/fake_psockd.c: the handshake, errors and lying
 * replies, a dropped or silent daemon, fork, a program that closes or
 * reuses the library's fd, threads sharing the pool, and identity: a
 * pooled connection is never used by the process under another effective
 * uid, gid or group list, and every request carries the sender's effective
 * ids (issue 13, finding 9).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#include "../../client/conn.h"
#include "fake_psockd.h"
#include "psock/psock.h"

static void test_wrong_protocol_version(void **state) {
  fk.hello_version = PSOCK_PROTOCOL_VERSION + 1;
  assert_null(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  assert_int_equal(psock_last_error_code(), EPROTONOSUPPORT);
  assert_non_null(strstr(psock_last_error_message(), "version 3"));
  /* The handshake failed: no socket request was ever sent. */
  assert_int_equal(atomic_load(&fk.socket_calls), 0);
}

static void test_socket_from_daemon(void **state) {
  psock_sock *a, *b;
  int fd;

  a = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_non_null(a);
  fd = psock_fileno(a);
  /* fds arrive close-on-exec; without SOCK_CLOEXEC the kernel's socket()
   * would not set it, so neither does psock_socket(). */
  assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
  assert_true(psock_gettimeout(a) == PSOCK_TIMEOUT_NONE);
  assert_int_equal(psock_family(a), AF_INET);
  assert_int_equal(psock_type(a), SOCK_STREAM);

  b = psock_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  assert_non_null(b);
  assert_int_equal(fcntl(psock_fileno(b), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  assert_true(fcntl(psock_fileno(b), F_GETFL) & O_NONBLOCK);
  assert_true(psock_gettimeout(b) == 0.0);
  assert_int_equal(psock_type(b), SOCK_DGRAM);

  /* The kernel's "lowest free number": the library's own fd is high. */
  psock_close(a);
  a = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_fileno(a), fd);
  psock_close(a);
  psock_close(b);
  /* One connection served all three calls. */
  assert_int_equal(atomic_load(&fk.connections), 1);
}

static void test_daemon_os_error(void **state) {
  errno = 0;
  assert_null(psock_socket(4242, SOCK_STREAM, 0));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), EAFNOSUPPORT);
  assert_int_equal(errno, EAFNOSUPPORT);
}

static void test_policy_refusal(void **state) {
  fk.mode = FAKE_POLICY;
  errno = 0;
  assert_null(psock_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_POLICY);
  assert_int_equal(psock_last_error_code(), EACCES);
  assert_int_equal(errno, EACCES);
  assert_string_equal(psock_last_error_message(),
                      "rule 3 (deny all) refuses socket");
}

static void test_fd_count_mismatch(void **state) {
  int before;

  /* Warm up so that the connection itself is not counted. */
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  fake_quiesce();
  before = count_fds();

  fk.mode = FAKE_FD_LIE;
  assert_null(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  fake_quiesce();
  assert_int_equal(count_fds(), before);

  fk.mode = FAKE_EXTRA_FD;
  assert_null(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  assert_int_equal(psock_last_error_code(), EPROTO);
  fake_quiesce();
  /* Both fds that came with the bad answer were closed. */
  assert_int_equal(count_fds(), before);
}

static void test_reconnects_after_drop(void **state) {
  psock_sock *s;

  fk.mode = FAKE_DROP_FIRST;
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  /* The daemon hung up mid-request: reopened once, sent again. */
  assert_non_null(s);
  assert_int_equal(atomic_load(&fk.connections), 2);
  assert_int_equal(atomic_load(&fk.socket_calls), 2);
  psock_close(s);
}

static void test_daemon_timeout(void **state) {
  double t0;

  fk.mode = FAKE_SILENT;
  setenv("PSOCK_DAEMON_TIMEOUT_MS", "200", 1);
  t0 = now_s();
  assert_null(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_true(now_s() - t0 < 2.0);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  assert_int_equal(psock_last_error_code(), ETIMEDOUT);
  unsetenv("PSOCK_DAEMON_TIMEOUT_MS");
}

static void test_child_after_fork_opens_its_own(void **state) {
  int status;
  pid_t pid;

  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(atomic_load(&fk.socket_peer_pid), (int)getpid());
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

    _exit(s ? 0 : 1);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  /* The child's request came on a connection the child opened. */
  assert_int_equal(atomic_load(&fk.socket_peer_pid), (int)pid);
  assert_int_equal(atomic_load(&fk.connections), 2);

  /* And the parent's connection still works, unshared. */
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(atomic_load(&fk.socket_peer_pid), (int)getpid());
  assert_int_equal(atomic_load(&fk.connections), 2);
}

/* The one socket fd in 100..199: the library's connection (the fake's
 * own copies live at 200 and above). */
static int find_conn_fd(void) {
  struct stat st;
  int found = -1;

  for (int fd = 100; fd < 200; fd++)
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
      assert_int_equal(found, -1);
      found = fd;
    }
  assert_true(found >= 100);
  return found;
}

static void test_program_reuses_our_fd_number(void **state) {
  psock_sock *s;
  int cfd, p[2];
  char c;

  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  cfd = find_conn_fd();
  /* The program dup2()s a pipe over the library's number. */
  assert_int_equal(pipe(p), 0);
  assert_int_equal(dup2(p[1], cfd), cfd);
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(atomic_load(&fk.connections), 2);
  /* The number is the program's now: not closed, not written to. */
  assert_int_equal(write(cfd, "k", 1), 1);
  assert_int_equal(read(p[0], &c, 1), 1);
  assert_int_equal(c, 'k');
  close(cfd);
  close(p[0]);
  close(p[1]);

  /* A program that closed our fd gets a fresh connection too. */
  pc_conn_flush();
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  close(find_conn_fd());
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_non_null(s);
  psock_close(s);
  assert_int_equal(atomic_load(&fk.connections), 4);
}

#define STRESS_THREADS 6
#define STRESS_CALLS 100

static void *stress_thread(void *p) {
  int *failures = p;

  for (int i = 0; i < STRESS_CALLS; i++) {
    psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

    if (!s)
      (*failures)++;
    psock_close(s);
  }
  return NULL;
}

static void test_threads_share_the_pool(void **state) {
  int failures[STRESS_THREADS] = {0};
  pthread_t t[STRESS_THREADS];

  for (int i = 0; i < STRESS_THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, stress_thread, &failures[i]),
                     0);
  for (int i = 0; i < STRESS_THREADS; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(failures[i], 0);
  }
  assert_int_equal(atomic_load(&fk.socket_calls),
                   STRESS_THREADS * STRESS_CALLS);
  /* Connections are reused, not opened per call. */
  assert_true(atomic_load(&fk.connections) < STRESS_THREADS * STRESS_CALLS / 4);
}

/* ------------------------------------------------------------ identity */

/* In a child: a step that must hold, else exit with its number. */
#define CHILD_CHECK(step, cond)                                                \
  do {                                                                         \
    if (!(cond))                                                               \
      _exit(step);                                                             \
  } while (0)

/* Run fn in a child; its exit status (0: every step held). */
static int in_child(int (*fn)(void)) {
  int status;
  pid_t pid = fork();

  assert_true(pid >= 0);
  if (pid == 0)
    _exit(fn());
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* One call to the fake: a socket made and closed. */
static bool one_call(void) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  return s && psock_close(s) == 0;
}

/* Sockets among the library's fds (100..199): its open connections. */
static int library_conns(void) {
  struct stat st;
  int n = 0;

  for (int fd = 100; fd < 200; fd++)
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
      n++;
  return n;
}

static int change_identity_step_by_step(void) {
  gid_t one = 4242;

  /* Allowed twin: the same identity uses the same connection. */
  CHILD_CHECK(1, one_call() && one_call() && library_conns() == 1);
  CHILD_CHECK(2, setresuid((uid_t)-1, 0, (uid_t)-1) == 0); /* no change */
  CHILD_CHECK(3, one_call() && library_conns() == 1);
  /* Each change: the old connection closed, a new one opened. */
  CHILD_CHECK(4, setgroups(1, &one) == 0);
  CHILD_CHECK(5, one_call() && library_conns() == 1);
  CHILD_CHECK(6, setresgid((gid_t)-1, 65534, (gid_t)-1) == 0);
  CHILD_CHECK(7, one_call() && library_conns() == 1);
  CHILD_CHECK(8, setresuid((uid_t)-1, 65534, (uid_t)-1) == 0);
  CHILD_CHECK(9, one_call() && library_conns() == 1);
  /* Back to root (the saved uid): still a change, still a new one. */
  CHILD_CHECK(10, setresuid((uid_t)-1, 0, (uid_t)-1) == 0);
  CHILD_CHECK(11, one_call() && one_call() && library_conns() == 1);
  return 0;
}

static void test_identity_change_never_reuses_a_connection(void **state) {
  static const int uids[] = {0, 0, 0, 65534, 0};
  static const int gids[] = {0, 0, 65534, 65534, 65534};

  if (geteuid() != 0)
    skip();
  assert_int_equal(in_child(change_identity_step_by_step), 0);
  /* Five identities, five connections, each judged as it was opened. */
  assert_int_equal(atomic_load(&fk.connections), 5);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(atomic_load(&fk.accepted_uid[i]), uids[i]);
    assert_int_equal(atomic_load(&fk.accepted_gid[i]), gids[i]);
  }
  assert_int_equal(atomic_load(&fk.socket_calls), 8);
}

/* Effective uid nobody, real and saved uid root: a setuid program. */
static int call_as_setuid_nobody(void) {
  CHILD_CHECK(1, one_call());
  CHILD_CHECK(2, setresuid(0, 65534, 0) == 0);
  CHILD_CHECK(3, one_call());
  return 0;
}

static void test_requests_carry_the_effective_ids(void **state) {
  if (geteuid() != 0)
    skip();
  assert_int_equal(in_child(call_as_setuid_nobody), 0);
  /* The kernel's default credentials would say uid 0 (the real one). */
  assert_int_equal(atomic_load(&fk.last_peer_uid), 65534);
  assert_int_equal(atomic_load(&fk.last_cred_uid), 65534);
  assert_int_equal(atomic_load(&fk.last_cred_gid), (int)getegid());
  assert_true(atomic_load(&fk.last_cred_pid) != (int)getpid());
  /* And the parent, unchanged, still speaks as itself. */
  assert_true(one_call());
  assert_int_equal(atomic_load(&fk.last_cred_uid), 0);
  assert_int_equal(atomic_load(&fk.last_cred_pid), (int)getpid());
}

/* A thread with no capabilities and one uid and gid reads its identity
 * once (ident.c, "frozen") and sends no SCM_CREDENTIALS: the kernel's own
 * are its ids. A new user namespace renumbers them, and the kernel's
 * credentials still name the same user to psockd: the same connection
 * serves. An identity fixed with real and effective ids apart sends its
 * effective ids in SCM_CREDENTIALS, which the kernel refuses once a user
 * namespace renumbered them; the library reads them again instead of
 * failing. */
static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

  if (fd < 0)
    return -1;
  ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  return ok ? 0 : -1;
}

static int frozen_then_renumbered(void) {
  CHILD_CHECK(1, setgroups(0, NULL) == 0 &&
                     setresgid(65534, 65534, 65534) == 0 &&
                     setresuid(65534, 65534, 65534) == 0);
  /* Frozen now: the same connection for every call. */
  CHILD_CHECK(2, one_call() && one_call() && one_call());
  CHILD_CHECK(3, library_conns() == 1);
  /* Renumbered: uid 65534 is 0 in here, the kernel identity unchanged.
   * (Dumpable again: a uid change made /proc/self root's.) */
  CHILD_CHECK(8, prctl(PR_SET_DUMPABLE, 1) == 0);
  if (unshare(CLONE_NEWUSER) < 0)
    return 77;
  CHILD_CHECK(4, write_file("/proc/self/setgroups", "deny") == 0 &&
                     write_file("/proc/self/uid_map", "0 65534 1") == 0 &&
                     write_file("/proc/self/gid_map", "0 65534 1") == 0);
  CHILD_CHECK(5, geteuid() == 0);
  CHILD_CHECK(6, one_call() && one_call());
  CHILD_CHECK(7, library_conns() == 1);
  return 0;
}

static int fixed_then_renumbered(void) {
  CHILD_CHECK(1, setgroups(0, NULL) == 0 &&
                     setresgid(65534, 65534, 65534) == 0 &&
                     setresuid(65534, 65533, 65533) == 0);
  CHILD_CHECK(2, pc_conn_identity_fixed() == 0);
  CHILD_CHECK(3, one_call() && one_call() && library_conns() == 1);
  CHILD_CHECK(8, prctl(PR_SET_DUMPABLE, 1) == 0);
  if (unshare(CLONE_NEWUSER) < 0)
    return 77;
  CHILD_CHECK(4, write_file("/proc/self/setgroups", "deny") == 0 &&
                     write_file("/proc/self/uid_map", "0 65533 1") == 0 &&
                     write_file("/proc/self/gid_map", "0 65534 1") == 0);
  CHILD_CHECK(5, geteuid() == 0);
  CHILD_CHECK(6, one_call() && one_call());
  return 0;
}

/* A user namespace without maps: our ids have no number in it, so no
 * SCM_CREDENTIALS can name them; the kernel's own credentials go. */
static int unmapped_user_namespace(void) {
  CHILD_CHECK(1, setgroups(0, NULL) == 0 &&
                     setresgid(65534, 65534, 65534) == 0 &&
                     setresuid(65534, 65534, 65534) == 0);
  CHILD_CHECK(2, one_call());
  if (unshare(CLONE_NEWUSER) < 0)
    return 77;
  CHILD_CHECK(3, one_call() && one_call());
  return 0;
}

static void test_unmapped_user_namespace(void **state) {
  int status;

  if (geteuid() != 0)
    skip();
  status = in_child(unmapped_user_namespace);
  if (status == 77)
    skip();
  assert_int_equal(status, 0);
  assert_int_equal(atomic_load(&fk.socket_calls), 3);
  assert_int_equal(atomic_load(&fk.last_cred_uid), 65534);
  assert_int_equal(atomic_load(&fk.last_peer_uid), 65534);
}

static void test_frozen_identity_and_user_namespaces(void **state) {
  int status;

  if (geteuid() != 0)
    skip();
  status = in_child(frozen_then_renumbered);
  if (status == 77)
    skip();
  assert_int_equal(status, 0);
  /* Root's connection never opened (the drop came first): one as nobody,
   * kept across the renumbering, psockd seeing uid 65534 throughout. */
  assert_int_equal(atomic_load(&fk.connections), 1);
  assert_int_equal(atomic_load(&fk.accepted_uid[0]), 65534);
  assert_int_equal(atomic_load(&fk.last_cred_uid), 65534);
  assert_int_equal(atomic_load(&fk.last_cred_gid), 65534);
  assert_int_equal(atomic_load(&fk.socket_calls), 5);
  /* Fixed with the ids apart: refused after the renumbering, read again,
   * a new connection; psockd sees the effective uid 65533 throughout. */
  fake_stop(state);
  assert_int_equal(fake_start(state), 0);
  status = in_child(fixed_then_renumbered);
  if (status == 77)
    skip();
  assert_int_equal(status, 0);
  assert_int_equal(atomic_load(&fk.connections), 2);
  assert_int_equal(atomic_load(&fk.accepted_uid[0]), 65533);
  assert_int_equal(atomic_load(&fk.accepted_uid[1]), 65533);
  assert_int_equal(atomic_load(&fk.last_cred_uid), 65533);
  assert_int_equal(atomic_load(&fk.socket_calls), 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_wrong_protocol_version, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_socket_from_daemon, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_daemon_os_error, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_policy_refusal, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_fd_count_mismatch, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_reconnects_after_drop, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_daemon_timeout, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_child_after_fork_opens_its_own,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_program_reuses_our_fd_number,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_threads_share_the_pool, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(
          test_identity_change_never_reuses_a_connection, fake_start,
          fake_stop),
      cmocka_unit_test_setup_teardown(test_requests_carry_the_effective_ids,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_frozen_identity_and_user_namespaces,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_unmapped_user_namespace, fake_start,
                                      fake_stop),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
