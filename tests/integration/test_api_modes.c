/* SPDX-License-Identifier: MIT */
/*
 * API coverage, socket modes and connections: blocking, non-blocking and
 * timeout mode (setblocking, settimeout, gettimeout, getdefaulttimeout,
 * setdefaulttimeout) as connect, accept, recv* and send* honour them;
 * socket.timeout; connect and connect_ex; create_connection with its
 * timeout and source_address, trying every address of "localhost" in
 * order. Sockets come from a real psockd, the client runs as nobody. Each
 * allowed case has its refused twin next to it.
 *
 * Client functions (client_*) run in a forked child: CHECK(), never
 * cmocka's assert_*. Timing bounds are generous: a loaded machine may be
 * slow, never early.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "api_common.h"

/* How long timeout-mode calls wait here, and the most they may take on a
 * loaded machine (a call that ignored the timeout would block forever). */
#define SHORT_TIMEOUT 0.2
#define LATE 5.0
/* A step that must not wait (a blocking one would wait forever). */
#define PROMPT 1.0

static struct { struct psockd_proc *psockd; } fx;

static bool nonblocking_fd(const psock_sock *s) {
  int fl = fcntl(psock_fileno(s), F_GETFL);

  return fl >= 0 && (fl & O_NONBLOCK);
}

/* Elapsed time of a call that should time out after SHORT_TIMEOUT. */
static bool timed_out_in_time(double start) {
  double t = api_now() - start;

  if (t < SHORT_TIMEOUT - 0.01 || t > LATE)
    fprintf(stderr, "timed out after %.3f s (timeout %.3f s)\n", t,
            SHORT_TIMEOUT);
  return t >= SHORT_TIMEOUT - 0.01 && t <= LATE && api_is_timeout();
}

/*
 * In a forked grandchild, after ms milliseconds: send "late" on s (if s)
 * and connect a new socket to *to (if to). Returns its pid.
 */
static pid_t later(int ms, psock_sock *s, const psock_address *to) {
  pid_t pid;

  fflush(NULL);
  pid = fork();
  if (pid != 0)
    return pid;
  usleep((useconds_t)ms * 1000);
  if (s && psock_send(s, "late", 4, 0) != 4)
    _exit(1);
  if (to) {
    psock_sock *c = psock_socket(AF_INET, SOCK_STREAM, 0);

    if (!c || psock_connect(c, to) < 0)
      _exit(2);
  }
  _exit(0);
}

static bool reaped_ok(pid_t pid) {
  int status;

  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

/* ------------------------------------------------------- blocking mode */

static int client_blocking(void *arg) {
  psock_address name;
  psock_sock *a, *b, *srv, *conn;
  char buf[8];
  double t;
  pid_t pid;

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  /* Sockets are created in blocking mode. */
  CHECK(psock_gettimeout(a) == PSOCK_TIMEOUT_NONE && !nonblocking_fd(a));
  /* recv waits for data that comes later. */
  t = api_now();
  pid = later(300, a, NULL);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 4);
  CHECK(api_now() - t >= 0.25 && reaped_ok(pid));
  /* accept waits for a connection that comes later. */
  srv = api_listen_tcp(AF_INET, "127.0.0.1", 1, &name);
  CHECK(srv != NULL);
  t = api_now();
  pid = later(300, NULL, &name);
  conn = psock_accept(srv, NULL);
  CHECK(conn != NULL && api_now() - t >= 0.25 && reaped_ok(pid));
  psock_close(conn);
  psock_close(srv);
  psock_close(a);
  psock_close(b);
  return 0;
}

