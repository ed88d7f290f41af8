/* SPDX-License-Identifier: MIT */
/*
 * libpsock-client's calls on sockets (client/sockcalls.c, sock.c,
 * sockio.c) against the fake psockd of tests/unit/fake_psockd.c: connect
 * and accept in the socket's modes, create_connection, accept under
 * PSOCK_ROUTE=daemon; AF_UNIX as the program's own (sockets, socketpairs,
 * paths and abstract names made and bound by the client; psockd only
 * under PSOCK_ROUTE=daemon, its replaced socket put in place of the
 * program's); setsockopt tried on the program's socket first and sent to
 * psockd only after the kernel refused it for lack of privilege. Each
 * refusal next to its allowed twin.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
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

/* In a child: a step that must hold, else exit with its number. */
#define CHILD_CHECK(step, cond)                                                \
  do {                                                                         \
    if (!(cond))                                                               \
      _exit(step);                                                             \
  } while (0)

/* Run fn in a child as nobody (when we are root); its exit status. */
static int as_nobody(int (*fn)(void)) {
  int status;
  pid_t pid = fork();

  assert_true(pid >= 0);
  if (pid == 0) {
    if (geteuid() == 0 &&
        (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
         setresuid(65534, 65534, 65534) < 0))
      _exit(99);
    _exit(fn());
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* The inode of fd's socket: which socket a number refers to. */
static ino_t ino_of(int fd) {
  struct stat st;

  assert_int_equal(fstat(fd, &st), 0);
  return st.st_ino;
}

/* A unique abstract name for this test run. */
static void abstract_name(psock_address *a, const char *tag) {
  char name[64];

  snprintf(name, sizeof(name), "psock-unit-%s-%d", tag, (int)getpid());
  assert_int_equal(psock_addr_unix_abstract(a, name, strlen(name)), 0);
}

/* ---------------------------------------------------- connect and accept */

/* A listening TCP socket on 127.0.0.1, made through the fake daemon. */
static psock_sock *tcp_listener(uint16_t *port) {
  psock_address a;
  psock_sock *l = psock_socket(AF_INET, SOCK_STREAM, 0);

  assert_non_null(l);
  psock_addr_inet(&a, "127.0.0.1", 0);
  assert_int_equal(psock_bind(l, &a), 0);
  assert_int_equal(psock_listen(l, 4), 0);
  assert_int_equal(psock_getsockname(l, &a), 0);
  *port = a.u.in.port;
  return l;
}

static void test_connect_and_accept(void **state) {
  psock_address a, peer, name;
  psock_sock *l, *c, *srv;
  uint16_t port;
  char buf[8];

  l = tcp_listener(&port);
  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  psock_addr_inet(&a, "127.0.0.1", port);
  /* Blocking mode: in progress at psockd, completed here. */
  assert_int_equal(psock_connect(c, &a), 0);
  srv = psock_accept(l, &peer);
  assert_non_null(srv);
  assert_string_equal(peer.u.in.host, "127.0.0.1");
  assert_int_equal(psock_getsockname(c, &name), 0);
  assert_int_equal(name.u.in.port, peer.u.in.port);
  assert_int_equal(psock_getpeername(c, &name), 0);
  assert_int_equal(name.u.in.port, port);
  assert_int_equal(psock_sendall(c, "ping", 4, 0), 0);
  assert_int_equal(psock_recv(srv, buf, sizeof(buf), 0), 4);
  psock_close(srv);
  psock_close(c);
  psock_close(l);
}

static void test_connect_refused(void **state) {
  psock_address a;
  psock_sock *l, *c;
  uint16_t port;

  /* A port that was just free: nothing listens there any more. */
  l = tcp_listener(&port);
  psock_close(l);
  psock_addr_inet(&a, "127.0.0.1", port);

  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_connect(c, &a), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), ECONNREFUSED);
  psock_close(c);

  /* connect_ex: the errno as the value, the last error untouched. */
  psock_clear_error();
  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_settimeout(c, 2.0), 0);
  assert_int_equal(psock_connect_ex(c, &a), ECONNREFUSED);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_NONE);

  /* A policy refusal is not an errno of connect(): -1 and the error. */
  fk.mode = FAKE_POLICY;
  errno = 0;
  assert_int_equal(psock_connect_ex(c, &a), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_POLICY);
  assert_int_equal(psock_last_error_code(), EPERM);
  assert_int_equal(errno, EPERM);
  psock_close(c);
}

