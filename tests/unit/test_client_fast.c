/* SPDX-License-Identifier: MIT */
/*
 * libpsock-client's fast paths (issue 16: client/fast.c, page.c, conn.c)
 * against the fake psockd of tests/unit/fake_psockd.c, which sends a
 * policy page with its HelloReply and adds sockets to a batch:
 *
 * - connect, connect_ex, bind and listen of an inet socket made on the fd
 *   when the page says psockd would allow every such call (bind and
 *   listen once psockd has closed its copies of the sockets it sent), and
 *   asked of psockd when it does not (the other family only, a page psockd is
 *   rewriting, a refusal by psockd's policy), with the socket's modes kept
 *   (blocking, timeout, non-blocking); a privileged port still goes to
 *   psockd, another bind error does not;
 * - sockets of a kind the page batches: the rest of a batch kept at fd >=
 *   100, handed out at the lowest free number with the flags asked for;
 *   a new policy generation drops them; a cached number the program closed
 *   or replaced is forgotten and never closed; a child of fork() has none
 *   (with and without the fork handlers); threads never share one;
 * - no page (an older psockd), a page that is not one (unsealed, another
 *   layout, short, no fd), a page whose connection psockd closed, a page
 *   of another identity: every call asks, and nothing is said on stderr;
 * - PSOCK_FAST=0 and PSOCK_ROUTE=daemon: every call asks, no batch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
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
#include "../../client/fast.h"
#include "fake_psockd.h"
#include "psock/psock.h"

#define FREE_INET                                                              \
  (PSOCK_FREE_CONNECT_INET | PSOCK_FREE_SENDTO_INET | PSOCK_FREE_BIND_INET |   \
   PSOCK_FREE_LISTEN_INET)
#define FREE_INET6                                                             \
  (PSOCK_FREE_CONNECT_INET6 | PSOCK_FREE_SENDTO_INET6 |                        \
   PSOCK_FREE_BIND_INET6 | PSOCK_FREE_LISTEN_INET6)
#define FREE_ALL (FREE_INET | FREE_INET6)
#define BATCH_ALL                                                              \
  (PSOCK_BATCH_TCP4 | PSOCK_BATCH_UDP4 | PSOCK_BATCH_TCP6 | PSOCK_BATCH_UDP6)
/* Sockets a batch adds (the fake gives what the wire allows). */
#define EXTRAS                                                                 \
  ((int)(PSOCK_MAX_REPLY_FDS - 1 < PC_FAST_BATCH ? PSOCK_MAX_REPLY_FDS - 1     \
                                                 : PC_FAST_BATCH))

/* In a child: a step that must hold, else exit with its number. */
#define CHILD_CHECK(step, cond)                                                \
  do {                                                                         \
    if (!(cond))                                                               \
      _exit(step);                                                             \
  } while (0)

/* Run fn in a child (as nobody when drop and we are root): its status. */
static int in_child(bool drop, int (*fn)(void)) {
  int status;
  pid_t pid = fork();

  assert_true(pid >= 0);
  if (pid == 0) {
    if (drop && geteuid() == 0 &&
        (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
         setresuid(65534, 65534, 65534) < 0))
      _exit(99);
    _exit(fn());
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* The lowest fd number free now. */
static int lowest_free(void) {
  int fd = fcntl(0, F_DUPFD, 0);

  assert_true(fd >= 0);
  close(fd);
  return fd;
}

static int sock_int(int fd, int opt) {
  socklen_t len = sizeof(int);
  int v = -1;

  assert_int_equal(getsockopt(fd, SOL_SOCKET, opt, &v, &len), 0);
  return v;
}

static bool is_inet_socket(int fd) {
  struct stat st;
  socklen_t len = sizeof(int);
  int family;

  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
         getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) == 0 &&
         (family == AF_INET || family == AF_INET6);
}

/* The inet sockets at fds 100..199: the library's cache (its connections
 * are AF_UNIX, the fake's own fds live at 200 and above). */
static int cached_fds(int *out, int max) {
  int n = 0;

  for (int fd = 100; fd < 200; fd++)
    if (is_inet_socket(fd) && n < max)
      out[n++] = fd;
  return n;
}

static int ncached(void) {
  int fds[64];

  return cached_fds(fds, 64);
}

/* A TCP listener of the test's own on 127.0.0.1 (not through psock). */
static int plain_listener(int backlog, psock_address *ret) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  assert_true(l >= 0);
  assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(l, backlog), 0);
  assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
  psock_addr_inet(ret, "127.0.0.1", ntohs(sin.sin_port));
  return l;
}

static int calls(atomic_int *counter) {
  return atomic_load(counter);
}

/* A reply without fds (a name lookup): psockd has closed its copies of
 * the sockets it sent before, so bind and listen may be free again. */
static bool settle(void) {
  psock_addrinfo *ai = NULL;
  int r = psock_getaddrinfo("fake-host.test", NULL, AF_INET, 0, 0, 0, &ai);

  psock_freeaddrinfo(ai);
  return r == 0 && pc_conn_fds_settled();
}

