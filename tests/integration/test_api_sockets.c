/* SPDX-License-Identifier: MIT */
/*
 * API coverage, socket objects: socket() and its attributes (family, type,
 * proto, fileno, close), bind, listen, accept, getsockname, getpeername,
 * shutdown, getsockopt with and without buflen, setsockopt with an integer
 * and with a buffer, on sockets from a real psockd, the client running as
 * nobody. Each allowed case has its refused twin next to it.
 *
 * Client functions (client_*) run in a forked child: CHECK(), never
 * cmocka's assert_*.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "api_common.h"

static struct { struct psockd_proc *psockd; } fx;

static bool fd_flag(int fd, int cmd, int flag) {
  int fl = fcntl(fd, cmd);

  return fl >= 0 && (fl & flag);
}

/* ------------------------------------------------------------- socket() */

static int client_socket_attributes(void *arg) {
  psock_sock *s, *n;
  int fd, v = 0;

  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL && psock_fileno(s) >= 0);
  CHECK(psock_family(s) == AF_INET && psock_type(s) == SOCK_STREAM);
  CHECK(psock_proto(s) == 0);
  /* Blocking mode, inheritable, as socket(2) without flags. */
  CHECK(psock_gettimeout(s) == PSOCK_TIMEOUT_NONE);
  CHECK(!fd_flag(psock_fileno(s), F_GETFL, O_NONBLOCK));
  CHECK(!fd_flag(psock_fileno(s), F_GETFD, FD_CLOEXEC));
  CHECK(psock_getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v) == 0 && v == AF_INET);

  n = psock_socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   IPPROTO_UDP);
  CHECK(n != NULL);
  CHECK(psock_family(n) == AF_INET6 && psock_type(n) == SOCK_DGRAM);
  CHECK(psock_proto(n) == IPPROTO_UDP);
  CHECK(psock_gettimeout(n) == 0.0);
  CHECK(fd_flag(psock_fileno(n), F_GETFL, O_NONBLOCK));
  CHECK(fd_flag(psock_fileno(n), F_GETFD, FD_CLOEXEC));
  CHECK(psock_getsockopt(n, SOL_SOCKET, SO_PROTOCOL, &v) == 0);
  CHECK(v == IPPROTO_UDP);

  /* close() releases the fd. */
  fd = psock_fileno(s);
  CHECK(psock_close(s) == 0);
  CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
  CHECK(psock_close(n) == 0);
  CHECK(psock_fileno(NULL) == -1);
  return 0;
}

static int client_socket_refused(void *arg) {
  /* The kernel's refusal (an AF_UNIX socket is the client's own) ... */
  CHECK(psock_socket(AF_UNIX, SOCK_STREAM, 5) == NULL);
  CHECK(api_is_os_error(EPROTONOSUPPORT));
  /* ... and psockd's own: raw TCP is not in the default policy, refused
   * with the kernel's errno for a missing CAP_NET_RAW. */
  errno = 0;
  CHECK(psock_socket(AF_INET, SOCK_RAW, IPPROTO_TCP) == NULL);
  CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
  CHECK(psock_last_error_code() == EPERM && errno == EPERM);
  CHECK(psock_last_error_message()[0] != '\0');
  return 0;
}

static void test_socket_attributes_and_close(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_socket_attributes, NULL);
}

static void test_socket_refused_by_kernel_or_policy(void **state) {
  assert_as_nobody(0, client_socket_refused, NULL);
}

/* -------------------------------------------------- bind, getsockname */

static int client_bind(void *arg) {
  psock_address a, name;
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);

  CHECK(s && psock_addr_inet(&a, "127.0.0.1", 0) == 0);
  CHECK(psock_getsockname(s, &name) == 0 && name.u.in.port == 0);
  CHECK(psock_bind(s, &a) == 0);
  CHECK(psock_getsockname(s, &name) == 0);
  CHECK(name.family == AF_INET && strcmp(name.u.in.host, "127.0.0.1") == 0);
  CHECK(name.u.in.port != 0);
  psock_close(s);
  return 0;
}

static int client_bind_twice(void *arg) {
  psock_address a;
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);

  /* The seed: a bound socket cannot be bound again. */
  CHECK(s && psock_addr_inet(&a, "127.0.0.1", 0) == 0);
  CHECK(psock_bind(s, &a) == 0);
  CHECK(psock_bind(s, &a) == -1);
  CHECK(api_is_os_error(EINVAL));
  psock_close(s);
  return 0;
}

static void test_bind_then_getsockname(void **state) {
  assert_as_nobody(0, client_bind, NULL);
}

static void test_bind_twice_refused(void **state) {
  assert_as_nobody(0, client_bind_twice, NULL);
}

/* ---------------------------------------------------- listen, accept */