static void test_create_connection(void **state) {
  psock_address a, peer;
  psock_sock *l, *c, *srv;
  uint16_t port;

  l = tcp_listener(&port);
  psock_addr_inet(&a, "localhost", port);
  assert_int_equal(psock_setdefaulttimeout(4.0), 0);
  c = psock_create_connection(&a, PSOCK_TIMEOUT_NONE, NULL);
  assert_non_null(c);
  /* None means the default timeout, which the socket now has. */
  assert_true(psock_gettimeout(c) == 4.0);
  psock_setdefaulttimeout(PSOCK_TIMEOUT_NONE);
  srv = psock_accept(l, &peer);
  assert_non_null(srv);
  psock_close(srv);
  psock_close(c);

  /* Refused: the error of the last attempt. */
  psock_close(l);
  c = psock_create_connection(&a, 1.0, NULL);
  assert_null(c);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), ECONNREFUSED);

  /* Only inet addresses. */
  psock_addr_unix(&a, "/x");
  assert_null(psock_create_connection(&a, 1.0, NULL));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_VALUE);
}

struct delayed_connect {
  uint16_t port;
};

static void *connect_later(void *p) {
  struct delayed_connect *dc = p;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(dc->port)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  usleep(150000);
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  connect(fd, (struct sockaddr *)&sin, sizeof(sin));
  usleep(200000);
  close(fd);
  return NULL;
}

static void test_route_daemon_accept_waits(void **state) {
  struct delayed_connect dc;
  psock_address peer;
  psock_sock *l, *c;
  pthread_t t;

  l = tcp_listener(&dc.port);
  setenv("PSOCK_ROUTE", "daemon", 1);
  /* Timeout mode: psockd says "not ready" until the time is up. */
  assert_int_equal(psock_settimeout(l, 0.1), 0);
  assert_null(psock_accept(l, &peer));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_TIMEOUT);
  assert_true(atomic_load(&fk.accept_calls) >= 1);

  /* Blocking mode: psockd's non-blocking attempt fails at first, the
   * client waits for the connection and asks again. */
  assert_int_equal(psock_setblocking(l, 1), 0);
  psock_clear_error();
  assert_int_equal(pthread_create(&t, NULL, connect_later, &dc), 0);
  c = psock_accept(l, &peer);
  unsetenv("PSOCK_ROUTE");
  assert_non_null(c);
  assert_int_equal(peer.family, AF_INET);
  assert_string_equal(peer.u.in.host, "127.0.0.1");
  assert_true(atomic_load(&fk.accept_calls) >= 3);
  /* The "not ready" answers on the way were not the caller's errors. */
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_NONE);
  pthread_join(t, NULL);
  psock_close(c);
  psock_close(l);
}

/* ---------------------------------------------------------- setsockopt */

static bool opt_ok(psock_sock *s, int level, int optname, int value) {
  return psock_setsockopt(s, level, optname, value) == 0;
}

/* Linux 5.7 lets anyone bind a socket not yet bound to a device. */
static bool kernel_at_least_5_7(void) {
  struct utsname u;
  int maj = 0, min = 0;

  return uname(&u) == 0 && sscanf(u.release, "%d.%d", &maj, &min) == 2 &&
         (maj > 5 || (maj == 5 && min >= 7));
}

/* Unprivileged: the kernel first; psockd (the fake says yes) only for
 * the refusals the option table calls a lack of privilege. */