static int client_setblocking_is_settimeout(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s != NULL);
  /* setblocking(0) is settimeout(0.0) ... */
  CHECK(psock_setblocking(s, 0) == 0);
  CHECK(psock_gettimeout(s) == 0.0 && nonblocking_fd(s));
  CHECK(psock_settimeout(s, PSOCK_TIMEOUT_NONE) == 0);
  CHECK(psock_settimeout(s, 0.0) == 0);
  CHECK(psock_gettimeout(s) == 0.0 && nonblocking_fd(s));
  /* ... and setblocking(1) is settimeout(None). */
  CHECK(psock_settimeout(s, 2.5) == 0 && psock_gettimeout(s) == 2.5);
  CHECK(psock_setblocking(s, 1) == 0);
  CHECK(psock_gettimeout(s) == PSOCK_TIMEOUT_NONE && !nonblocking_fd(s));
  /* Timeout mode runs the fd non-blocking underneath (the seed's note). */
  CHECK(psock_settimeout(s, 2.5) == 0 && nonblocking_fd(s));
  CHECK(psock_settimeout(s, PSOCK_TIMEOUT_NONE) == 0);
  CHECK(psock_gettimeout(s) == PSOCK_TIMEOUT_NONE && !nonblocking_fd(s));
  psock_close(s);
  return 0;
}

static int client_settimeout_refused(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s && psock_settimeout(s, 1.5) == 0);
  CHECK(psock_settimeout(s, -0.5) == -1);
  CHECK(api_is_value_error());
  CHECK(psock_settimeout(s, NAN) == -1);
  CHECK(api_is_value_error());
  /* The socket keeps its mode. */
  CHECK(psock_gettimeout(s) == 1.5);
  psock_close(s);
  return 0;
}

static void test_blocking_mode_waits(void **state) {
  assert_as_nobody(0, client_blocking, NULL);
}

static void test_setblocking_equals_settimeout(void **state) {
  assert_as_nobody(0, client_setblocking_is_settimeout, NULL);
}

static void test_settimeout_negative_refused(void **state) {
  assert_as_nobody(0, client_settimeout_refused, NULL);
}

/* --------------------------------------------------- non-blocking mode */

static int client_nonblocking(void *arg) {
  psock_address name;
  psock_sock *a, *b, *srv, *c;
  char buf[8];
  double t;

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  CHECK(psock_setblocking(b, 0) == 0);
  t = api_now();
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == -1);
  CHECK(api_is_os_error(EAGAIN) && api_now() - t < PROMPT);
  CHECK(psock_send(a, "now", 3, 0) == 3);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 3);

  srv = api_listen_tcp(AF_INET, "127.0.0.1", 1, &name);
  CHECK(srv && psock_setblocking(srv, 0) == 0);
  CHECK(psock_accept(srv, NULL) == NULL);
  CHECK(api_is_os_error(EAGAIN));
  /* A non-blocking connect is "in progress"; it completes on its own. */
  c = psock_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK(c != NULL && psock_gettimeout(c) == 0.0);
  if (psock_connect(c, &name) == -1)
    CHECK(api_is_os_error(EINPROGRESS));
  CHECK(psock_setblocking(srv, 1) == 0);
  psock_close(psock_accept(srv, NULL));
  psock_close(c);
  psock_close(srv);
  psock_close(a);
  psock_close(b);
  return 0;
}

static void test_nonblocking_mode_fails_at_once(void **state) {
  assert_as_nobody(0, client_nonblocking, NULL);
}

/* -------------------------------------------------------- timeout mode */

static int client_recv_timeouts(void *arg) {
  psock_address from;
  psock_sock *a, *b;
  char buf[8];
  double t;

  CHECK(psock_socketpair(AF_UNIX, SOCK_DGRAM, 0, &a, &b) == 0);
  CHECK(psock_settimeout(b, SHORT_TIMEOUT) == 0);
  t = api_now();
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == -1 && timed_out_in_time(t));
  t = api_now();
  CHECK(psock_recv_into(b, buf, sizeof(buf), 0, 0) == -1);
  CHECK(timed_out_in_time(t));
  t = api_now();
  CHECK(psock_recvfrom(b, buf, sizeof(buf), 0, &from) == -1);
  CHECK(timed_out_in_time(t));
  t = api_now();
  CHECK(psock_recvfrom_into(b, buf, sizeof(buf), 0, 0, &from) == -1);
  CHECK(timed_out_in_time(t));
  /* Data that is there comes at once. */
  CHECK(psock_send(a, "here", 4, 0) == 4);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 4);
  psock_close(a);
  psock_close(b);
  return 0;
}

/*
 * A TCP connection whose receiver never reads, with small buffers: sends
 * soon find no room. Returns 0 or a CHECK line.
 */