static int client_listen_accept(void *arg) {
  psock_address any, name, peer, cname;
  psock_sock *srv, *cli, *conn;

  srv = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(srv && psock_addr_inet(&any, "127.0.0.1", 0) == 0);
  CHECK(psock_bind(srv, &any) == 0 && psock_getsockname(srv, &name) == 0);
  /* The seed: a negative backlog is forced to 0. */
  CHECK(psock_listen(srv, -5) == 0);
  cli = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(cli && psock_connect(cli, &name) == 0);
  conn = psock_accept(srv, &peer);
  CHECK(conn != NULL && psock_fileno(conn) != psock_fileno(srv));
  CHECK(psock_family(conn) == AF_INET && psock_type(conn) == SOCK_STREAM);
  CHECK(psock_getsockname(cli, &cname) == 0);
  CHECK(peer.family == AF_INET && peer.u.in.port == cname.u.in.port);
  CHECK(psock_send(cli, "hi", 2, 0) == 2);
  CHECK(psock_recv(conn, &name, 2, 0) == 2);
  psock_close(conn);
  psock_close(cli);
  psock_close(srv);
  return 0;
}

static int client_listen_udp(void *arg) {
  psock_address name;
  psock_sock *u = api_bound_udp(AF_INET, "127.0.0.1", &name);

  CHECK(u != NULL);
  CHECK(psock_listen(u, 1) == -1);
  CHECK(api_is_os_error(EOPNOTSUPP));
  CHECK(psock_accept(u, NULL) == NULL);
  CHECK(api_is_os_error(EOPNOTSUPP));
  psock_close(u);
  return 0;
}

/*
 * Once close() returns, a listener is gone, as natively: nothing psockd
 * still held keeps completing handshakes. Many rounds, since a copy closed
 * late would show only in a narrow window.
 */
static int client_closed_listener_refuses(void *arg) {
  for (int i = 0; i < 100; i++) {
    psock_address name;
    psock_sock *srv = api_listen_tcp(AF_INET, "127.0.0.1", 1, &name);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(name.u.in.port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd, r, e;

    CHECK(srv != NULL);
    CHECK(psock_close(srv) == 0);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
    e = errno;
    close(fd);
    if (r == 0 || e != ECONNREFUSED) {
      fprintf(stderr, "round %d: connect to a closed listener: %s\n", i,
              r == 0 ? "accepted" : strerror(e));
      return 1;
    }
  }
  return 0;
}

static void test_listen_and_accept(void **state) {
  assert_as_nobody(0, client_listen_accept, NULL);
}

static void test_closed_listener_refuses_at_once(void **state) {
  assert_as_nobody(0, client_closed_listener_refuses, NULL);
}

static void test_listen_on_datagram_socket_refused(void **state) {
  assert_as_nobody(0, client_listen_udp, NULL);
}

/* ------------------------------------------------ getpeername, shutdown */

static int connected_pair(psock_sock **ret_cli, psock_sock **ret_conn) {
  psock_address name;
  psock_sock *srv = api_listen_tcp(AF_INET, "127.0.0.1", 1, &name);

  CHECK(srv != NULL);
  *ret_cli = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(*ret_cli && psock_connect(*ret_cli, &name) == 0);
  *ret_conn = psock_accept(srv, NULL);
  CHECK(*ret_conn != NULL);
  psock_close(srv);
  return 0;
}

static int client_getpeername(void *arg) {
  psock_address peer, name;
  psock_sock *cli, *conn;

  CHECK(connected_pair(&cli, &conn) == 0);
  CHECK(psock_getpeername(cli, &peer) == 0);
  CHECK(psock_getsockname(conn, &name) == 0);
  CHECK(peer.family == AF_INET && peer.u.in.port == name.u.in.port);
  CHECK(strcmp(peer.u.in.host, "127.0.0.1") == 0);
  psock_close(cli);
  psock_close(conn);
  return 0;
}

static int client_getpeername_unconnected(void *arg) {
  psock_address peer;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s != NULL);
  CHECK(psock_getpeername(s, &peer) == -1);
  CHECK(api_is_os_error(ENOTCONN));
  psock_close(s);
  return 0;
}

static void test_getpeername_of_connected_socket(void **state) {
  assert_as_nobody(0, client_getpeername, NULL);
}

static void test_getpeername_unconnected_refused(void **state) {
  assert_as_nobody(0, client_getpeername_unconnected, NULL);
}

static int client_shutdown(void *arg) {
  psock_sock *cli, *conn;
  char buf[8];

  CHECK(connected_pair(&cli, &conn) == 0);
  /* SHUT_WR: the peer reads end of stream, the other way still works. */
  CHECK(psock_shutdown(cli, SHUT_WR) == 0);
  CHECK(psock_recv(conn, buf, sizeof(buf), 0) == 0);
  CHECK(psock_send(conn, "rev", 3, 0) == 3);
  CHECK(psock_recv(cli, buf, sizeof(buf), 0) == 3);
  CHECK(psock_send(cli, "x", 1, MSG_NOSIGNAL) == -1);
  CHECK(api_is_os_error(EPIPE));
  /* SHUT_RD: our own reads end. */
  CHECK(psock_shutdown(conn, SHUT_RD) == 0);
  CHECK(psock_recv(conn, buf, sizeof(buf), 0) == 0);
  CHECK(psock_shutdown(conn, SHUT_RDWR) == 0);
  psock_close(cli);
  psock_close(conn);
  return 0;
}

