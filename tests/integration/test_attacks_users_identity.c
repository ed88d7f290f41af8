/* SPDX-License-Identifier: MIT */
/*
 * Finding 9 of the security review (issue 13): each request is judged as
 * the process that sends it. The attacks, each performed for real against
 * a real psockd next to its allowed twin:
 *
 *   9a  a process makes one library call as root, drops to nobody, and asks
 *       again: judged as nobody, not as the root it was
 *   9b  a connection opened as root and kept across setresuid(): the next
 *       request on it is refused and the connection closed
 *   9c  nobody passes its connection to a process of uid 1000: refused on
 *       it, closed; nobody is served before and on a new one after
 *
 * The fixture and the users involved: attacks_users_common.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <linux/if_ether.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "attacks_users_common.h"
#include "wire.h"

/* Give up root for good, as a server dropping privileges does. */
static int become_nobody(void) {
  if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
      setresuid(NOBODY, NOBODY, NOBODY) < 0)
    return -1;
  return 0;
}

/* ================================================= 9: identity per request */

/*
 * Finding 9a. The attack: a process made one library call as root, then
 * dropped to nobody and, on the pooled connection, was still judged as
 * root (it got an AF_PACKET socket). Now the library opens a connection
 * as nobody: the policy refuses nobody AF_PACKET (EPERM, "denied by
 * policy"; the pooled root connection would have answered EACCES "belongs
 * to pid ...").
 */
static int client_setuid_library(void *arg) {
  psock_sock *s = psock_socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  int fd;

  /* Twin: as root, allowed. */
  CHECK(s != NULL);
  psock_close(s);
  CHECK(become_nobody() == 0);
  /* The process itself can no longer make one... */
  fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  CHECK(fd < 0 && errno == EPERM);
  /* ...nor through the connection it made as root. */
  s = psock_socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  CHECK(s == NULL);
  CHECK(harness_last_error(PSOCK_ERR_POLICY, EPERM, "denied by policy"));
  /* Twin: what nobody may have, it gets. */
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  psock_close(s);
  return 0;
}

static void test_9a_setuid_after_a_library_call(void **state) {
  run_as_root(client_setuid_library);
}

/*
 * Finding 9b. The attack: a connection opened as root and kept across
 * setresuid() to nobody. The request sent after it is refused (POLICY
 * EACCES naming the connection's owner, root) and the connection closed;
 * a connection nobody opens itself is served as nobody.
 */
static int client_setuid_raw(void *arg) {
  struct raw_socket_req q;
  Psock__V1__Response *r;
  char owner[64];
  int kind, code, fd, rc = raw_connect();

  CHECK(rc >= 0);
  fd = raw_socket(rc, AF_PACKET, SOCK_RAW, htons(ETH_P_ALL), &kind, &code);
  CHECK(fd >= 0); /* twin: root's own request */
  close(fd);
  snprintf(owner, sizeof(owner), "belongs to pid %d uid 0 ", (int)getpid());
  CHECK(become_nobody() == 0);
  raw_socket_request(&q, 77, AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  r = raw_call(rc, &q.req, NULL, 0, NULL, 0, NULL);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EACCES));
  CHECK(strstr(r->error->message, owner) != NULL);
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(raw_closed(rc));
  close(rc);
  /* Twin: a connection of its own, judged as nobody. */
  rc = raw_connect();
  CHECK(rc >= 0 && raw_served(rc, 2));
  fd = raw_socket(rc, AF_PACKET, SOCK_RAW, htons(ETH_P_ALL), &kind, &code);
  CHECK(fd < 0 && kind == PSOCK__V1__ERROR__KIND__POLICY_DENIED &&
        code == EPERM);
  close(rc);
  return 0;
}

static void test_9b_connection_kept_across_setuid(void **state) {
  run_as_root(client_setuid_raw);
  harness_assert_logged(fx.psockd, "uid 0 gid 0: refused, closing", 1, 3000);
}

/* An abstract name for the connection passed in 9c, made of the test
 * process's pid. */
