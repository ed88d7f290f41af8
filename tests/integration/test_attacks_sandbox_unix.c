/* SPDX-License-Identifier: MIT */
/*
 * Finding 1 of the security review (issue 13), from a sandbox: AF_UNIX
 * sockets and the host's abstract names through psockd. psockd makes no
 * AF_UNIX socket for a client but root; from an empty network namespace a
 * client can neither reach nor squat the host's abstract names, by hand or
 * through the library. The allowed twins: a client's own socketpair, and a
 * name a rule names, connected on a new socket made as the client, whose
 * server sees the client's credentials, not psockd's (finding 5).
 *
 * The fixture and the psockd of each test: attacks_sandbox_common.h.
 */
#include <errno.h>
#include <signal.h>
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

#include "attacks_sandbox_common.h"

/* psockd makes no AF_UNIX socket or socketpair for nobody. */
static int client_unix_socket_refused(void *arg) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketpairRequest sp = PSOCK__V1__SOCKETPAIR_REQUEST__INIT;
  Psock__V1__Response *r;
  int conn = raw_connect(), kind, code, got = -1;
  size_t nfds = 0;

  CHECK(conn >= 0);
  CHECK(raw_socket(conn, AF_UNIX, SOCK_STREAM, 0, &kind, &code) < 0);
  CHECK(kind == KIND_POLICY && code == EPERM);
  CHECK(raw_socket(conn, AF_UNIX, SOCK_DGRAM, 0, &kind, &code) < 0);
  CHECK(kind == KIND_POLICY && code == EPERM);
  sp.family = AF_UNIX;
  sp.type = SOCK_STREAM;
  req.call_case = PSOCK__V1__REQUEST__CALL_SOCKETPAIR;
  req.socketpair = &sp;
  r = raw_call_fd(conn, &req, -1, &got, &nfds);
  CHECK(nfds == 0);
  CHECK(strstr(raw_error_message(r), "AF_UNIX is the client's own") != NULL);
  CHECK(refused(r, KIND_POLICY, EPERM));
  close(conn);
  return 0;
}

/* Twin: root still gets one; nobody makes its own. */
static int client_unix_socket_root(void *arg) {
  int conn = raw_connect(), kind, code, fd, domain = 0;
  socklen_t len = sizeof(domain);

  CHECK(conn >= 0);
  fd = raw_socket(conn, AF_UNIX, SOCK_STREAM, 0, &kind, &code);
  CHECK(fd >= 0);
  CHECK(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0);
  CHECK(domain == AF_UNIX);
  close(fd);
  close(conn);
  return 0;
}

static int client_unix_socket_own(void *arg) {
  psock_sock *a = NULL, *b = NULL;
  char buf[4];

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  CHECK(psock_send(a, "own", 3, 0) == 3);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 3 && memcmp(buf, "own", 3) == 0);
  psock_close(a);
  psock_close(b);
  return 0;
}

static void test_f1_unix_sockets_only_for_root(void **state) {
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_unix_socket_refused, NULL);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_unix_socket_own, NULL);
  AS_ROOT(HARNESS_EMPTY_NETNS, client_unix_socket_root, NULL);
}

/*
 * Through the library, with abstract names sent to psockd
 * (PSOCK_ROUTE=daemon): an AF_UNIX stream socket, and the address of name
 * in *ret_addr. NULL on failure.
 */
static psock_sock *routed_unix_socket(const char *name,
                                      psock_address *ret_addr) {
  if (setenv("PSOCK_ROUTE", "daemon", 1) < 0 ||
      psock_addr_unix_abstract(ret_addr, name, strlen(name)) < 0)
    return NULL;
  return psock_socket(AF_UNIX, SOCK_STREAM, 0);
}

/*
 * The attack: from an empty netns, reach (connect) and squat (bind) the
 * host's abstract names through psockd, with a socket of nobody's own, by
 * hand and through the library (PSOCK_ROUTE=daemon sends abstract names to
 * psockd). The default policy names no abstract address.
 */
static int client_host_abstract_refused(void *arg) {
  int conn = raw_connect(), own, got = -1;
  psock_address a;
  psock_sock *s;
  size_t nfds = 0;
  Psock__V1__Response *r;

  CHECK(conn >= 0);
  own = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(own >= 0);
  /* By itself the sandbox cannot: its netns has no such name. */
  CHECK(abstract_connect(own, fx.name_host) < 0 && errno == ECONNREFUSED);
  r = raw_abstract_call(conn, own, false, fx.name_host, &got, &nfds);
  CHECK(nfds == 0);
  CHECK(strstr(raw_error_message(r), "no rule matched") != NULL);
  CHECK(refused(r, KIND_POLICY, EACCES));
  r = raw_abstract_call(conn, own, true, fx.name_squat, &got, &nfds);
  CHECK(nfds == 0);
  CHECK(refused(r, KIND_POLICY, EACCES));
  close(own);
  close(conn);

  s = routed_unix_socket(fx.name_host, &a);
  CHECK(s != NULL);
  CHECK(psock_connect(s, &a) == -1);
  CHECK(harness_last_error(PSOCK_ERR_POLICY, EACCES, NULL));
  psock_close(s);
  return 0;
}