static int client_shutdown_refused(void *arg) {
  psock_sock *cli, *conn, *s;

  CHECK(connected_pair(&cli, &conn) == 0);
  CHECK(psock_shutdown(cli, 7) == -1);
  CHECK(api_is_os_error(EINVAL));
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s != NULL);
  CHECK(psock_shutdown(s, SHUT_RDWR) == -1);
  CHECK(api_is_os_error(ENOTCONN));
  psock_close(s);
  psock_close(cli);
  psock_close(conn);
  return 0;
}

static void test_shutdown_each_half(void **state) {
  assert_as_nobody(0, client_shutdown, NULL);
}

static void test_shutdown_bad_how_or_unconnected_refused(void **state) {
  assert_as_nobody(0, client_shutdown_refused, NULL);
}

/* -------------------------------------------- getsockopt, setsockopt */

static int client_sockopts(void *arg) {
  struct linger lg = {.l_onoff = 1, .l_linger = 5}, got;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);
  size_t len = sizeof(got);
  int v = -1, one = 1;
  uint8_t raw[sizeof(int)];

  CHECK(s != NULL);
  /* Without buflen: an integer option. */
  CHECK(psock_getsockopt(s, SOL_SOCKET, SO_TYPE, &v) == 0 && v == SOCK_STREAM);
  CHECK(psock_getsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v) == 0 && v == 0);
  CHECK(psock_setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, 1) == 0);
  CHECK(psock_getsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v) == 0 && v == 1);
  CHECK(psock_setsockopt(s, IPPROTO_TCP, TCP_NODELAY, 1) == 0);
  CHECK(psock_getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v) == 0 && v == 1);
  /* With a buffer: a struct linger in, the same bytes out with buflen. */
  CHECK(psock_setsockopt_buf(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
  memset(&got, 0xff, sizeof(got));
  CHECK(psock_getsockopt_buf(s, SOL_SOCKET, SO_LINGER, &got, &len) == 0);
  CHECK(len == sizeof(struct linger));
  CHECK(got.l_onoff == 1 && got.l_linger == 5);
  /* An integer as a buffer, and an integer read back as bytes. */
  CHECK(psock_setsockopt_buf(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
        0);
  len = sizeof(raw);
  CHECK(psock_getsockopt_buf(s, SOL_SOCKET, SO_REUSEADDR, raw, &len) == 0);
  CHECK(len == sizeof(int) && memcmp(raw, &one, sizeof(int)) == 0);
  psock_close(s);
  return 0;
}

static int client_sockopts_refused(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);
  char buf[8];
  size_t len;
  int v;

  CHECK(s != NULL);
  CHECK(psock_getsockopt(s, SOL_SOCKET, 9999, &v) == -1);
  CHECK(api_is_os_error(ENOPROTOOPT));
  CHECK(psock_setsockopt(s, SOL_SOCKET, 9999, 1) == -1);
  CHECK(api_is_os_error(ENOPROTOOPT));
  /* A struct linger needs all its bytes. */
  CHECK(psock_setsockopt_buf(s, SOL_SOCKET, SO_LINGER, buf, 2) == -1);
  CHECK(api_is_os_error(EINVAL));
  /* buflen 1..1024, as CPython. */
  len = 0;
  CHECK(psock_getsockopt_buf(s, SOL_SOCKET, SO_LINGER, buf, &len) == -1);
  CHECK(api_is_value_error());
  len = 1025;
  CHECK(psock_getsockopt_buf(s, SOL_SOCKET, SO_LINGER, buf, &len) == -1);
  CHECK(api_is_value_error());
  psock_close(s);
  return 0;
}

static void test_sockopts_int_and_buffer(void **state) {
  assert_as_nobody(0, client_sockopts, NULL);
}

static void test_sockopts_unknown_or_short_refused(void **state) {
  assert_as_nobody(0, client_sockopts_refused, NULL);
}

/* ---------------------------------------------------------------- setup */

static int setup(void **state) {
  api_private_name_service(NULL);
  fx.psockd = harness_start_psockd(NULL);
  api_watch_psockd(fx.psockd);
  return 0;
}

static int teardown(void **state) {
  api_watch_psockd(NULL);
  harness_stop_psockd(fx.psockd);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_socket_attributes_and_close),
      cmocka_unit_test(test_socket_refused_by_kernel_or_policy),
      cmocka_unit_test(test_bind_then_getsockname),
      cmocka_unit_test(test_bind_twice_refused),
      cmocka_unit_test(test_listen_and_accept),
      cmocka_unit_test(test_closed_listener_refuses_at_once),
      cmocka_unit_test(test_listen_on_datagram_socket_refused),
      cmocka_unit_test(test_getpeername_of_connected_socket),
      cmocka_unit_test(test_getpeername_unconnected_refused),
      cmocka_unit_test(test_shutdown_each_half),
      cmocka_unit_test(test_shutdown_bad_how_or_unconnected_refused),
      cmocka_unit_test(test_sockopts_int_and_buffer),
      cmocka_unit_test(test_sockopts_unknown_or_short_refused),
  };

  return cmocka_run_group_tests_name("api-sockets", tests, setup, teardown);
}