static int options_unprivileged(void) {
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  int mark = 5;

  CHILD_CHECK(1, s != NULL);
  /* Kernel: free options and free values. */
  CHILD_CHECK(2, opt_ok(s, SOL_SOCKET, SO_BROADCAST, 1));
  CHILD_CHECK(3, opt_ok(s, SOL_SOCKET, SO_PRIORITY, 6));
  /* Kernel refused for privilege (EPERM, EACCES): psockd set them. */
  CHILD_CHECK(4, opt_ok(s, SOL_SOCKET, SO_PRIORITY, 7));
  CHILD_CHECK(5, opt_ok(s, SOL_SOCKET, SO_MARK, mark));
  CHILD_CHECK(6, opt_ok(s, SOL_SOCKET, SO_DEBUG, 1));
  /* Kernel refused for another reason: its errno, psockd never asked. */
  CHILD_CHECK(7, psock_setsockopt_buf(s, SOL_SOCKET, SO_MARK, &mark, 2) == -1);
  CHILD_CHECK(8, psock_last_error_kind() == PSOCK_ERR_OS &&
                     psock_last_error_code() == EINVAL);
  CHILD_CHECK(9, psock_setsockopt(s, SOL_SOCKET, 9999, 1) == -1 &&
                     psock_last_error_code() == ENOPROTOOPT);
  if (kernel_at_least_5_7()) {
    /* State decides: a first device binding is free, a change is not. */
    CHILD_CHECK(
        10, psock_setsockopt_buf(s, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) == 0);
    CHILD_CHECK(
        11, psock_setsockopt_buf(s, SOL_SOCKET, SO_BINDTODEVICE, "", 1) == 0);
  }
  psock_close(s);
  return 0;
}

/* Made before the fake starts refusing everything, socket() included. */
static psock_sock *made_before;

/* The refused twin: psockd's answer (EPERM) is the program's. */
static int options_refused_by_policy(void) {
  psock_sock *s = made_before;

  CHILD_CHECK(1, s != NULL);
  errno = 0;
  CHILD_CHECK(2, psock_setsockopt(s, SOL_SOCKET, SO_MARK, 5) == -1);
  CHILD_CHECK(3, psock_last_error_kind() == PSOCK_ERR_POLICY &&
                     psock_last_error_code() == EPERM && errno == EPERM);
  /* What the kernel allows is still the kernel's. */
  CHILD_CHECK(4, opt_ok(s, SOL_SOCKET, SO_PRIORITY, 3));
  return 0;
}

static void test_setsockopt_tries_the_kernel_first(void **state) {
  int escalated = kernel_at_least_5_7() ? 4 : 3;
  psock_sock *s;

  assert_int_equal(as_nobody(options_unprivileged), 0);
  assert_int_equal(atomic_load(&fk.setsockopt_calls), escalated);
  made_before = psock_socket(AF_INET, SOCK_DGRAM, 0);
  fk.mode = FAKE_POLICY;
  assert_int_equal(as_nobody(options_refused_by_policy), 0);
  psock_close(made_before);
  assert_int_equal(atomic_load(&fk.setsockopt_calls), escalated + 1);
  assert_int_equal(atomic_load(&fk.setsockopt_last), SO_MARK);
  fk.mode = FAKE_NORMAL;

  /* What the kernel grants needs no psockd, whoever asks. */
  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  assert_non_null(s);
  assert_true(opt_ok(s, SOL_SOCKET, SO_REUSEADDR, 1));
  assert_int_equal(atomic_load(&fk.setsockopt_calls), escalated + 1);
  /* PSOCK_ROUTE=daemon: every option goes to psockd, untried. */
  setenv("PSOCK_ROUTE", "daemon", 1);
  assert_true(opt_ok(s, SOL_SOCKET, SO_BROADCAST, 0));
  unsetenv("PSOCK_ROUTE");
  assert_int_equal(atomic_load(&fk.setsockopt_calls), escalated + 2);
  assert_int_equal(atomic_load(&fk.setsockopt_last), SO_BROADCAST);
  psock_close(s);
}