/* s, once settled: a bind or listen of it may take the fast path. */
static psock_sock *settled(psock_sock *s) {
  assert_non_null(s);
  assert_true(settle());
  return s;
}

/* ------------------------------------------------------------ free calls */

static void test_free_calls_made_on_the_fd(void **state) {
  psock_address a, name;
  psock_sock *l, *c;
  int srv;

  fake_page_start(FAKE_PAGE_GOOD, FREE_ALL, 0);
  l = settled(psock_socket(AF_INET, SOCK_STREAM, 0));
  psock_addr_inet(&a, "127.0.0.1", 0);
  assert_int_equal(psock_bind(l, &a), 0);
  assert_int_equal(psock_listen(l, 4), 0);
  assert_int_equal(psock_getsockname(l, &name), 0);
  assert_true(name.u.in.port > 0);

  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_non_null(c);
  assert_int_equal(psock_connect(c, &name), 0);
  srv = accept4(psock_fileno(l), NULL, NULL, SOCK_CLOEXEC);
  assert_true(srv >= 0);
  close(srv);
  psock_close(c);

  /* connect_ex: the same, its errno as the value. */
  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_connect_ex(c, &name), 0);
  psock_close(c);
  psock_close(l);
  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  psock_clear_error();
  assert_int_equal(psock_connect_ex(c, &name), ECONNREFUSED);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_NONE);
  assert_int_equal(psock_connect(c, &name), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), ECONNREFUSED);
  psock_close(c);

  /* Not one of them reached psockd; the sockets did. */
  assert_int_equal(calls(&fk.bind_calls), 0);
  assert_int_equal(calls(&fk.listen_calls), 0);
  assert_int_equal(calls(&fk.connect_calls), 0);
  assert_int_equal(calls(&fk.socket_calls), 4);

  /* A host name in the address is still psockd's to resolve. */
  l = settled(psock_socket(AF_INET, SOCK_STREAM, 0));
  psock_addr_inet(&a, "fake-host.test", 0);
  assert_int_equal(psock_bind(l, &a), 0);
  assert_int_equal(psock_getsockname(l, &name), 0);
  assert_string_equal(name.u.in.host, "127.0.0.1");
  assert_int_equal(calls(&fk.bind_calls), 0);
  psock_close(l);
}

/* Each of the page's bits frees its own call and family only. */
static void test_calls_not_free_ask_psockd(void **state) {
  psock_address a, name;
  psock_sock *l, *c;

  /* The other family's calls are free: these ask. */
  fake_page_start(FAKE_PAGE_GOOD, FREE_INET6, 0);
  l = psock_socket(AF_INET, SOCK_STREAM, 0);
  psock_addr_inet(&a, "127.0.0.1", 0);
  assert_int_equal(psock_bind(l, &a), 0);
  assert_int_equal(psock_listen(l, 4), 0);
  assert_int_equal(psock_getsockname(l, &name), 0);
  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_connect(c, &name), 0);
  psock_close(c);
  psock_close(l);
  assert_int_equal(calls(&fk.bind_calls), 1);
  assert_int_equal(calls(&fk.listen_calls), 1);
  assert_int_equal(calls(&fk.connect_calls), 1);

  /* One call freed, the others not. */
  fake_page_set(PSOCK_FREE_LISTEN_INET, 0);
  l = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_bind(l, &a), 0);
  assert_int_equal(psock_listen(l, 4), 0);
  assert_int_equal(calls(&fk.bind_calls), 2);
  assert_int_equal(calls(&fk.listen_calls), 1);
  psock_close(l);

  /* An address of another family than the socket's: psockd's to judge. */
  fake_page_set(FREE_ALL, 0);
  l = psock_socket(AF_INET6, SOCK_STREAM, 0);
  assert_non_null(l);
  assert_int_equal(psock_bind(l, &a), -1);
  assert_int_equal(calls(&fk.bind_calls), 3);
  psock_close(l);

  /* Where nothing is free, psockd's refusal stands. */
  fake_page_set(0, 0);
  fk.mode = FAKE_POLICY;
  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_null(c);
  fk.mode = FAKE_NORMAL;
  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  fk.mode = FAKE_POLICY;
  assert_int_equal(psock_connect(c, &name), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_POLICY);
  assert_int_equal(psock_last_error_code(), EPERM);
  assert_int_equal(errno, EPERM);
  assert_int_equal(calls(&fk.connect_calls), 1); /* refused before */
  /* Free, the same connect is the kernel's: refused, nothing listens. */
  fake_page_set(FREE_INET, 0);
  assert_int_equal(psock_connect(c, &name), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), ECONNREFUSED);
  psock_close(c);
}