static int stalled_connection(psock_sock **ret_cli, psock_sock **ret_srv,
                              psock_sock **ret_conn, psock_address *ret_peer) {
  CHECK((*ret_srv = psock_socket(AF_INET, SOCK_STREAM, 0)) != NULL);
  CHECK(psock_setsockopt(*ret_srv, SOL_SOCKET, SO_RCVBUF, 4096) == 0);
  CHECK(psock_addr_inet(ret_peer, "127.0.0.1", 0) == 0);
  CHECK(psock_bind(*ret_srv, ret_peer) == 0);
  CHECK(psock_getsockname(*ret_srv, ret_peer) == 0);
  CHECK(psock_listen(*ret_srv, 1) == 0);
  CHECK((*ret_cli = psock_socket(AF_INET, SOCK_STREAM, 0)) != NULL);
  CHECK(psock_setsockopt(*ret_cli, SOL_SOCKET, SO_SNDBUF, 4096) == 0);
  CHECK(psock_connect(*ret_cli, ret_peer) == 0);
  CHECK((*ret_conn = psock_accept(*ret_srv, NULL)) != NULL);
  return 0;
}

static int client_send_timeouts(void *arg) {
  static uint8_t chunk[65536];
  psock_sock *cli, *srv, *conn;
  psock_address peer;
  double t;
  ssize_t n = 0;
  int r;

  r = stalled_connection(&cli, &srv, &conn, &peer);
  CHECK(r == 0);
  CHECK(psock_settimeout(cli, SHORT_TIMEOUT) == 0);
  /* Fill the buffers until send itself times out. */
  for (int i = 0; i < 4096 && n >= 0; i++) {
    t = api_now();
    n = psock_send(cli, chunk, sizeof(chunk), 0);
  }
  CHECK(n == -1 && timed_out_in_time(t));
  t = api_now();
  CHECK(psock_sendall(cli, chunk, sizeof(chunk), 0) == -1);
  CHECK(timed_out_in_time(t));
  t = api_now();
  CHECK(psock_sendto(cli, chunk, sizeof(chunk), &peer) == -1);
  CHECK(timed_out_in_time(t));
  /* Non-blocking mode says so at once. */
  CHECK(psock_setblocking(cli, 0) == 0);
  CHECK(psock_send(cli, chunk, sizeof(chunk), 0) == -1);
  CHECK(api_is_os_error(EAGAIN));
  psock_close(conn);
  psock_close(cli);
  psock_close(srv);
  return 0;
}

static int client_accept_timeout(void *arg) {
  psock_address name;
  psock_sock *srv = api_listen_tcp(AF_INET, "127.0.0.1", 1, &name);
  double t;

  CHECK(srv && psock_settimeout(srv, SHORT_TIMEOUT) == 0);
  t = api_now();
  CHECK(psock_accept(srv, NULL) == NULL && timed_out_in_time(t));
  psock_close(srv);
  return 0;
}

static void test_timeout_mode_recv_times_out(void **state) {
  assert_as_nobody(0, client_recv_timeouts, NULL);
}

static void test_timeout_mode_send_times_out(void **state) {
  assert_as_nobody(0, client_send_timeouts, NULL);
}

static void test_timeout_mode_accept_times_out(void **state) {
  assert_as_nobody(0, client_accept_timeout, NULL);
}

/* ------------------------------------------------------ default timeout */

