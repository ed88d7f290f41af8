/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for daemon/identity.c: the kernel's view of a peer through a
 * socketpair to ourselves, a peer that is gone by the time we look (refused,
 * not judged without its unit), and the systemd unit found in sample
 * /proc/PID/cgroup texts, including the forgeries it must not believe.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "identity.h"

static int cmp_gid(const void *a, const void *b) {
  gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

  return x < y ? -1 : x > y;
}

static void test_socketpair_self(void **state) {
  struct identity id;
  struct policy_subject s;
  gid_t mine[IDENTITY_MAX_GROUPS];
  char unit[IDENTITY_UNIT_MAX], text[16384];
  int sv[2], n;
  FILE *f;
  size_t len;

  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(identity_from_socket(sv[0], &id), 0);
  assert_int_equal(id.uid, getuid());
  assert_int_equal(id.gid, getgid());
  assert_int_equal(id.pid, getpid());
  assert_int_equal(id.unit_unknown, 0);

  n = getgroups(IDENTITY_MAX_GROUPS, mine);
  assert_true(n >= 0);
  qsort(mine, (size_t)n, sizeof(gid_t), cmp_gid);
  assert_int_equal(id.n_groups, (size_t)n);
  assert_memory_equal(id.groups, mine, (size_t)n * sizeof(gid_t));

  /* The unit is what our own cgroup file says. */
  f = fopen("/proc/self/cgroup", "re");
  assert_non_null(f);
  len = fread(text, 1, sizeof(text) - 1, f);
  text[len] = '\0';
  fclose(f);
  assert_int_equal(identity_unit_from_cgroup(text, unit, sizeof(unit)), 0);
  assert_string_equal(id.unit, unit);

  identity_to_subject(&id, &s);
  assert_int_equal(s.uid, id.uid);
  assert_ptr_equal(s.groups, (const gid_t *)id.groups);
  assert_true(unit[0] ? s.unit == id.unit : s.unit == NULL);
  assert_false(s.unit_unknown);
  close(sv[0]);
  close(sv[1]);
}

static void test_not_a_socket(void **state) {
  struct identity id = {.uid = 4242};
  int fds[2];

  assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
  assert_int_equal(identity_from_socket(fds[0], &id), -ENOTSOCK);
  assert_int_equal(id.uid, 4242); /* untouched on failure */
  close(fds[0]);
  close(fds[1]);
}

/* A peer that connected and was reaped before we looked: its pid may be
 * anyone's now, so it must be refused rather than lend a unit. */
static void test_peer_gone(void **state) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  struct identity id = {.uid = 4242};
  int lfd, cfd, status;
  pid_t pid;

  /* Abstract address: nothing to clean up. */
  snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "psock-test-id-%d",
           (int)getpid());
  lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(lfd >= 0);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(lfd, 1), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    _exit(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : 1);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  assert_true(cfd >= 0);
  assert_int_equal(identity_from_socket(cfd, &id), -ESRCH);
  assert_int_equal(id.uid, 4242);
  close(cfd);
  close(lfd);
}

/*
 * A peer whose pid psockd cannot see (it runs in a pid namespace that is
 * not below psockd's) has pid 0 and an unknown unit, which the policy
 * treats as matching every unit= deny rule. Here the roles are reversed:
 * the child is in a new pid namespace and its peer (this process) is
 * outside it.
 */
static void test_peer_in_other_pid_namespace(void **state) {
  int sv[2], status;
  pid_t pid;

  if (getuid() != 0) {
    skip(); /* unshare(CLONE_NEWPID) needs root */
    return;
  }
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  /* The unshare happens in a child: the test process itself must stay in
   * its namespace (LeakSanitizer stops it from a child at exit). */
  pid = fork();
  if (pid == 0) {
    pid_t inner;
    int st;

    if (unshare(CLONE_NEWPID) < 0)
      _exit(3);
    inner = fork();
    if (inner == 0) {
      struct identity id;
      struct policy_subject s;

      if (identity_from_socket(sv[1], &id) < 0)
        _exit(1);
      identity_to_subject(&id, &s);
      _exit(id.pid == 0 && id.unit_unknown && s.unit_unknown ? 0 : 2);
    }
    if (inner < 0 || waitpid(inner, &st, 0) != inner || !WIFEXITED(st))
      _exit(4);
    _exit(WEXITSTATUS(st));
  }
  assert_true(pid > 0);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  close(sv[0]);
  close(sv[1]);
}