/* psockd rewriting the page (seq odd): nothing is free until it is done. */
static void test_page_being_rewritten_means_ask(void **state) {
  psock_address a;
  psock_sock *s;

  fake_page_start(FAKE_PAGE_GOOD, FREE_ALL, 0);
  psock_addr_inet(&a, "127.0.0.1", 0);
  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  fake_page_hold(true);
  assert_int_equal(psock_bind(s, &a), 0);
  assert_int_equal(calls(&fk.bind_calls), 1);
  psock_close(s);
  fake_page_hold(false);
  s = settled(psock_socket(AF_INET, SOCK_DGRAM, 0));
  assert_int_equal(psock_bind(s, &a), 0);
  assert_int_equal(calls(&fk.bind_calls), 1);
  psock_close(s);
}

/*
 * A socket psockd just sent may still be open in psockd: bind and listen,
 * whose state would outlive the program's close(), ask psockd until a
 * reply without fds says psockd closed its copies. Twin: after that reply
 * they are free again; connect does not wait.
 */
static void test_bind_listen_wait_for_psockds_copy(void **state) {
  psock_address a, name;
  psock_sock *s;
  int l;

  fake_page_start(FAKE_PAGE_GOOD, FREE_ALL, 0);
  psock_addr_inet(&a, "127.0.0.1", 0);
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_non_null(s);
  assert_false(pc_conn_fds_settled());
  assert_int_equal(psock_bind(s, &a), 0);
  assert_int_equal(calls(&fk.bind_calls), 1);
  /* The bind's reply carried no fds: settled, listen is free. */
  assert_true(pc_conn_fds_settled());
  assert_int_equal(psock_listen(s, 4), 0);
  assert_int_equal(calls(&fk.listen_calls), 0);
  psock_close(s);

  /* A listen that binds a port itself waits as a bind does. */
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_listen(s, 4), 0);
  assert_int_equal(calls(&fk.listen_calls), 1);
  psock_close(s);

  /* Connect leaves nothing behind a close but the connection's end. */
  l = plain_listener(4, &name);
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_false(pc_conn_fds_settled());
  assert_int_equal(psock_connect(s, &name), 0);
  assert_int_equal(calls(&fk.connect_calls), 0);
  psock_close(s);
  close(l);
  assert_int_equal(calls(&fk.bind_calls), 1);
}

/* A free connect keeps the socket's modes: timeout, non-blocking. */
static void test_free_connect_keeps_the_modes(void **state) {
  psock_address name;
  psock_sock *c, *queued;
  double t0;
  int l;

  fake_page_start(FAKE_PAGE_GOOD, FREE_ALL, 0);
  /* A listener with a full backlog: a connect to it waits. */
  l = plain_listener(0, &name);
  queued = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_connect(queued, &name), 0);

  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_settimeout(c, 0.3), 0);
  t0 = now_s();
  assert_int_equal(psock_connect(c, &name), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_TIMEOUT);
  assert_string_equal(psock_last_error_message(), "timed out");
  assert_true(now_s() - t0 >= 0.25);
  psock_close(c);

  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_settimeout(c, 0.3), 0);
  assert_int_equal(psock_connect_ex(c, &name), EWOULDBLOCK);
  psock_close(c);

  c = psock_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  assert_int_equal(psock_connect(c, &name), -1);
  assert_int_equal(psock_last_error_code(), EINPROGRESS);
  psock_close(c);
  assert_int_equal(calls(&fk.connect_calls), 0);
  psock_close(queued);
  close(l);
}

/* ------------------------------------------------------------- bind */

static int child_privileged_bind(void) {
  psock_address a, name;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHILD_CHECK(10, s != NULL);
  /* Port 1: the kernel keeps it from nobody; the (root) fake binds it. */
  psock_addr_inet(&a, "127.0.0.1", 1);
  CHILD_CHECK(11, psock_bind(s, &a) == 0);
  CHILD_CHECK(12, psock_getsockname(s, &name) == 0 && name.u.in.port == 1);
  psock_close(s);
  return 0;
}