static void lend_address(struct sockaddr_un *sun, socklen_t *len) {
  *sun = (struct sockaddr_un){.sun_family = AF_UNIX};
  snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1,
           "psock-attacks-lend-%d", (int)fx.sh->pids[0]);
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                     strlen(sun->sun_path + 1));
}

/* 9c, nobody's side: lend the connection, keep using it until psockd
 * closes it, then open one of its own. */
static int client_lender(void *arg) {
  struct shared *sh = fx.sh;
  struct sockaddr_un sun;
  socklen_t len;
  int rc = raw_connect(), u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool connected = false;

  CHECK(rc >= 0 && u >= 0 && raw_served(rc, 2));
  sh->pid = getpid();
  lend_address(&sun, &len);
  for (int i = 0; i < 500 && !connected; i++)
    if (!(connected = connect(u, (struct sockaddr *)&sun, len) == 0))
      usleep(10000);
  CHECK(connected);
  CHECK(wire_send_packet(u, "c", 1, &rc, 1, 0) == 0);
  CHECK(raw_served(rc, 3)); /* twin: still ours */
  sh->phase = 1;
  CHECK(harness_wait_flag(&sh->phase, 2, 10000));
  CHECK(raw_closed(rc));
  close(rc);
  close(u);
  rc = raw_connect();
  CHECK(rc >= 0 && raw_served(rc, 2));
  close(rc);
  return 0;
}

/* 9c, uid 1000's side: use the borrowed connection. */
static int client_borrower(void *arg) {
  struct shared *sh = fx.sh;
  struct raw_socket_req q;
  Psock__V1__Response *r;
  struct sockaddr_un sun;
  struct pollfd p;
  socklen_t len;
  size_t nfds = 0;
  char owner[64], c;
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), a, rc = -1;

  lend_address(&sun, &len);
  CHECK(l >= 0 && bind(l, (struct sockaddr *)&sun, len) == 0);
  CHECK(listen(l, 1) == 0);
  p = (struct pollfd){.fd = l, .events = POLLIN};
  CHECK(poll(&p, 1, 10000) == 1);
  CHECK((a = accept4(l, NULL, NULL, SOCK_CLOEXEC)) >= 0);
  CHECK(wire_recv_packet(a, &c, 1, &rc, 1, &nfds, 0) == 1 && nfds == 1);
  CHECK(harness_wait_flag(&sh->phase, 1, 10000));
  raw_socket_request(&q, 99, AF_INET, SOCK_STREAM, 0);
  r = raw_call(rc, &q.req, NULL, 0, NULL, 0, NULL);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EACCES));
  snprintf(owner, sizeof(owner), "belongs to pid %d uid %u ", (int)sh->pid,
           NOBODY);
  CHECK(strstr(r->error->message, owner) != NULL);
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(raw_closed(rc));
  sh->phase = 2;
  close(rc);
  close(a);
  close(l);
  return 0;
}

/*
 * Finding 9c. The attack: nobody passes its psockd connection (SCM_RIGHTS)
 * to a process of uid 1000, which asks on it and would be judged as
 * nobody. Refused (EACCES naming nobody's process) and the connection
 * closed; nobody used it before and uses a new one after.
 */
static void test_9c_connection_passed_to_another_user(void **state) {
  pid_t lender;

  users_reset_shared();
  fx.sh->pids[0] = getpid();
  lender = users_bg_start(NOBODY, 0, client_lender);
  run_as_other(client_borrower);
  users_bg_join(lender, "client_lender as nobody");
  harness_assert_logged(fx.psockd, "uid 1000 gid 1000 on the connection of pid",
                        1, 3000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_9a_setuid_after_a_library_call),
      cmocka_unit_test(test_9b_connection_kept_across_setuid),
      cmocka_unit_test(test_9c_connection_passed_to_another_user),
  };

  return cmocka_run_group_tests_name("attacks-users-identity", tests,
                                     users_setup, users_teardown);
}