static int client_default_timeout(void *arg) {
  psock_address name;
  psock_sock *before, *after, *srv, *cli, *conn, *a, *b;

  CHECK(psock_getdefaulttimeout() == PSOCK_TIMEOUT_NONE);
  before = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(psock_setdefaulttimeout(1.25) == 0);
  CHECK(psock_getdefaulttimeout() == 1.25);
  after = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(before && after);
  /* Sockets created afterwards only. */
  CHECK(psock_gettimeout(before) == PSOCK_TIMEOUT_NONE);
  CHECK(psock_gettimeout(after) == 1.25 && nonblocking_fd(after));
  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  CHECK(psock_gettimeout(a) == 1.25 && psock_gettimeout(b) == 1.25);
  srv = api_listen_tcp(AF_INET, "127.0.0.1", 1, &name);
  CHECK(srv && psock_settimeout(srv, PSOCK_TIMEOUT_NONE) == 0);
  cli = psock_create_connection(&name, PSOCK_TIMEOUT_NONE, NULL);
  CHECK(cli != NULL && psock_gettimeout(cli) == 1.25);
  /* An accepted socket takes the default, not its listener's mode. */
  conn = psock_accept(srv, NULL);
  CHECK(conn != NULL && psock_gettimeout(conn) == 1.25);
  CHECK(psock_setdefaulttimeout(PSOCK_TIMEOUT_NONE) == 0);
  CHECK(psock_gettimeout(after) == 1.25);
  psock_close(conn);
  psock_close(cli);
  psock_close(srv);
  psock_close(a);
  psock_close(b);
  psock_close(before);
  psock_close(after);
  return 0;
}

static int client_default_timeout_refused(void *arg) {
  CHECK(psock_setdefaulttimeout(0.5) == 0);
  CHECK(psock_setdefaulttimeout(-2.0) == -1);
  CHECK(api_is_value_error());
  CHECK(psock_getdefaulttimeout() == 0.5);
  return 0;
}

static void test_setdefaulttimeout_applies_to_later_sockets(void **state) {
  assert_as_nobody(0, client_default_timeout, NULL);
}

static void test_setdefaulttimeout_negative_refused(void **state) {
  assert_as_nobody(0, client_default_timeout_refused, NULL);
}

/* ----------------------------------------------- connect and connect_ex */

/*
 * A listener from psockd whose accept queue is full (backlog 0 and one
 * connection it never accepts): the kernel drops further SYNs, so a
 * connect to it neither succeeds nor fails until its timeout.
 */
static psock_sock *full_listener(psock_address *ret_name,
                                 psock_sock **ret_queued) {
  psock_sock *srv = api_listen_tcp(AF_INET, "127.0.0.1", 0, ret_name);

  *ret_queued = psock_socket(AF_INET, SOCK_STREAM, 0);
  if (!srv || !*ret_queued || psock_connect(*ret_queued, ret_name) < 0)
    return NULL;
  return srv;
}

static int client_connect_timeout(void *arg) {
  psock_address name;
  psock_sock *queued, *srv = full_listener(&name, &queued);
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);
  double t;

  CHECK(srv && s && psock_settimeout(s, SHORT_TIMEOUT) == 0);
  t = api_now();
  CHECK(psock_connect(s, &name) == -1 && timed_out_in_time(t));
  psock_close(s);
  /* connect_ex returns the timeout as EWOULDBLOCK, as CPython does. */
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s && psock_settimeout(s, SHORT_TIMEOUT) == 0);
  CHECK(psock_connect_ex(s, &name) == EWOULDBLOCK);
  psock_close(s);
  psock_close(queued);
  psock_close(srv);
  return 0;
}

static int client_connect_ex(void *arg) {
  psock_address name, closed;
  psock_sock *srv, *s, *holder;
  uint16_t port;
  int r;

  srv = api_listen_tcp(AF_INET, "127.0.0.1", 1, &name);
  holder = api_closed_port(&port);
  CHECK(srv && holder && psock_addr_inet(&closed, "127.0.0.1", port) == 0);
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s && psock_connect_ex(s, &name) == 0);
  psock_close(s);
  /* The connect's own error is the value, not a failure. */
  psock_clear_error();
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s && psock_connect_ex(s, &closed) == ECONNREFUSED);
  CHECK(psock_last_error_kind() == PSOCK_ERR_NONE);
  psock_close(s);
  /* Non-blocking: "in progress" is a value too. */
  s = psock_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK(s != NULL);
  r = psock_connect_ex(s, &name);
  CHECK(r == EINPROGRESS || r == 0);
  psock_close(s);
  psock_close(holder);
  psock_close(srv);
  return 0;
}