static void test_privileged_bind_escalates(void **state) {
  psock_address a, name;
  psock_sock *s, *t;
  FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
  int start = 1024;

  if (f) {
    assert_int_equal(fscanf(f, "%d", &start), 1);
    fclose(f);
  }
  fake_page_start(FAKE_PAGE_GOOD, FREE_ALL, 0);
  if (geteuid() == 0 && start > 1) {
    assert_int_equal(in_child(true, child_privileged_bind), 0);
    /* Tried by the kernel first, then granted by psockd. */
    assert_int_equal(calls(&fk.bind_calls), 1);
  } else {
    print_message("privileged bind not tried: not root, or no privileged "
                  "ports (ip_unprivileged_port_start=%d)\n",
                  start);
  }
  /* Twin: another refusal of the kernel is the answer. */
  s = settled(psock_socket(AF_INET, SOCK_STREAM, 0));
  psock_addr_inet(&a, "127.0.0.1", 0);
  assert_int_equal(psock_bind(s, &a), 0);
  assert_int_equal(psock_getsockname(s, &name), 0);
  t = settled(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(psock_bind(t, &name), -1);
  assert_int_equal(psock_last_error_code(), EADDRINUSE);
  psock_close(t);
  psock_close(s);
  assert_int_equal(calls(&fk.bind_calls), geteuid() == 0 && start > 1);
}

/* The page's bind bit covers ports 0 and 1024-65535 only: a bind to a
 * port below 1024 goes to psockd even where the kernel would let the
 * caller (root here, or a low ip_unprivileged_port_start) bind it, so
 * that a rule on those ports is judged. Twin: port 1024 stays local. */
static void test_low_port_bind_asks_psockd(void **state) {
  psock_address a;
  psock_sock *s;

  fake_page_start(FAKE_PAGE_GOOD, FREE_ALL, 0);
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_non_null(s);
  psock_addr_inet(&a, "127.0.0.1", 1023);
  /* Whatever the (same-user) fake's own bind says: it was asked. */
  (void)psock_bind(s, &a);
  assert_int_equal(calls(&fk.bind_calls), 1);
  psock_close(s);
  s = settled(psock_socket(AF_INET6, SOCK_STREAM, 0));
  psock_addr_inet6(&a, "::1", 1024, 0, 0);
  assert_int_equal(psock_bind(s, &a), 0);
  assert_int_equal(calls(&fk.bind_calls), 1);
  psock_close(s);
}

/* ------------------------------------------------------------ batches */

/* A socket as psock_socket() must give it, at number want. */
static void assert_socket(psock_sock *s, int want, int family, int type,
                          int flags) {
  int fd = psock_fileno(s);

  assert_non_null(s);
  assert_int_equal(fd, want);
  assert_int_equal(sock_int(fd, SO_DOMAIN), family);
  assert_int_equal(sock_int(fd, SO_TYPE), type);
  assert_int_equal(sock_int(fd, SO_PROTOCOL),
                   type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
  assert_int_equal(psock_family(s), family);
  assert_int_equal(psock_type(s), type);
  assert_int_equal(!!(fcntl(fd, F_GETFD) & FD_CLOEXEC),
                   !!(flags & SOCK_CLOEXEC));
  assert_int_equal(!!(fcntl(fd, F_GETFL) & O_NONBLOCK),
                   !!(flags & SOCK_NONBLOCK));
  assert_true(psock_gettimeout(s) ==
              ((flags & SOCK_NONBLOCK) ? 0.0 : PSOCK_TIMEOUT_NONE));
}

static void test_batch_sockets_handed_out_as_asked(void **state) {
  static const int kinds[][2] = {{AF_INET, SOCK_STREAM},
                                 {AF_INET, SOCK_DGRAM},
                                 {AF_INET6, SOCK_STREAM},
                                 {AF_INET6, SOCK_DGRAM}};
  static const int flags[] = {0, SOCK_CLOEXEC, SOCK_NONBLOCK,
                              SOCK_NONBLOCK | SOCK_CLOEXEC};
  psock_address a, name;
  int asked = 0;

  fake_page_start(FAKE_PAGE_GOOD, 0, BATCH_ALL);
  for (size_t k = 0; k < 4; k++) {
    for (size_t i = 0; i < 4 * (size_t)(EXTRAS + 1); i++) {
      int before = calls(&fk.socket_calls), want = lowest_free();
      int fl = flags[i % 4];
      psock_sock *s =
          psock_socket(kinds[k][0], kinds[k][1] | fl,
                       kinds[k][1] == SOCK_STREAM ? IPPROTO_TCP : 0);

      assert_socket(s, want, kinds[k][0], kinds[k][1], fl);
      /* Every (EXTRAS + 1)th asks psockd, for a batch. */
      asked += calls(&fk.socket_calls) - before;
      assert_int_equal(asked, (int)(i / (size_t)(EXTRAS + 1)) + 1);
      assert_int_equal(calls(&fk.last_batch), PC_FAST_BATCH);
      /* A socket like any: it binds and says where. */
      if (kinds[k][0] == AF_INET)
        psock_addr_inet(&a, "127.0.0.1", 0);
      else
        psock_addr_inet6(&a, "::1", 0, 0, 0);
      assert_int_equal(psock_bind(s, &a), 0);
      assert_int_equal(psock_getsockname(s, &name), 0);
      assert_true(name.u.in.port > 0);
      psock_close(s);
    }
    asked = 0;
  }
  /* The rest of a batch waits above fd 100, close-on-exec. */
  {
    int fds[64], n;

    psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
    n = cached_fds(fds, 64);
    assert_int_equal(n, EXTRAS);
    for (int i = 0; i < n; i++)
      assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
  }
  /* Kinds the page does not batch are asked for one at a time. */
  fake_page_set(0, PSOCK_BATCH_UDP6);
  for (int i = 0; i < 3; i++) {
    int before = calls(&fk.socket_calls);

    psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
    assert_int_equal(calls(&fk.socket_calls), before + 1);
    assert_int_equal(calls(&fk.last_batch), 0);
  }
  psock_close(psock_socket(AF_INET, SOCK_RAW, IPPROTO_UDP));
  assert_int_equal(calls(&fk.last_batch), 0);
}

/* Is a socket of inode ino among the cached ones? */
static bool cached_inode(ino_t ino) {
  int fds[16], n = cached_fds(fds, 16);
  struct stat st;

  for (int i = 0; i < n; i++)
    if (fstat(fds[i], &st) == 0 && st.st_ino == ino)
      return true;
  return false;
}

static void test_new_generation_drops_the_cache(void **state) {
  int fds[64], n, before;
  ino_t old[8];
  psock_address a;
  psock_sock *s;
  struct stat st;

  fake_page_start(FAKE_PAGE_GOOD, 0, BATCH_ALL);
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  n = cached_fds(fds, 64);
  assert_int_equal(n, EXTRAS);
  for (int i = 0; i < n; i++) {
    assert_int_equal(fstat(fds[i], &st), 0);
    old[i] = st.st_ino;
  }
  /* A reload: the same kinds batched, another policy. The old sockets
   * are closed, new ones asked for. */
  fake_page_set(FREE_ALL, BATCH_ALL);
  before = calls(&fk.socket_calls);
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(calls(&fk.socket_calls), before + 1);
  for (int i = 0; i < n; i++)
    assert_false(cached_inode(old[i]));
  assert_int_equal(ncached(), EXTRAS);

  /* Any decision that reads a new generation drops them too. */
  s = settled(psock_socket(AF_INET, SOCK_DGRAM, 0)); /* a batch: UDP4 */
  assert_int_equal(ncached(), 2 * EXTRAS);
  fake_page_set(FREE_ALL, BATCH_ALL);
  psock_addr_inet(&a, "127.0.0.1", 0);
  assert_int_equal(psock_bind(s, &a), 0); /* free: the page was read */
  assert_int_equal(calls(&fk.bind_calls), 0);
  assert_int_equal(ncached(), 0);
  psock_close(s);

  /* The policy takes the kind off the batches: asked for alone. */
  fake_page_set(0, PSOCK_BATCH_TCP6);
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(calls(&fk.last_batch), 0);
  assert_int_equal(ncached(), 0);
}

/* The program closes or replaces a cached number: the library forgets it
 * and never closes what is there now. */
static void test_cached_number_closed_or_replaced(void **state) {
  int fds[64], n, p[2], mine, want;
  struct stat st, now;
  psock_sock *s;
  char c;

  fake_page_start(FAKE_PAGE_GOOD, 0, BATCH_ALL);
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  n = cached_fds(fds, 64);
  assert_int_equal(n, EXTRAS);

  /* dup2() of the program's own socket over every cached number. */
  mine = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(mine >= 0);
  assert_int_equal(fstat(mine, &st), 0);
  for (int i = 0; i < n; i++)
    assert_int_equal(dup2(mine, fds[i]), fds[i]);
  want = lowest_free();
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_socket(s, want, AF_INET, SOCK_STREAM, 0);
  assert_int_equal(calls(&fk.socket_calls), 2);
  for (int i = 0; i < n; i++) {
    assert_int_equal(fstat(fds[i], &now), 0);
    assert_int_equal(now.st_ino, st.st_ino);
    close(fds[i]);
  }
  psock_close(s);
  close(mine);

  /* Closed, then a pipe at the number: written to by the program only. */
  psock_close(psock_socket(AF_INET, SOCK_DGRAM, 0)); /* fills UDP4 */
  n = cached_fds(fds, 64);
  assert_int_equal(n, EXTRAS * 2);
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  for (int i = 0; i < n; i++)
    assert_int_equal(dup2(p[1], fds[i]), fds[i]);
  for (int i = 0; i < 2 * EXTRAS + 2; i++) {
    want = lowest_free();
    s = psock_socket(AF_INET, i % 2 ? SOCK_STREAM : SOCK_DGRAM, 0);
    assert_socket(s, want, AF_INET, i % 2 ? SOCK_STREAM : SOCK_DGRAM, 0);
    psock_close(s);
  }
  for (int i = 0; i < n; i++) {
    assert_int_equal(write(fds[i], "k", 1), 1);
    assert_int_equal(read(p[0], &c, 1), 1);
    close(fds[i]);
  }
  close(p[0]);
  close(p[1]);
}

/* ------------------------------------------------------- few fds left */

/* Numbers open below n. */
static int open_below(int n) {
  int k = 0;

  for (int fd = 0; fd < n; fd++)
    k += fcntl(fd, F_GETFD) >= 0;
  return k;
}

/* Fill every free number in [from, to) with a copy of fd 2; how many. */
static int fill(int from, int to) {
  int k = 0;

  for (int fd = from; fd < to; fd++)
    if (fcntl(fd, F_GETFD) < 0 && dup2(2, fd) == fd)
      k++;
  return k;
}

/*
 * With fewer free fds than a batch brings, the kernel truncates the
 * reply: the socket is still given, at the number socket(2) would give,
 * by a request for one. Twin: with no fd free, no socket and no fd
 * leaked. The limit is 102 and the numbers from lo + 3 to 99 are taken,
 * so that the library's connection still finds its place at 100 or 101.
 */
static int child_few_fds(bool none_free) {
  struct rlimit rl;
  int lo, n0, filled;
  psock_sock *s;

  /* The connection open (a first batch), nothing cached. */
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  pc_fast_flush();
  lo = lowest_free();
  CHILD_CHECK(10, lo + 3 < 100 && fcntl(lo + 1, F_GETFD) < 0 &&
                      fcntl(lo + 2, F_GETFD) < 0);
  filled = fill(lo + 3, 100);
  CHILD_CHECK(11, getrlimit(RLIMIT_NOFILE, &rl) == 0);
  rl.rlim_cur = 102;
  CHILD_CHECK(12, setrlimit(RLIMIT_NOFILE, &rl) == 0);
  CHILD_CHECK(13, 102 - open_below(102) < 1 + PC_FAST_BATCH);
  if (!none_free) {
    s = psock_socket(AF_INET, SOCK_STREAM, 0);
    CHILD_CHECK(14, s != NULL && psock_fileno(s) == lo);
    psock_close(s);
    return 0;
  }
  /* Every number below the limit taken: no socket, nothing leaked. */
  n0 = open_below(1024);
  filled += fill(0, 102);
  CHILD_CHECK(15, psock_socket(AF_INET, SOCK_STREAM, 0) == NULL);
  CHILD_CHECK(16, open_below(1024) <= n0 + filled);
  return 0;
}

static int child_few_fds_left(void) {
  return child_few_fds(false);
}

static int child_no_fd_left(void) {
  return child_few_fds(true);
}

static void test_batch_beyond_the_fd_limit(void **state) {
  int before;

  fake_page_start(FAKE_PAGE_GOOD, 0, BATCH_ALL);
  before = calls(&fk.socket_calls);
  assert_int_equal(in_child(false, child_few_fds_left), 0);
  /* The first batch; the one truncated; then one socket alone. */
  assert_int_equal(calls(&fk.socket_calls), before + 3);
  assert_int_equal(in_child(false, child_no_fd_left), 0);
}

/* ------------------------------------------------------------- fork */

static int cached_in_parent[64], ncached_in_parent;
static ino_t cached_ino[64];

/* Is fd open as the socket of inode ino? */
static bool is_socket_ino(int fd, ino_t ino) {
  struct stat st;

  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ino;
}

/* In the child: none of the parent's cached sockets is open (its numbers
 * may hold the child's own batch by now), and a socket still comes, from
 * psockd. */
static int child_has_no_cache(void) {
  psock_sock *s;

  for (int i = 0; i < ncached_in_parent; i++)
    CHILD_CHECK(20 + i, !is_socket_ino(cached_in_parent[i], cached_ino[i]));
  s = psock_socket(AF_INET, SOCK_STREAM, 0);
  CHILD_CHECK(30, s != NULL && psock_fileno(s) < 100);
  psock_close(s);
  return 0;
}

static void check_child_then_parent(bool raw) {
  int status, before;
  pid_t pid;

  /* A fresh batch: what an earlier round left is not this round's. */
  pc_fast_flush();
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  ncached_in_parent = cached_fds(cached_in_parent, 64);
  assert_int_equal(ncached_in_parent, EXTRAS);
  for (int i = 0; i < ncached_in_parent; i++) {
    struct stat st;

    assert_int_equal(fstat(cached_in_parent[i], &st), 0);
    cached_ino[i] = st.st_ino;
  }
  fflush(NULL);
  /* The fake's thread idle (it holds no lock a child could inherit). */
  fake_settle();
  /* _Fork() runs no pthread_atfork() handler: the cache notices by the
   * pid, once the child has a page of its own and looks (its first
   * socket, on a new connection, asks without a page). */
  pid = raw ? _Fork() : fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (raw) {
      for (int i = 0; i < 2; i++) {
        psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);

        CHILD_CHECK(40 + i, s != NULL);
        psock_close(s);
      }
    }
    _exit(child_has_no_cache());
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  /* The parent's are still there, and still handed out. */
  for (int i = 0; i < ncached_in_parent; i++)
    assert_true(is_socket_ino(cached_in_parent[i], cached_ino[i]));
  before = calls(&fk.socket_calls);
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(calls(&fk.socket_calls), before);
}

static void test_fork_drops_the_cache_in_the_child(void **state) {
  fake_page_start(FAKE_PAGE_GOOD, 0, BATCH_ALL);
  check_child_then_parent(false);
  check_child_then_parent(true);
}

/* ------------------------------------------------------------ threads */

#define THREADS 4
#define THREAD_CALLS 60

struct thread_result {
  ino_t ino[THREAD_CALLS];
  int failures;
};

static void *thread_sockets(void *p) {
  struct thread_result *r = p;
  psock_sock *held[THREAD_CALLS];
  struct stat st;

  /* Held until the end: no inode may come twice. */
  for (int i = 0; i < THREAD_CALLS; i++) {
    held[i] = psock_socket(AF_INET, SOCK_STREAM, 0);
    if (!held[i] || fstat(psock_fileno(held[i]), &st) < 0) {
      r->failures++;
      r->ino[i] = 0;
      continue;
    }
    r->ino[i] = st.st_ino;
  }
  for (int i = 0; i < THREAD_CALLS; i++)
    psock_close(held[i]);
  return NULL;
}

static int cmp_ino(const void *a, const void *b) {
  ino_t x = *(const ino_t *)a, y = *(const ino_t *)b;

  return x < y ? -1 : x > y;
}

static void test_threads_never_share_a_socket(void **state) {
  static struct thread_result r[THREADS];
  static ino_t all[THREADS * THREAD_CALLS];
  pthread_t t[THREADS];

  memset(r, 0, sizeof(r));
  fake_page_start(FAKE_PAGE_GOOD, 0, BATCH_ALL);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, thread_sockets, &r[i]), 0);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(r[i].failures, 0);
    memcpy(all + i * THREAD_CALLS, r[i].ino, sizeof(r[i].ino));
  }
  qsort(all, THREADS * THREAD_CALLS, sizeof(all[0]), cmp_ino);
  for (int i = 1; i < THREADS * THREAD_CALLS; i++)
    assert_true(all[i] != all[i - 1]);
  /* Fewer requests than sockets: the batches served the rest. */
  assert_true(calls(&fk.socket_calls) < THREADS * THREAD_CALLS || EXTRAS == 0);
}