/* ---------------------------------------------------- AF_UNIX is ours */

static void test_unix_sockets_made_by_the_client(void **state) {
  psock_sock *a, *b, *s;
  char c;

  /* Made locally, flags as asked, without a word to psockd. */
  s = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  assert_non_null(s);
  assert_int_equal(fcntl(psock_fileno(s), F_GETFD) & FD_CLOEXEC, 0);
  psock_close(s);
  s = psock_socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  assert_non_null(s);
  assert_true(fcntl(psock_fileno(s), F_GETFD) & FD_CLOEXEC);
  assert_true(fcntl(psock_fileno(s), F_GETFL) & O_NONBLOCK);
  assert_true(psock_gettimeout(s) == 0.0);
  assert_int_equal(psock_type(s), SOCK_DGRAM);
  psock_close(s);
  assert_int_equal(psock_socketpair(0, SOCK_STREAM, 0, &a, &b), 0);
  assert_int_equal(psock_family(a), AF_UNIX);
  assert_int_equal(fcntl(psock_fileno(b), F_GETFD) & FD_CLOEXEC, 0);
  assert_int_equal(psock_send(a, "u", 1, 0), 1);
  assert_int_equal(psock_recv(b, &c, 1, 0), 1);
  psock_close(a);
  psock_close(b);
  assert_int_equal(atomic_load(&fk.connections), 0);

  /* Refused by the kernel, as socket(2) would be: its errno. */
  assert_null(psock_socket(AF_UNIX, SOCK_STREAM, 5));
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), EPROTONOSUPPORT);
  assert_int_equal(psock_socketpair(AF_UNIX, SOCK_STREAM, 5, &a, &b), -1);
  assert_int_equal(psock_last_error_code(), EPROTONOSUPPORT);
  assert_int_equal(atomic_load(&fk.connections), 0);

  /* The kernel pairs no inet sockets: the program's own kernel says so,
   * and psockd is not asked. */
  assert_int_equal(psock_socketpair(AF_INET, SOCK_STREAM, 0, &a, &b), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), EOPNOTSUPP);
  assert_int_equal(atomic_load(&fk.connections), 0);

  /* AF_TIPC pairs are psockd's (which this fake cannot make). */
  assert_int_equal(psock_socketpair(AF_TIPC, SOCK_SEQPACKET, 0, &a, &b), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  assert_int_equal(atomic_load(&fk.connections), 1);
}

/* PSOCK_ROUTE=daemon: root's AF_UNIX sockets from psockd, nobody's not. */
static int unix_socket_route_daemon_nobody(void) {
  psock_sock *s = psock_socket(AF_UNIX, SOCK_STREAM, 0);

  CHILD_CHECK(1, s != NULL);
  psock_close(s);
  return 0;
}

static void test_unix_sockets_route_daemon(void **state) {
  psock_sock *s;

  setenv("PSOCK_ROUTE", "daemon", 1);
  assert_int_equal(as_nobody(unix_socket_route_daemon_nobody), 0);
  assert_int_equal(atomic_load(&fk.socket_calls), 0);
  if (geteuid() == 0) {
    s = psock_socket(AF_UNIX, SOCK_STREAM, 0);
    assert_non_null(s);
    assert_int_equal(atomic_load(&fk.socket_calls), 1);
    psock_close(s);
  }
  unsetenv("PSOCK_ROUTE");
}