static void test_f1_host_abstract_names_refused(void **state) {
  int listener = abstract_listen(fx.name_host, SOCK_STREAM, SOCK_NONBLOCK);
  int squat;

  assert_true(listener >= 0);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_host_abstract_refused, NULL);
  /* The host's server never saw a connection... */
  assert_int_equal(pending_connections(listener), 0);
  close(listener);
  /* ...and its name was not squatted: the host can still take it. */
  squat = abstract_listen(fx.name_squat, SOCK_STREAM, 0);
  assert_true(squat >= 0);
  close(squat);
  assert_log_has(fx.psockd, "no rule matched");
}

/* A server on the host: answers "hello" with the peer's SO_PEERCRED. */
struct peer_seen {
  int count;
  struct ucred cred[4];
};

static _Noreturn void peer_serve(int listen_fd, struct peer_seen *seen) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (;;) {
    int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    struct timeval tv = {.tv_sec = 5};
    struct ucred cr;
    socklen_t len = sizeof(cr);
    char buf[64], out[64];

    if (c < 0)
      continue;
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
        seen->count < 4)
      seen->cred[seen->count++] = cr;
    if (recv(c, buf, sizeof(buf), 0) == 5 && memcmp(buf, "hello", 5) == 0) {
      int n = snprintf(out, sizeof(out), "uid=%u gid=%u", (unsigned)cr.uid,
                       (unsigned)cr.gid);
      send(c, out, (size_t)n, MSG_NOSIGNAL);
    }
    close(c);
  }
}

/* Say hello on fd; the server must answer that it sees nobody. */
static int hello_seen_as_nobody(int fd) {
  static const char want[] = "uid=65534 gid=65534";
  char buf[64] = {0};
  struct timeval tv = {.tv_sec = 5};

  CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
  CHECK(send(fd, "hello", 5, MSG_NOSIGNAL) == 5);
  CHECK(recv(fd, buf, sizeof(buf) - 1, 0) == (ssize_t)strlen(want));
  CHECK(strcmp(buf, want) == 0);
  return 0;
}

/* Twin: where a rule names the address, psockd connects it, on a new
 * socket it sends back in place of the client's, made as nobody. */
static int client_named_abstract_allowed(void *arg) {
  int conn = raw_connect(), own, got = -1, r2;
  psock_address a;
  psock_sock *s;
  size_t nfds = 0;
  Psock__V1__Response *r;

  CHECK(conn >= 0);
  own = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(own >= 0);
  r = raw_abstract_call(conn, own, false, fx.name_ok, &got, &nfds);
  CHECK(raw_is_result(r, PSOCK__V1__RESPONSE__RESULT_CONNECT));
  CHECK(r->connect->has_replaced && r->connect->replaced);
  CHECK(r->connect->status == 0);
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(nfds == 1 && got >= 0);
  CHECK(owner_of(got) == HARNESS_NOBODY_UID);
  r2 = hello_seen_as_nobody(got);
  CHECK(r2 == 0);
  close(got);
  /* The rule's glob names -ok*, not the host's other names. */
  r = raw_abstract_call(conn, own, false, fx.name_host, &got, &nfds);
  CHECK(nfds == 0);
  CHECK(refused(r, KIND_POLICY, EACCES));
  close(own);
  close(conn);

  /* The library puts the new socket on the program's fd number. */
  s = routed_unix_socket(fx.name_ok, &a);
  CHECK(s != NULL);
  own = psock_fileno(s);
  CHECK(psock_connect(s, &a) == 0);
  CHECK(psock_fileno(s) == own);
  r2 = hello_seen_as_nobody(own);
  CHECK(r2 == 0);
  psock_close(s);
  return 0;
}

static void test_f1_f5_named_abstract_name_allowed(void **state) {
  struct peer_seen *seen = harness_shared_memory(sizeof(*seen));
  char rule[160];
  struct psockd_proc *p;
  int listener, status;
  pid_t server;

  listener = abstract_listen(fx.name_ok, SOCK_STREAM, 0);
  assert_true(listener >= 0);
  fflush(NULL);
  server = fork();
  assert_true(server >= 0);
  if (server == 0)
    peer_serve(listener, seen);
  close(listener);
  snprintf(rule, sizeof(rule), "allow uid=65534 connect family=unix addr=@%s\n",
           fx.pattern_ok);
  p = sandbox_start_with_policy(0, rule, true);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_named_abstract_allowed, NULL);
  sandbox_stop_own(p);
  kill(server, SIGKILL);
  waitpid(server, &status, 0);
  /* Finding 5: the server reached through psockd sees nobody, not psockd
   * and not root. */
  assert_int_equal(seen->count, 2);
  for (int i = 0; i < seen->count; i++) {
    assert_int_equal(seen->cred[i].uid, HARNESS_NOBODY_UID);
    assert_int_equal(seen->cred[i].gid, HARNESS_NOBODY_GID);
  }
  munmap(seen, sizeof(*seen));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      sandbox_test(test_f1_unix_sockets_only_for_root),
      sandbox_test(test_f1_host_abstract_names_refused),
      sandbox_test(test_f1_f5_named_abstract_name_allowed),
  };

  return cmocka_run_group_tests(tests, sandbox_setup, sandbox_teardown);
}