/* ------------------------------------------- when there is no fast path */

/* Every call asks psockd, every socket alone. */
static void assert_all_ask(void) {
  psock_address a, name;
  psock_sock *l, *c;
  int before = calls(&fk.socket_calls);

  for (int i = 0; i < 3; i++)
    psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(calls(&fk.socket_calls), before + 3);
  assert_int_equal(calls(&fk.last_batch), 0);
  l = psock_socket(AF_INET, SOCK_STREAM, 0);
  psock_addr_inet(&a, "127.0.0.1", 0);
  assert_int_equal(psock_bind(l, &a), 0);
  assert_int_equal(psock_listen(l, 1), 0);
  /* On the fd: under PSOCK_ROUTE=daemon getsockname is psockd's too,
   * which the fake does not serve. */
  {
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    assert_int_equal(
        getsockname(psock_fileno(l), (struct sockaddr *)&sin, &len), 0);
    psock_addr_inet(&name, "127.0.0.1", ntohs(sin.sin_port));
  }
  c = psock_socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(psock_connect(c, &name), 0);
  psock_close(c);
  psock_close(l);
  assert_int_equal(calls(&fk.bind_calls), 1);
  assert_int_equal(calls(&fk.listen_calls), 1);
  assert_int_equal(calls(&fk.connect_calls), 1);
  atomic_store(&fk.bind_calls, 0);
  atomic_store(&fk.listen_calls, 0);
  atomic_store(&fk.connect_calls, 0);
  assert_int_equal(ncached(), 0);
}

