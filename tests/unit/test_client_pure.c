/* SPDX-License-Identifier: MIT */
/*
 * libpsock-client without a daemon: byte order, the inet_* conversions with
 * the seed's error kinds, the default timeout, the thread-local last error,
 * and the local calls on a socket object (the three modes, send/recv,
 * accept, makefile) on fds this test creates itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../../client/address.h"
#include "../../client/conn.h"
#include "../../client/sock.h"
#include "config.h"

static void assert_error(int kind, int code, const char *message) {
  assert_int_equal(psock_last_error_kind(), kind);
  assert_int_equal(psock_last_error_code(), code);
  if (message)
    assert_string_equal(psock_last_error_message(), message);
}

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup_clear(void **state) {
  psock_clear_error();
  psock_setdefaulttimeout(PSOCK_TIMEOUT_NONE);
  return 0;
}

/* ------------------------------------------------------------ byte order */

static void test_byte_order(void **state) {
  uint16_t s = psock_htons(0x1234);
  uint32_t l = psock_htonl(0x01020304);
  const uint8_t *p;

  p = (const uint8_t *)&s;
  assert_int_equal(p[0], 0x12);
  assert_int_equal(p[1], 0x34);
  p = (const uint8_t *)&l;
  assert_int_equal(p[0], 1);
  assert_int_equal(p[3], 4);
  assert_int_equal(psock_ntohs(s), 0x1234);
  assert_int_equal(psock_ntohl(l), 0x01020304);
}

/* ------------------------------------------------------------- inet_aton */

static void check_aton(const char *text, uint8_t a, uint8_t b, uint8_t c,
                       uint8_t d) {
  uint8_t out[4] = {0};

  assert_int_equal(psock_inet_aton(text, out), 0);
  assert_int_equal(out[0], a);
  assert_int_equal(out[1], b);
  assert_int_equal(out[2], c);
  assert_int_equal(out[3], d);
}

static void test_inet_aton(void **state) {
  check_aton("127.0.0.1", 127, 0, 0, 1);
  /* The seed: fewer dots are accepted, as inet(3) reads them. */
  check_aton("127.1", 127, 0, 0, 1);
  check_aton("10.1.2", 10, 1, 0, 2);
  check_aton("16909060", 1, 2, 3, 4);
  check_aton("0x7f.1", 127, 0, 0, 1);
}

static void test_inet_aton_rejects(void **state) {
  static const char *const bad[] = {"",    "1.2.3.4.5", "256.1.1.1",
                                    "abc", "1..2",      "::1"};
  uint8_t out[4] = {9, 9, 9, 9};

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    errno = 0;
    assert_int_equal(psock_inet_aton(bad[i], out), -1);
    assert_error(PSOCK_ERR_OS, EINVAL,
                 "illegal IP address string passed to inet_aton");
    assert_int_equal(errno, EINVAL);
    assert_int_equal(out[0], 9); /* untouched on failure */
  }
  assert_int_equal(psock_inet_aton(NULL, out), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_VALUE);
}

/* ------------------------------------------------------------- inet_ntoa */