static int client_connect_refused(void *arg) {
  psock_address closed, bad;
  uint16_t port;
  psock_sock *s, *holder = api_closed_port(&port);

  CHECK(holder && psock_addr_inet(&closed, "127.0.0.1", port) == 0);
  /* connect raises socket.error (errno, strerror). */
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s && psock_connect(s, &closed) == -1);
  CHECK(api_is_os_error(ECONNREFUSED));
  psock_close(s);
  /* connect_ex raises for errors that are not the connect's own. */
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s && psock_addr_inet(&bad, "no-such-host.invalid", 80) == 0);
  CHECK(psock_connect_ex(s, &bad) == -1);
  CHECK(api_is_error(PSOCK_ERR_GAI, EAI_NONAME));
  psock_close(s);
  psock_close(holder);
  return 0;
}

static void test_connect_honours_timeout(void **state) {
  assert_as_nobody(0, client_connect_timeout, NULL);
}

static void test_connect_ex_returns_errno(void **state) {
  assert_as_nobody(0, client_connect_ex, NULL);
}

static void
test_connect_refused_raises_and_connect_ex_raises_gai(void **state) {
  assert_as_nobody(0, client_connect_refused, NULL);
}

/* ---------------------------------------------------- create_connection */

/*
 * A TCP listener on exactly one of the two localhost addresses, with the
 * same port on the other one bound but not listening (so connects there
 * are refused). For AF_INET6 the listener is IPV6_V6ONLY.
 */
static int one_family_listener(int family, psock_sock **ret_srv,
                               psock_sock **ret_other, uint16_t *ret_port) {
  psock_address a, name;
  int other_family = family == AF_INET ? AF_INET6 : AF_INET;

  for (int attempt = 0; attempt < 20; attempt++) {
    psock_sock *srv = psock_socket(family, SOCK_STREAM, 0);
    psock_sock *other = psock_socket(other_family, SOCK_STREAM, 0);

    CHECK(srv && other);
    if (family == AF_INET6)
      CHECK(psock_setsockopt(srv, IPPROTO_IPV6, IPV6_V6ONLY, 1) == 0);
    CHECK(family == AF_INET ? psock_addr_inet(&a, "127.0.0.1", 0) == 0
                            : psock_addr_inet6(&a, "::1", 0, 0, 0) == 0);
    CHECK(psock_bind(srv, &a) == 0 && psock_getsockname(srv, &name) == 0);
    CHECK(other_family == AF_INET
              ? psock_addr_inet(&a, "127.0.0.1", name.u.in.port) == 0
              : psock_addr_inet6(&a, "::1", name.u.in.port, 0, 0) == 0);
    /* The other family's port may be taken: try another. */
    if (psock_bind(other, &a) == 0 && psock_listen(srv, 4) == 0) {
      *ret_srv = srv;
      *ret_other = other;
      *ret_port = name.u.in.port;
      return 0;
    }
    psock_close(srv);
    psock_close(other);
  }
  return __LINE__;
}

/* create_connection(("localhost", port)) with a listener in family only. */
static int connect_localhost(int family) {
  psock_sock *srv, *other, *c;
  psock_address a, peer;
  psock_addrinfo *ai = NULL;
  uint16_t port;
  int r = one_family_listener(family, &srv, &other, &port);

  CHECK(r == 0);
  /* "localhost" is both addresses, in an order psockd's resolver picks. */
  CHECK(psock_getaddrinfo("localhost", NULL, AF_UNSPEC, SOCK_STREAM, 0, 0,
                          &ai) == 0);
  CHECK(ai && ai->next && ai->family != ai->next->family);
  if (ai->family != family)
    fprintf(stderr,
            "note: %s listener, first address %s: the first attempt "
            "is refused\n",
            family == AF_INET ? "IPv4" : "IPv6", ai->address.u.in.host);
  psock_freeaddrinfo(ai);
  CHECK(psock_addr_inet(&a, "localhost", port) == 0);
  c = psock_create_connection(&a, 5.0, NULL);
  CHECK(c != NULL);
  CHECK(psock_family(c) == family && psock_type(c) == SOCK_STREAM);
  CHECK(psock_gettimeout(c) == 5.0);
  CHECK(psock_getpeername(c, &peer) == 0 && peer.u.in.port == port);
  CHECK(strcmp(peer.u.in.host, family == AF_INET ? "127.0.0.1" : "::1") == 0);
  psock_close(c);
  psock_close(srv);
  psock_close(other);
  return 0;
}