static void test_psock_fast_0_asks_for_everything(void **state) {
  fake_page_start(FAKE_PAGE_GOOD, FREE_ALL, BATCH_ALL);
  setenv("PSOCK_FAST", "0", 1);
  assert_all_ask();
  /* PSOCK_ROUTE=daemon sends every call with a message to psockd. */
  unsetenv("PSOCK_FAST");
  setenv("PSOCK_ROUTE", "daemon", 1);
  assert_all_ask();
  unsetenv("PSOCK_ROUTE");
  /* Twin: on, the same calls stay here. */
  psock_close(psock_socket(AF_INET, SOCK_STREAM, 0));
  assert_int_equal(calls(&fk.last_batch), PC_FAST_BATCH);
  assert_int_equal(ncached(), EXTRAS);
}

/* An older psockd, or a page that is not one: as without, silently. */
static void test_no_page_or_a_bad_one_means_ask(void **state) {
  static const int kinds[] = {FAKE_PAGE_NONE, FAKE_PAGE_UNSEALED,
                              FAKE_PAGE_MAGIC, FAKE_PAGE_SHORT,
                              FAKE_PAGE_NO_FD};
  char path[] = "/tmp/psock-unit-stderr.XXXXXX";
  int err = mkstemp(path), saved = dup(STDERR_FILENO);
  struct stat st;

  assert_true(err >= 0 && saved >= 0);
  unlink(path);
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    fake_quiesce();
    if (fk.page)
      munmap(fk.page, PSOCK_PAGE_SIZE);
    if (fk.page_fd >= 0)
      close(fk.page_fd);
    fk.page = NULL;
    fk.page_fd = -1;
    fake_page_start(kinds[i], FREE_ALL, BATCH_ALL);
    assert_int_equal(dup2(err, STDERR_FILENO), STDERR_FILENO);
    assert_all_ask();
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
  }
  /* Nothing said about it. */
  assert_int_equal(fstat(err, &st), 0);
  assert_int_equal(st.st_size, 0);
  close(err);
  close(saved);
}

