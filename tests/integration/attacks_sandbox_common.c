/* SPDX-License-Identifier: MIT */
/*
 * The fixture and helpers of the sandbox attack tests (see
 * attacks_sandbox_common.h). Runs as root in the test programs; the
 * small socket tools without cmocka asserts also run in clients.
 */
#include "attacks_sandbox_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

/* The policy files of the tests' own psockd live here, one at a time. */
#define POLICY_DIR_TEMPLATE "/tmp/psock-attack-policy.XXXXXX"

struct sandbox_fixture fx;

static char policy_dir[sizeof(POLICY_DIR_TEMPLATE)];

/* ------------------------------------------------ psockd with a policy */

struct psockd_proc *sandbox_start_with_policy(int flags, const char *rules,
                                              bool with_default) {
  char arg[sizeof(fx.policy) + 16];
  const char *args[] = {arg, NULL};
  struct psockd_proc *p;

  harness_write_policy(fx.policy, rules, with_default);
  snprintf(arg, sizeof(arg), "--policy=%s", fx.policy);
  p = harness_start_psockd_flags(flags, args);
  fx.watched = p;
  return p;
}

void sandbox_stop_own(struct psockd_proc *p) {
  fx.watched = fx.psockd;
  harness_stop_own_psockd(p, fx.psockd);
}

/* --------------------------------------------------- raw requests by hand */

bool refused(Psock__V1__Response *r, int kind, int code) {
  bool ok = raw_is_error(r, kind, code);

  if (r)
    psock__v1__response__free_unpacked(r, NULL);
  return ok;
}

bool has_result(Psock__V1__Response *r, int result_case) {
  bool ok = raw_is_result(r, result_case);

  if (r)
    psock__v1__response__free_unpacked(r, NULL);
  return ok;
}

/* ----------------------------------------------------- small socket tools */

socklen_t abstract_sockaddr(struct sockaddr_un *sun, const char *name) {
  memset(sun, 0, sizeof(*sun));
  sun->sun_family = AF_UNIX;
  memcpy(sun->sun_path + 1, name, strlen(name));
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

int abstract_listen(const char *name, int type, int flags) {
  struct sockaddr_un sun;
  socklen_t len = abstract_sockaddr(&sun, name);
  int fd = socket(AF_UNIX, type | flags | SOCK_CLOEXEC, 0);

  if (fd < 0 || bind(fd, (struct sockaddr *)&sun, len) < 0 ||
      listen(fd, 8) < 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

int abstract_connect(int fd, const char *name) {
  struct sockaddr_un sun;
  socklen_t len = abstract_sockaddr(&sun, name);

  return connect(fd, (struct sockaddr *)&sun, len);
}

struct sockaddr_in loopback(uint16_t port) {
  return (struct sockaddr_in){.sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

int pending_connections(int listen_fd) {
  int n = 0, c;

  while ((c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
    close(c);
    n++;
  }
  assert_int_equal(errno, EAGAIN);
  return n;
}

uid_t owner_of(int fd) {
  struct stat st;

  return fstat(fd, &st) < 0 ? (uid_t)-1 : st.st_uid;
}

/* ---------------------------------------------------------------- setup */

int sandbox_setup(void **state) {
  int pid = (int)getpid();

  snprintf(fx.name_host, sizeof(fx.name_host), "psock-attack-%d-host", pid);
  snprintf(fx.name_ok, sizeof(fx.name_ok), "psock-attack-%d-ok", pid);
  snprintf(fx.pattern_ok, sizeof(fx.pattern_ok), "psock-attack-%d-ok*", pid);
  snprintf(fx.name_squat, sizeof(fx.name_squat), "psock-attack-%d-squat", pid);
  snprintf(fx.name_fdpass, sizeof(fx.name_fdpass), "psock-attack-%d-fdpass",
           pid);
  memcpy(policy_dir, POLICY_DIR_TEMPLATE, sizeof(policy_dir));
  assert_non_null(mkdtemp(policy_dir));
  assert_int_equal(chmod(policy_dir, 0755), 0);
  snprintf(fx.policy, sizeof(fx.policy), "%s/policy.conf", policy_dir);
  fx.psockd = harness_start_psockd(NULL);
  fx.watched = fx.psockd;
  return 0;
}

int sandbox_use_default_psockd(void **state) {
  fx.watched = fx.psockd;
  assert_int_equal(setenv("PSOCK_SOCKET", harness_psockd_socket(fx.psockd), 1),
                   0);
  return 0;
}

int sandbox_teardown(void **state) {
  harness_stop_psockd(fx.psockd);
  unlink(fx.policy);
  rmdir(policy_dir);
  return 0;
}