static void test_unix_paths_bound_by_client(void **state) {
  psock_sock *l = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  psock_sock *c = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  psock_address a, peer;
  char path[96];
  struct stat st;
  psock_sock *srv;

  assert_non_null(l);
  assert_non_null(c);
  /* From here psockd refuses every bind, listen and connect... */
  fk.mode = FAKE_POLICY;
  snprintf(path, sizeof(path), "%s/app.sock", fk.dir);
  psock_addr_unix(&a, path);
  /* ...but a path is the client's own business: its mount namespace,
   * its credentials; and so is listening on its own socket. */
  assert_int_equal(psock_bind(l, &a), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(psock_listen(l, 1), 0);
  assert_int_equal(psock_settimeout(c, 1.0), 0);
  assert_int_equal(psock_connect(c, &a), 0);
  srv = psock_accept(l, &peer);
  assert_non_null(srv);
  assert_int_equal(atomic_load(&fk.connections), 0);
  /* The kernel's refusals stay the kernel's: a path bound twice. */
  assert_int_equal(psock_bind(c, &a), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), EADDRINUSE);
  psock_close(srv);
  psock_close(c);
  psock_close(l);
  unlink(path);
}

/* An abstract name is the client's own network namespace's: local by
 * default, psockd's only under PSOCK_ROUTE=daemon. */
static void test_abstract_names_local_unless_route_daemon(void **state) {
  psock_sock *l = psock_socket(AF_UNIX, SOCK_SEQPACKET, 0);
  psock_sock *c = psock_socket(AF_UNIX, SOCK_SEQPACKET, 0);
  psock_sock *srv, *d;
  psock_address a, other;
  ino_t ino;

  assert_non_null(l);
  assert_non_null(c);
  fk.mode = FAKE_POLICY; /* psockd would refuse anything */
  abstract_name(&a, "local");
  assert_int_equal(psock_bind(l, &a), 0);
  assert_int_equal(psock_listen(l, 1), 0);
  assert_int_equal(psock_connect(c, &a), 0);
  srv = psock_accept(l, NULL);
  assert_non_null(srv);
  /* Refused by the kernel: nothing listens there in our namespace. */
  abstract_name(&other, "unbound");
  d = psock_socket(AF_UNIX, SOCK_SEQPACKET, 0);
  assert_int_equal(psock_connect(d, &other), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), ECONNREFUSED);
  assert_int_equal(atomic_load(&fk.connections), 0);

  /* PSOCK_ROUTE=daemon: psockd decides, and here refuses ... */
  setenv("PSOCK_ROUTE", "daemon", 1);
  assert_int_equal(psock_connect(d, &other), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_POLICY);
  assert_int_equal(atomic_load(&fk.connect_calls), 0); /* refused first */
  /* ... or, as the old psockd did, binds the client's own socket
   * (no replaced flag, no fd: as before). */
  fk.mode = FAKE_NORMAL;
  abstract_name(&other, "via-daemon");
  ino = ino_of(psock_fileno(d));
  assert_int_equal(psock_bind(d, &other), 0);
  assert_int_equal(atomic_load(&fk.bind_calls), 1);
  assert_true(ino_of(psock_fileno(d)) == ino);
  unsetenv("PSOCK_ROUTE");
  psock_close(d);
  psock_close(srv);
  psock_close(c);
  psock_close(l);
}

/* ------------------------------------------- psockd's replaced sockets */

/* The name a socket is bound to, as the kernel says. */
static bool bound_to(int fd, const psock_address *a) {
  struct sockaddr_un sun;
  socklen_t len = sizeof(sun);
  size_t off = offsetof(struct sockaddr_un, sun_path);

  return getsockname(fd, (struct sockaddr *)&sun, &len) == 0 &&
         len == off + 1 + a->u.un.len && sun.sun_path[0] == '\0' &&
         memcmp(sun.sun_path + 1, a->u.un.path, a->u.un.len) == 0;
}

/* psockd's socket takes the place of the program's: same number, the
 * program's FD_CLOEXEC and O_NONBLOCK, the received copy closed. */