/* psockd closed the connection (its worker died): its page is written no
 * more, so it is not believed; a new connection brings a new one. */
static void test_page_of_a_closed_connection_not_believed(void **state) {
  psock_address a;
  psock_sock *s;

  fake_page_start(FAKE_PAGE_GOOD, FREE_ALL, 0);
  psock_addr_inet(&a, "127.0.0.1", 0);
  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  fake_hangup();
  assert_int_equal(psock_bind(s, &a), 0);
  assert_int_equal(calls(&fk.bind_calls), 1);
  psock_close(s);
  s = settled(psock_socket(AF_INET, SOCK_DGRAM, 0));
  assert_int_equal(psock_bind(s, &a), 0);
  assert_int_equal(calls(&fk.bind_calls), 1);
  psock_close(s);
}

/* A page of the identity a process had is not its page after setuid():
 * the first call as nobody asks (in a child; the fake counts). */
static int child_identity_change(void) {
  psock_address a;
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  psock_sock *t = psock_socket(AF_INET, SOCK_DGRAM, 0);

  psock_addr_inet(&a, "127.0.0.1", 0);
  CHILD_CHECK(49, settle());
  CHILD_CHECK(50, s && t && psock_bind(s, &a) == 0); /* root's page: free */
  psock_close(s);
  CHILD_CHECK(51, setgroups(0, NULL) == 0 &&
                      setresgid(65534, 65534, 65534) == 0 &&
                      setresuid(65534, 65534, 65534) == 0);
  CHILD_CHECK(52, psock_bind(t, &a) == 0); /* asks: a new identity */
  psock_close(t);
  s = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHILD_CHECK(53, settle() && s && psock_bind(s, &a) == 0); /* free */
  psock_close(s);
  return 0;
}