static void test_inet_ntoa(void **state) {
  const uint8_t ip[5] = {192, 168, 1, 20, 7};
  char buf[16];

  assert_int_equal(psock_inet_ntoa(ip, 4, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "192.168.1.20");

  /* The seed: not exactly 4 bytes is socket.error, not ValueError. */
  assert_int_equal(psock_inet_ntoa(ip, 3, buf, sizeof(buf)), -1);
  assert_error(PSOCK_ERR_OS, EINVAL, "packed IP wrong length for inet_ntoa");
  assert_int_equal(psock_inet_ntoa(ip, 5, buf, sizeof(buf)), -1);
  assert_error(PSOCK_ERR_OS, EINVAL, "packed IP wrong length for inet_ntoa");

  /* "192.168.1.20" needs 13 bytes: 12 is too few. */
  assert_int_equal(psock_inet_ntoa(ip, 4, buf, 12), -1);
  assert_error(PSOCK_ERR_OS, ERANGE, NULL);
  assert_int_equal(psock_inet_ntoa(ip, 4, buf, 13), 0);
}

/* ------------------------------------------------------ inet_pton / ntop */

static void test_inet_pton_ntop_v4(void **state) {
  uint8_t out[16];
  char buf[64];

  assert_int_equal(psock_inet_pton(AF_INET, "10.20.30.40", out, sizeof(out)),
                   4);
  assert_int_equal(out[0], 10);
  assert_int_equal(out[3], 40);
  assert_int_equal(psock_inet_ntop(AF_INET, out, 4, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "10.20.30.40");
}

static void test_inet_pton_ntop_v6(void **state) {
  uint8_t out[16];
  char buf[64];

  assert_int_equal(psock_inet_pton(AF_INET6, "2001:db8::1", out, sizeof(out)),
                   16);
  assert_int_equal(out[0], 0x20);
  assert_int_equal(out[1], 0x01);
  assert_int_equal(out[15], 1);
  assert_int_equal(psock_inet_ntop(AF_INET6, out, 16, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "2001:db8::1");

  assert_int_equal(psock_inet_pton(AF_INET6, "::ffff:1.2.3.4", out, 16), 16);
  assert_int_equal(out[10], 0xff);
  assert_int_equal(out[12], 1);
}

static void test_inet_pton_rejects(void **state) {
  uint8_t out[16];

  /* Unlike inet_aton, inet_pton takes only the full dotted quad. */
  assert_int_equal(psock_inet_pton(AF_INET, "127.1", out, sizeof(out)), -1);
  assert_error(PSOCK_ERR_OS, EINVAL,
               "illegal IP address string passed to inet_pton");
  assert_int_equal(psock_inet_pton(AF_INET6, "1.2.3.4", out, sizeof(out)), -1);
  assert_error(PSOCK_ERR_OS, EINVAL,
               "illegal IP address string passed to inet_pton");
  assert_int_equal(psock_inet_pton(AF_INET6, "1::2::3", out, sizeof(out)), -1);
  assert_error(PSOCK_ERR_OS, EINVAL, NULL);

  errno = 0;
  assert_int_equal(psock_inet_pton(AF_UNIX, "1.2.3.4", out, sizeof(out)), -1);
  assert_error(PSOCK_ERR_OS, EAFNOSUPPORT, NULL);
  assert_int_equal(errno, EAFNOSUPPORT);

  /* Room for 4 bytes is not room for an IPv6 address. */
  assert_int_equal(psock_inet_pton(AF_INET6, "::1", out, 4), -1);
  assert_error(PSOCK_ERR_OS, ERANGE, NULL);
}

static void test_inet_ntop_rejects(void **state) {
  const uint8_t packed[16] = {1, 2, 3, 4};
  char buf[64] = "untouched";

  /* The seed: the wrong length for the family is a ValueError. */
  assert_int_equal(psock_inet_ntop(AF_INET, packed, 16, buf, sizeof(buf)), -1);
  assert_error(PSOCK_ERR_VALUE, EINVAL,
               "invalid length of packed IP address string");
  assert_int_equal(psock_inet_ntop(AF_INET6, packed, 4, buf, sizeof(buf)), -1);
  assert_error(PSOCK_ERR_VALUE, EINVAL,
               "invalid length of packed IP address string");

  assert_int_equal(psock_inet_ntop(AF_UNIX, packed, 4, buf, sizeof(buf)), -1);
  assert_error(PSOCK_ERR_VALUE, EINVAL, "unknown address family 1");
  assert_string_equal(buf, "untouched");

  assert_int_equal(psock_inet_ntop(AF_INET, packed, 4, buf, 4), -1);
  assert_error(PSOCK_ERR_OS, ERANGE, NULL);
}

/* -------------------------------------------------------- default timeout */

static void test_default_timeout(void **state) {
  assert_true(psock_getdefaulttimeout() == PSOCK_TIMEOUT_NONE);
  assert_int_equal(psock_setdefaulttimeout(2.5), 0);
  assert_true(psock_getdefaulttimeout() == 2.5);
  assert_int_equal(psock_setdefaulttimeout(0.0), 0);
  assert_true(psock_getdefaulttimeout() == 0.0);

  /* Refused values leave the setting as it was. */
  assert_int_equal(psock_setdefaulttimeout(-2.0), -1);
  assert_error(PSOCK_ERR_VALUE, EINVAL, NULL);
  assert_int_equal(psock_setdefaulttimeout(NAN), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_VALUE);
  assert_true(psock_getdefaulttimeout() == 0.0);

  assert_int_equal(psock_setdefaulttimeout(PSOCK_TIMEOUT_NONE), 0);
  assert_true(psock_getdefaulttimeout() == PSOCK_TIMEOUT_NONE);
}

static void test_version(void **state) {
  assert_string_equal(psock_version(), PSOCK_VERSION);
}

/* ---------------------------------------------------------- last error */

struct thread_seen {
  int kind_before;
  char msg_before[64];
  int kind_after;
};

static void *other_thread(void *p) {
  struct thread_seen *seen = p;
  uint8_t out[4];

  seen->kind_before = psock_last_error_kind();
  snprintf(seen->msg_before, sizeof(seen->msg_before), "%s",
           psock_last_error_message());
  psock_inet_ntop(12345, out, 4, NULL, 0);
  seen->kind_after = psock_last_error_kind();
  return NULL;
}

static void test_last_error_is_per_thread(void **state) {
  struct thread_seen seen = {.msg_before = "not read"};
  uint8_t out[4];
  pthread_t t;

  assert_int_equal(psock_inet_aton("nonsense", out), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);

  assert_int_equal(pthread_create(&t, NULL, other_thread, &seen), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(seen.kind_before, PSOCK_ERR_NONE);
  assert_string_equal(seen.msg_before, "");
  assert_int_equal(seen.kind_after, PSOCK_ERR_VALUE);

  /* The other thread's ValueError did not replace ours. */
  assert_error(PSOCK_ERR_OS, EINVAL,
               "illegal IP address string passed to inet_aton");

  /* A successful call leaves it; clearing forgets it. */
  assert_int_equal(psock_inet_aton("1.2.3.4", out), 0);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  psock_clear_error();
  assert_error(PSOCK_ERR_NONE, 0, "");
}

/* ------------------------------------------- socket objects, no daemon */

/* A connected AF_UNIX stream pair wrapped as socket objects. */
static void local_pair(psock_sock **a, psock_sock **b) {
  int sv[2];

  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  *a = pc_sock_new(sv[0], AF_UNIX, SOCK_STREAM, 0);
  *b = pc_sock_new(sv[1], AF_UNIX, SOCK_STREAM, 0);
  assert_non_null(*a);
  assert_non_null(*b);
}

static void test_sock_flags_and_modes(void **state) {
  psock_sock *a, *b;
  int sv[2];

  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  /* Like the kernel's socket(): close-on-exec only when asked. */
  a = pc_sock_new(sv[0], AF_UNIX, SOCK_STREAM, 0);
  b = pc_sock_new(sv[1], AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                  0);
  assert_int_equal(fcntl(psock_fileno(a), F_GETFD) & FD_CLOEXEC, 0);
  assert_int_equal(fcntl(psock_fileno(b), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  assert_int_equal(psock_type(b), SOCK_STREAM);
  assert_int_equal(psock_family(b), AF_UNIX);
  assert_true(psock_gettimeout(a) == PSOCK_TIMEOUT_NONE);
  assert_true(psock_gettimeout(b) == 0.0);
  assert_true(fcntl(psock_fileno(b), F_GETFL) & O_NONBLOCK);

  /* Timeout mode runs the fd non-blocking; blocking mode clears it. */
  assert_int_equal(psock_settimeout(a, 1.5), 0);
  assert_true(psock_gettimeout(a) == 1.5);
  assert_true(fcntl(psock_fileno(a), F_GETFL) & O_NONBLOCK);
  assert_int_equal(psock_setblocking(a, 1), 0);
  assert_true(psock_gettimeout(a) == PSOCK_TIMEOUT_NONE);
  assert_false(fcntl(psock_fileno(a), F_GETFL) & O_NONBLOCK);
  assert_int_equal(psock_setblocking(a, 0), 0);
  assert_true(psock_gettimeout(a) == 0.0);

  assert_int_equal(psock_settimeout(a, -3.0), -1);
  assert_error(PSOCK_ERR_VALUE, EINVAL, NULL);
  assert_true(psock_gettimeout(a) == 0.0);
  psock_close(a);
  psock_close(b);
}

static void test_default_timeout_applies_to_new_sockets(void **state) {
  psock_sock *a, *b;

  assert_int_equal(psock_setdefaulttimeout(3.0), 0);
  local_pair(&a, &b);
  assert_true(psock_gettimeout(a) == 3.0);
  assert_true(fcntl(psock_fileno(a), F_GETFL) & O_NONBLOCK);
  psock_setdefaulttimeout(PSOCK_TIMEOUT_NONE);
  psock_close(a);
  psock_close(b);
}

static void test_recv_timeout_and_nonblocking(void **state) {
  psock_sock *a, *b;
  char buf[8];
  double t0;

  local_pair(&a, &b);
  assert_int_equal(psock_settimeout(a, 0.2), 0);
  t0 = now_s();
  errno = 0;
  assert_int_equal(psock_recv(a, buf, sizeof(buf), 0), -1);
  assert_error(PSOCK_ERR_TIMEOUT, ETIMEDOUT, "timed out");
  assert_int_equal(errno, ETIMEDOUT);
  assert_true(now_s() - t0 >= 0.19);
  assert_true(now_s() - t0 < 2.0);

  assert_int_equal(psock_setblocking(a, 0), 0);
  assert_int_equal(psock_recv(a, buf, sizeof(buf), 0), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_OS);
  assert_int_equal(psock_last_error_code(), EAGAIN);

  /* Data that is there is returned in every mode. */
  assert_int_equal(psock_send(b, "hey", 3, 0), 3);
  assert_int_equal(psock_settimeout(a, 0.2), 0);
  assert_int_equal(psock_recv(a, buf, sizeof(buf), 0), 3);
  assert_memory_equal(buf, "hey", 3);
  psock_close(a);
  psock_close(b);
}

static void test_recv_into(void **state) {
  psock_sock *a, *b;
  char buf[8] = {0};
  psock_address from;

  local_pair(&a, &b);
  assert_int_equal(psock_recv_into(a, buf, 4, 5, 0), -1);
  assert_error(PSOCK_ERR_VALUE, EINVAL, NULL);

  assert_int_equal(psock_sendall(b, "abcdef", 6, 0), 0);
  /* nbytes 0: the whole buffer; nbytes n: at most n. */
  assert_int_equal(psock_recv_into(a, buf, sizeof(buf), 2, 0), 2);
  assert_memory_equal(buf, "ab", 2);
  assert_int_equal(psock_recvfrom_into(a, buf, sizeof(buf), 0, 0, &from), 4);
  assert_memory_equal(buf, "cdef", 4);
  assert_int_equal(from.family, AF_UNIX);
  psock_close(a);
  psock_close(b);
}

struct reader {
  int fd;
  size_t total;
};

static void *drain(void *p) {
  struct reader *r = p;
  char buf[65536];
  ssize_t n;

  while ((n = read(r->fd, buf, sizeof(buf))) > 0)
    r->total += (size_t)n;
  return NULL;
}

static void test_sendall_in_timeout_mode(void **state) {
  static char big[4 << 20];
  struct reader rd = {0};
  psock_sock *a, *b;
  pthread_t t;

  local_pair(&a, &b);
  rd.fd = psock_fileno(b);
  assert_int_equal(pthread_create(&t, NULL, drain, &rd), 0);
  /* Far more than the socket buffer: sendall waits for room, chunk by
   * chunk, and every byte arrives. */
  assert_int_equal(psock_settimeout(a, 5.0), 0);
  assert_int_equal(psock_sendall(a, big, sizeof(big), 0), 0);
  assert_int_equal(psock_shutdown(a, SHUT_WR), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(rd.total, sizeof(big));
  psock_close(a);
  psock_close(b);
}

static void test_sendall_times_out_without_reader(void **state) {
  static char big[4 << 20];
  psock_sock *a, *b;

  local_pair(&a, &b);
  assert_int_equal(psock_settimeout(a, 0.1), 0);
  assert_int_equal(psock_sendall(a, big, sizeof(big), 0), -1);
  assert_error(PSOCK_ERR_TIMEOUT, ETIMEDOUT, "timed out");
  psock_close(a);
  psock_close(b);
}

/* A listening AF_UNIX socket at an abstract name unique to this test. */
static psock_sock *local_listener(psock_address *addr) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  psock_sock *s;
  int fd, n;

  n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "psock-test-%d",
               (int)getpid());
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_int_equal(
      bind(fd, (struct sockaddr *)&sun,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)),
      0);
  assert_int_equal(listen(fd, 4), 0);
  s = pc_sock_new(fd, AF_UNIX, SOCK_STREAM, 0);
  assert_non_null(s);
  assert_int_equal(psock_addr_unix_abstract(addr, sun.sun_path + 1, (size_t)n),
                   0);
  return s;
}

static void test_accept(void **state) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  psock_address addr, peer, name;
  psock_sock *l, *c;
  char text[128];
  int fd;

  l = local_listener(&addr);
  assert_int_equal(psock_getsockname(l, &name), 0);
  assert_true(name.u.un.abstract);
  assert_int_equal(name.u.un.len, addr.u.un.len);
  assert_memory_equal(name.u.un.path, addr.u.un.path, addr.u.un.len);

  /* Timeout mode: nobody connects, accept gives up. */
  assert_int_equal(psock_settimeout(l, 0.1), 0);
  assert_null(psock_accept(l, &peer));
  assert_error(PSOCK_ERR_TIMEOUT, ETIMEDOUT, "timed out");

  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memcpy(sun.sun_path + 1, addr.u.un.path, addr.u.un.len);
  assert_int_equal(connect(fd, (struct sockaddr *)&sun,
                           (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                       1 + addr.u.un.len)),
                   0);
  /* The new socket takes the default timeout (None), not the listener's. */
  c = psock_accept(l, &peer);
  assert_non_null(c);
  assert_true(psock_gettimeout(c) == PSOCK_TIMEOUT_NONE);
  assert_int_equal(psock_family(c), AF_UNIX);
  assert_int_equal(peer.family, AF_UNIX);
  assert_int_equal(peer.u.un.len, 0); /* an unbound client has no name */
  assert_memory_equal(psock_addr_format(&addr, text, sizeof(text)),
                      "@psock-test-", 12);
  assert_int_equal(write(fd, "x", 1), 1);
  assert_int_equal(psock_recv(c, text, sizeof(text), 0), 1);
  close(fd);
  assert_int_equal(psock_recv(c, text, sizeof(text), 0), 0); /* EOF */
  psock_close(c);
  psock_close(l);
}

static void test_makefile(void **state) {
  psock_sock *a, *b;
  char line[32];
  FILE *f;

  local_pair(&a, &b);
  assert_int_equal(psock_settimeout(a, 1.0), 0);
  assert_null(psock_makefile(a, "r", -1));
  assert_error(PSOCK_ERR_VALUE, EINVAL, NULL);

  assert_int_equal(psock_setblocking(a, 1), 0);
  f = psock_makefile(a, "r", 0);
  assert_non_null(f);
  assert_int_not_equal(fileno(f), psock_fileno(a));
  assert_int_equal(psock_sendall(b, "one line\n", 9, 0), 0);
  assert_non_null(fgets(line, sizeof(line), f));
  assert_string_equal(line, "one line\n");
  /* fclose() closes only the duplicate: the socket still works. */
  fclose(f);
  assert_int_equal(psock_send(a, "z", 1, 0), 1);
  assert_int_equal(psock_recv(b, line, sizeof(line), 0), 1);
  psock_close(a);
  psock_close(b);
}

static void test_null_arguments_do_not_crash(void **state) {
  psock_address a;
  int v;

  assert_int_equal(psock_close(NULL), 0);
  assert_int_equal(psock_fileno(NULL), -1);
  assert_int_equal(psock_recv(NULL, &v, sizeof(v), 0), -1);
  assert_error(PSOCK_ERR_VALUE, EINVAL, NULL);
  assert_int_equal(psock_getsockopt(NULL, SOL_SOCKET, SO_TYPE, &v), -1);
  assert_int_equal(psock_getsockname(NULL, &a), -1);
  assert_int_equal(psock_settimeout(NULL, 1.0), -1);
  assert_int_equal(psock_family(NULL), -1);
  assert_int_equal(psock_last_error_kind(), PSOCK_ERR_VALUE);
}

static void test_local_getsockopt(void **state) {
  psock_sock *a, *b;
  unsigned char buf[2048];
  size_t len = sizeof(int);
  int v = 0;

  local_pair(&a, &b);
  assert_int_equal(psock_getsockopt(a, SOL_SOCKET, SO_TYPE, &v), 0);
  assert_int_equal(v, SOCK_STREAM);
  assert_int_equal(psock_getsockopt_buf(a, SOL_SOCKET, SO_TYPE, buf, &len), 0);
  assert_int_equal(len, sizeof(int));
  /* CPython's buflen range: 1..1024. */
  len = 1025;
  assert_int_equal(psock_getsockopt_buf(a, SOL_SOCKET, SO_TYPE, buf, &len), -1);
  assert_error(PSOCK_ERR_VALUE, EINVAL, NULL);
  /* An unprivileged option is set on the fd itself, no daemon needed. */
  assert_int_equal(psock_setsockopt(a, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
  assert_int_equal(psock_getsockopt(a, SOL_SOCKET, SO_KEEPALIVE, &v), 0);
  assert_int_equal(v, 1);
  psock_close(a);
  psock_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_byte_order, setup_clear),
      cmocka_unit_test_setup(test_inet_aton, setup_clear),
      cmocka_unit_test_setup(test_inet_aton_rejects, setup_clear),
      cmocka_unit_test_setup(test_inet_ntoa, setup_clear),
      cmocka_unit_test_setup(test_inet_pton_ntop_v4, setup_clear),
      cmocka_unit_test_setup(test_inet_pton_ntop_v6, setup_clear),
      cmocka_unit_test_setup(test_inet_pton_rejects, setup_clear),
      cmocka_unit_test_setup(test_inet_ntop_rejects, setup_clear),
      cmocka_unit_test_setup(test_default_timeout, setup_clear),
      cmocka_unit_test_setup(test_version, setup_clear),
      cmocka_unit_test_setup(test_last_error_is_per_thread, setup_clear),
      cmocka_unit_test_setup(test_sock_flags_and_modes, setup_clear),
      cmocka_unit_test_setup(test_default_timeout_applies_to_new_sockets,
                             setup_clear),
      cmocka_unit_test_setup(test_recv_timeout_and_nonblocking, setup_clear),
      cmocka_unit_test_setup(test_recv_into, setup_clear),
      cmocka_unit_test_setup(test_sendall_in_timeout_mode, setup_clear),
      cmocka_unit_test_setup(test_sendall_times_out_without_reader,
                             setup_clear),
      cmocka_unit_test_setup(test_accept, setup_clear),
      cmocka_unit_test_setup(test_makefile, setup_clear),
      cmocka_unit_test_setup(test_null_arguments_do_not_crash, setup_clear),
      cmocka_unit_test_setup(test_local_getsockopt, setup_clear),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