static int client_create_connection_v6(void *arg) {
  return connect_localhost(AF_INET6);
}

static int client_create_connection_v4(void *arg) {
  return connect_localhost(AF_INET);
}

static int client_create_connection_source(void *arg) {
  psock_address name, src, local;
  psock_sock *srv, *c, *probe;
  uint16_t sport;

  srv = api_listen_tcp(AF_INET, "127.0.0.1", 1, &name);
  /* A port that was free a moment ago. */
  probe = api_listen_tcp(AF_INET, "127.0.0.1", 1, &local);
  CHECK(srv && probe);
  sport = local.u.in.port;
  psock_close(probe);
  CHECK(psock_addr_inet(&src, "127.0.0.1", sport) == 0);
  c = psock_create_connection(&name, PSOCK_TIMEOUT_NONE, &src);
  CHECK(c != NULL && psock_gettimeout(c) == PSOCK_TIMEOUT_NONE);
  CHECK(psock_getsockname(c, &local) == 0 && local.u.in.port == sport);
  CHECK(strcmp(local.u.in.host, "127.0.0.1") == 0);
  /* The same source again is in use: the kernel says so. */
  CHECK(psock_create_connection(&name, 2.0, &src) == NULL);
  CHECK(api_is_os_error(EADDRINUSE));
  psock_close(c);
  psock_close(srv);
  return 0;
}

static int client_create_connection_refused(void *arg) {
  psock_sock *srv, *other, *queued;
  psock_address a, name;
  uint16_t port;
  double t;
  int r = one_family_listener(AF_INET, &srv, &other, &port);

  /* Nothing listens on either address: the last attempt's error. */
  CHECK(r == 0);
  psock_close(srv);
  CHECK(psock_addr_inet(&a, "localhost", port) == 0);
  CHECK(psock_create_connection(&a, 2.0, NULL) == NULL);
  CHECK(api_is_os_error(ECONNREFUSED));
  psock_close(other);
  /* A connect that cannot finish ends with socket.timeout. */
  srv = full_listener(&name, &queued);
  CHECK(srv != NULL);
  t = api_now();
  CHECK(psock_create_connection(&name, SHORT_TIMEOUT, NULL) == NULL);
  CHECK(timed_out_in_time(t));
  psock_close(queued);
  psock_close(srv);
  return 0;
}

static void test_create_connection_localhost_ipv6_listener(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_create_connection_v6, NULL);
}

static void test_create_connection_localhost_ipv4_listener(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_create_connection_v4, NULL);
}

static void test_create_connection_binds_source_address(void **state) {
  assert_as_nobody(0, client_create_connection_source, NULL);
}

static void test_create_connection_refused_or_timed_out(void **state) {
  assert_as_nobody(0, client_create_connection_refused, NULL);
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
      cmocka_unit_test(test_blocking_mode_waits),
      cmocka_unit_test(test_setblocking_equals_settimeout),
      cmocka_unit_test(test_settimeout_negative_refused),
      cmocka_unit_test(test_nonblocking_mode_fails_at_once),
      cmocka_unit_test(test_timeout_mode_recv_times_out),
      cmocka_unit_test(test_timeout_mode_send_times_out),
      cmocka_unit_test(test_timeout_mode_accept_times_out),
      cmocka_unit_test(test_setdefaulttimeout_applies_to_later_sockets),
      cmocka_unit_test(test_setdefaulttimeout_negative_refused),
      cmocka_unit_test(test_connect_honours_timeout),
      cmocka_unit_test(test_connect_ex_returns_errno),
      cmocka_unit_test(test_connect_refused_raises_and_connect_ex_raises_gai),
      cmocka_unit_test(test_create_connection_localhost_ipv6_listener),
      cmocka_unit_test(test_create_connection_localhost_ipv4_listener),
      cmocka_unit_test(test_create_connection_binds_source_address),
      cmocka_unit_test(test_create_connection_refused_or_timed_out),
  };

  return cmocka_run_group_tests_name("api-modes", tests, setup, teardown);
}