static void test_page_of_another_identity_not_used(void **state) {
  if (geteuid() != 0) {
    skip();
    return;
  }
  fake_page_start(FAKE_PAGE_GOOD, FREE_ALL, 0);
  assert_int_equal(in_child(false, child_identity_change), 0);
  assert_int_equal(calls(&fk.bind_calls), 1);
}

/* The decision itself, for the callers that route by it (psock-run). */
static void test_free_bits_one_by_one(void **state) {
  static const struct {
    enum pc_fast_call call;
    int family;
    uint32_t bit;
  } map[] = {
      {PC_FAST_CONNECT, AF_INET, PSOCK_FREE_CONNECT_INET},
      {PC_FAST_CONNECT, AF_INET6, PSOCK_FREE_CONNECT_INET6},
      {PC_FAST_SENDTO, AF_INET, PSOCK_FREE_SENDTO_INET},
      {PC_FAST_SENDTO, AF_INET6, PSOCK_FREE_SENDTO_INET6},
      {PC_FAST_BIND, AF_INET, PSOCK_FREE_BIND_INET},
      {PC_FAST_BIND, AF_INET6, PSOCK_FREE_BIND_INET6},
      {PC_FAST_LISTEN, AF_INET, PSOCK_FREE_LISTEN_INET},
      {PC_FAST_LISTEN, AF_INET6, PSOCK_FREE_LISTEN_INET6},
  };
  size_t n = sizeof(map) / sizeof(map[0]);

  fake_page_start(FAKE_PAGE_GOOD, 0, 0);
  /* No connection yet: no page. */
  assert_false(pc_fast_free(PC_FAST_CONNECT, AF_INET, AF_INET));
  psock_close(settled(psock_socket(AF_INET, SOCK_DGRAM, 0)));
  for (size_t i = 0; i < n; i++) {
    fake_page_set(map[i].bit, 0);
    for (size_t j = 0; j < n; j++)
      assert_int_equal(pc_fast_free(map[j].call, map[j].family, map[j].family),
                       i == j);
    /* Never for another address family, nor for other families. */
    assert_false(pc_fast_free(map[i].call, map[i].family,
                              map[i].family == AF_INET ? AF_INET6 : AF_INET));
    assert_false(pc_fast_free(map[i].call, AF_UNIX, AF_UNIX));
    assert_false(pc_fast_free(map[i].call, AF_NETLINK, AF_NETLINK));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_free_calls_made_on_the_fd,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_calls_not_free_ask_psockd,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_page_being_rewritten_means_ask,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_bind_listen_wait_for_psockds_copy,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_free_connect_keeps_the_modes,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_privileged_bind_escalates,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_low_port_bind_asks_psockd,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_batch_beyond_the_fd_limit,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_batch_sockets_handed_out_as_asked,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_new_generation_drops_the_cache,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_cached_number_closed_or_replaced,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_fork_drops_the_cache_in_the_child,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_threads_never_share_a_socket,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_psock_fast_0_asks_for_everything,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_no_page_or_a_bad_one_means_ask,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(
          test_page_of_a_closed_connection_not_believed, fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_page_of_another_identity_not_used,
                                      fake_start, fake_stop),
      cmocka_unit_test_setup_teardown(test_free_bits_one_by_one, fake_start,
                                      fake_stop),
  };

  return cmocka_run_group_tests_name("client fast paths", tests, NULL, NULL);
}