static void test_same_subject(void **state) {
  struct identity a = {
      .uid = 1000, .gid = 1000, .pid = 10, .n_groups = 2, .groups = {27, 100}};
  struct identity b = a;

  strcpy(a.unit, "app.service");
  strcpy(b.unit, "app.service");
  b.pid = 11; /* the pid is not part of the subject */
  assert_true(identity_same_subject(&a, &b));
  b.groups[1] = 101;
  assert_false(identity_same_subject(&a, &b));
  b = a;
  b.gid = 1001;
  assert_false(identity_same_subject(&a, &b));
  b = a;
  strcpy(b.unit, "other.service");
  assert_false(identity_same_subject(&a, &b));
  b = a;
  b.unit_unknown = 1;
  assert_false(identity_same_subject(&a, &b));
}

static void test_sanitize(void **state) {
  struct identity id;

  memset(&id, 'x', sizeof(id));
  id.n_groups = 100000;
  id.unit_unknown = 7;
  identity_sanitize(&id);
  assert_int_equal(id.n_groups, IDENTITY_MAX_GROUPS);
  assert_int_equal(id.unit_unknown, 1);
  assert_true(strlen(id.unit) < sizeof(id.unit));
}

struct unit_case {
  const char *text;
  int ret;
  const char *unit;
};

static void test_unit_from_cgroup(void **state) {
  static const struct unit_case cases[] = {
      {"0::/system.slice/foo.service\n", 0, "foo.service"},
      {"0::/system.slice/foo.service", 0, "foo.service"}, /* no newline */
      {"0::/system.slice/system-app.slice/app@web.service\n", 0,
       "app@web.service"},
      {"0::/system.slice/cups.socket\n", 0, "cups.socket"},
      {"0::/init.scope\n", 0, "init.scope"},
      /* A login session's scope belongs to the system manager. */
      {"0::/user.slice/user-1000.slice/session-2.scope\n", 0,
       "session-2.scope"},
      /* A user's unit is qualified by its user manager. */
      {"0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
       "x.service\n",
       0, "user@1000.service/x.service"},
      {"0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", 0,
       "user@1000.service/init.scope"},
      {"0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
       "app-gnome-firefox-123.scope/tab\n",
       0, "user@1000.service/app-gnome-firefox-123.scope"},
      {"0::/user.slice/user-1000.slice/user@1000.service\n", 0,
       "user@1000.service"},
      /* Sub-cgroups of a delegated unit are named by the unit: ignored. */
      {"0::/system.slice/foo.service/payload/sshd.service\n", 0, "foo.service"},
      {"0::/system.slice/foo.service/sshd.service\n", 0, "foo.service"},
      /* systemd's escaping of names that look like controller files. */
      {"0::/system.slice/_cpu.service\n", 0, "cpu.service"},
      /* In no unit. */
      {"0::/\n", 0, ""},
      {"0::/system.slice\n", 0, ""},
      {"0::/docker/0123abcd\n", 0, ""},
      /* Hybrid: the v2 line wins over the v1 ones. */
      {"12:pids:/system.slice/a.service\n1:name=systemd:/system.slice/"
       "b.service\n0::/system.slice/c.service\n",
       0, "c.service"},
      /* Legacy v1: systemd's named hierarchy. */
      {"5:memory:/system.slice/a.service\n1:name=systemd:/system.slice/"
       "b.service\n",
       0, "b.service"},
      /* A controller line that merely contains "0::" is not the v2 line. */
      {"10::/system.slice/evil.service\n0::/system.slice/real.service\n", 0,
       "real.service"},
      /* Outside our cgroup namespace: cannot tell. */
      {"0::/../../system.slice/foo.service\n", -EINVAL, ""},
      {"", -EINVAL, ""},
      {"garbage\n", -EINVAL, ""},
      {"0::\n", -EINVAL, ""},
      {"0::system.slice/foo.service\n", -EINVAL, ""},
  };
  char out[IDENTITY_UNIT_MAX];

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    memset(out, 'X', sizeof(out));
    assert_int_equal(identity_unit_from_cgroup(cases[i].text, out, sizeof(out)),
                     cases[i].ret);
    assert_string_equal(out, cases[i].unit);
  }
}

static void test_unit_too_long(void **state) {
  char out[12];

  assert_int_equal(identity_unit_from_cgroup("0::/a.service\n", out, 10), 0);
  assert_string_equal(out, "a.service");
  assert_int_equal(identity_unit_from_cgroup("0::/ab.service\n", out, 10),
                   -ENAMETOOLONG);
  assert_string_equal(out, "");
  assert_int_equal(
      identity_unit_from_cgroup("0::/user.slice/user@1.service/x.service\n",
                                out, sizeof(out)),
      -ENAMETOOLONG);
  assert_string_equal(out, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_socketpair_self),
      cmocka_unit_test(test_not_a_socket),
      cmocka_unit_test(test_peer_gone),
      cmocka_unit_test(test_peer_in_other_pid_namespace),
      cmocka_unit_test(test_same_subject),
      cmocka_unit_test(test_sanitize),
      cmocka_unit_test(test_unit_from_cgroup),
      cmocka_unit_test(test_unit_too_long),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