static void test_replaced_socket_takes_the_place(void **state) {
  psock_sock *nb, *bl, *l, *c, *srv;
  psock_address a, b;
  int fd, before;
  ino_t ino;
  char buf[4];

  setenv("PSOCK_ROUTE", "daemon", 1);
  fk.mode = FAKE_REPLACE;
  nb = psock_socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  bl = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  assert_non_null(nb);
  assert_non_null(bl);
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0)); /* pool warm */
  fake_settle();
  before = count_fds();

  fd = psock_fileno(nb);
  ino = ino_of(fd);
  abstract_name(&a, "replaced-nb");
  assert_int_equal(psock_bind(nb, &a), 0);
  assert_int_equal(psock_fileno(nb), fd);
  assert_true(ino_of(fd) != ino);
  assert_true(bound_to(fd, &a));
  assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
  fake_settle();
  assert_int_equal(count_fds(), before);

  fd = psock_fileno(bl);
  ino = ino_of(fd);
  abstract_name(&b, "replaced-bl");
  assert_int_equal(psock_bind(bl, &b), 0);
  assert_true(ino_of(fd) != ino && bound_to(fd, &b));
  assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
  fake_settle();
  assert_int_equal(count_fds(), before);

  /* A connect replaced the same way reaches the listener. */
  unsetenv("PSOCK_ROUTE");
  l = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  abstract_name(&b, "replaced-listener");
  assert_int_equal(psock_bind(l, &b), 0);
  assert_int_equal(psock_listen(l, 1), 0);
  setenv("PSOCK_ROUTE", "daemon", 1);
  c = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  ino = ino_of(psock_fileno(c));
  assert_int_equal(psock_connect(c, &b), 0);
  assert_true(ino_of(psock_fileno(c)) != ino);
  srv = psock_accept(l, NULL);
  assert_non_null(srv);
  assert_int_equal(psock_send(c, "rep", 3, 0), 3);
  assert_int_equal(psock_recv(srv, buf, sizeof(buf), 0), 3);
  assert_int_equal(atomic_load(&fk.bind_calls), 2);
  assert_int_equal(atomic_load(&fk.connect_calls), 1);
  unsetenv("PSOCK_ROUTE");
  psock_close(srv);
  psock_close(c);
  psock_close(l);
  psock_close(bl);
  psock_close(nb);
}

/* A reply whose fds disagree with its replaced flag is a protocol error;
 * the program's socket stays as it was and nothing leaks. */
static void test_replaced_fd_count_must_match(void **state) {
  psock_sock *s;
  psock_address a;
  int before;
  ino_t ino;

  setenv("PSOCK_ROUTE", "daemon", 1);
  s = psock_socket(AF_UNIX, SOCK_STREAM, 0);
  assert_non_null(s);
  ino = ino_of(psock_fileno(s));
  abstract_name(&a, "lying");
  fake_settle();
  before = count_fds();

  fk.mode = FAKE_REPLACE_NO_FD;
  assert_int_equal(psock_bind(s, &a), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  assert_int_equal(psock_last_error_code(), EPROTO);
  fk.mode = FAKE_FD_NOT_REPLACE;
  assert_int_equal(psock_bind(s, &a), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_PROTOCOL);
  assert_int_equal(psock_last_error_code(), EPROTO);
  assert_true(ino_of(psock_fileno(s)) == ino);
  fake_settle();
  assert_int_equal(count_fds(), before);

  /* The allowed twin on the same socket: replaced with its one fd. */
  fk.mode = FAKE_REPLACE;
  assert_int_equal(psock_bind(s, &a), 0);
  assert_true(ino_of(psock_fileno(s)) != ino);
  fake_settle();
  assert_int_equal(count_fds(), before);
  unsetenv("PSOCK_ROUTE");
  psock_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_connect_and_accept, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_connect_refused, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_create_connection, fake_start,
                                      fake_stop),
      cmocka_unit_test_setup_teardown(test_route_daemon_accept_waits,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_setsockopt_tries_the_kernel_first,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_unix_sockets_made_by_the_client,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_unix_sockets_route_daemon,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_unix_paths_bound_by_client,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(
          test_abstract_names_local_unless_route_daemon, fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_replaced_socket_takes_the_place,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_replaced_fd_count_must_match,
                                      fake_start, fake_stop),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
