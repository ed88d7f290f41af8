/* SPDX-License-Identifier: MIT */
/*
 * API coverage, the data path and socket objects: send, sendall, sendto in
 * both forms, recv, recv_into, recvfrom, recvfrom_into, makefile, fromfd,
 * socketpair, on sockets from a real psockd, the client running as nobody.
 * Each allowed case has its refused twin next to it.
 *
 * Client functions (client_*) run in a forked child: CHECK(), never
 * cmocka's assert_*.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "api_common.h"

#define SENDALL_BYTES (8u << 20)
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static struct {
  struct psockd_proc *psockd;
  pid_t sink_pid;
  uint16_t sink_port;
} fx;

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t len) {
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * FNV_PRIME;
  return h;
}

/* ------------------------------------------------ a reader on the host */

/*
 * The sink: a forked root process in the host's network namespace that
 * reads each connection to its end and answers with the byte count and an
 * FNV-1a hash of what arrived (a process, not a thread: see harness.h).
 */
static _Noreturn void sink_serve(int lfd) {
  static uint8_t buf[65536];

  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    uint64_t reply[2] = {0, FNV_OFFSET};
    ssize_t n;

    if (fd < 0)
      continue;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
      reply[0] += (uint64_t)n;
      reply[1] = fnv1a(reply[1], buf, (size_t)n);
    }
    send(fd, reply, sizeof(reply), MSG_NOSIGNAL);
    close(fd);
  }
}

static void start_sink(void) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(listen(fd, 4), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
  fx.sink_port = ntohs(sin.sin_port);
  fflush(NULL);
  fx.sink_pid = fork();
  assert_true(fx.sink_pid >= 0);
  if (fx.sink_pid == 0)
    sink_serve(fd);
  close(fd);
}

static void stop_sink(void) {
  int status;

  kill(fx.sink_pid, SIGKILL);
  waitpid(fx.sink_pid, &status, 0);
}

/* ------------------------------------------------------------ sendall */

/* sendall() 8 MiB to the sink in the socket's current mode; check receipt */
static int sendall_to_sink(double timeout, const uint8_t *data) {
  psock_address a;
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);
  uint64_t reply[2];

  CHECK(s && psock_addr_inet(&a, "127.0.0.1", fx.sink_port) == 0);
  CHECK(psock_connect(s, &a) == 0);
  CHECK(psock_settimeout(s, timeout) == 0);
  CHECK(psock_sendall(s, data, SENDALL_BYTES, 0) == 0);
  CHECK(psock_shutdown(s, SHUT_WR) == 0);
  CHECK(api_recv_exact(s, reply, sizeof(reply)) == 0);
  CHECK(reply[0] == SENDALL_BYTES);
  CHECK(reply[1] == fnv1a(FNV_OFFSET, data, SENDALL_BYTES));
  psock_close(s);
  return 0;
}

static int client_sendall(void *arg) {
  uint8_t *data = malloc(SENDALL_BYTES);
  int r1, r2;

  CHECK(data != NULL);
  api_fill_pattern(data, SENDALL_BYTES, 7);
  r1 = sendall_to_sink(PSOCK_TIMEOUT_NONE, data);
  r2 = sendall_to_sink(10.0, data);
  free(data);
  CHECK(r1 == 0 && r2 == 0);
  return 0;
}

static int client_sendall_peer_closed(void *arg) {
  static uint8_t data[1 << 20];
  psock_sock *a, *b;

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  CHECK(psock_close(b) == 0);
  /* flags reach send(2): MSG_NOSIGNAL turns SIGPIPE into EPIPE. */
  CHECK(psock_sendall(a, data, sizeof(data), MSG_NOSIGNAL) == -1);
  CHECK(api_is_os_error(EPIPE));
  psock_close(a);
  return 0;
}

static void test_sendall_8mib_to_host_reader(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_sendall, NULL);
}

static void test_sendall_to_closed_peer_refused(void **state) {
  assert_as_nobody(0, client_sendall_peer_closed, NULL);
}

/* -------------------------------------------------------- send and recv */

static int client_send_recv_flags(void *arg) {
  psock_sock *a, *b;
  char buf[16];

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  CHECK(psock_send(a, "peek", 4, 0) == 4);
  /* recv(MSG_PEEK) leaves the bytes for the next recv. */
  CHECK(psock_recv(b, buf, sizeof(buf), MSG_PEEK) == 4);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 4);
  CHECK(memcmp(buf, "peek", 4) == 0);
  CHECK(psock_send(b, "back", 4, 0) == 4);
  CHECK(psock_recv(a, buf, 2, 0) == 2 && memcmp(buf, "ba", 2) == 0);
  CHECK(psock_recv(a, buf, 2, 0) == 2 && memcmp(buf, "ck", 2) == 0);
  psock_close(a);
  psock_close(b);
  return 0;
}

static int client_send_recv_unconnected(void *arg) {
  psock_sock *u = psock_socket(AF_INET, SOCK_DGRAM, 0);
  psock_sock *t = psock_socket(AF_INET, SOCK_STREAM, 0);
  char buf[4];

  CHECK(u && t);
  CHECK(psock_send(u, "x", 1, 0) == -1);
  CHECK(api_is_os_error(EDESTADDRREQ));
  CHECK(psock_recv(t, buf, sizeof(buf), 0) == -1);
  CHECK(api_is_os_error(ENOTCONN));
  psock_close(u);
  psock_close(t);
  return 0;
}

static void test_send_recv_with_flags(void **state) {
  assert_as_nobody(0, client_send_recv_flags, NULL);
}

static void test_send_recv_unconnected_refused(void **state) {
  assert_as_nobody(0, client_send_recv_unconnected, NULL);
}

/* ------------------------------------------------ recv_into, recvfrom_into */

static int client_recv_into(void *arg) {
  psock_sock *a, *b;
  char buf[64];

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  CHECK(psock_send(a, "0123456789", 10, 0) == 10);
  /* nbytes 0: as much as the buffer holds. */
  memset(buf, '.', sizeof(buf));
  CHECK(psock_recv_into(b, buf, sizeof(buf), 0, 0) == 10);
  CHECK(memcmp(buf, "0123456789.", 11) == 0);
  CHECK(psock_send(a, "abcdefghij", 10, 0) == 10);
  /* nbytes 4: no more than that, and nothing past it is touched. */
  memset(buf, '.', sizeof(buf));
  CHECK(psock_recv_into(b, buf, sizeof(buf), 4, 0) == 4);
  CHECK(memcmp(buf, "abcd.", 5) == 0);
  /* A 6-byte buffer, nbytes 0: the whole (small) buffer is filled. */
  CHECK(psock_recv_into(b, buf, 6, 0, 0) == 6);
  CHECK(memcmp(buf, "efghij", 6) == 0);
  psock_close(a);
  psock_close(b);
  return 0;
}

static int client_recvfrom_into(void *arg) {
  psock_address rxname, txname, from;
  psock_sock *rx, *tx;
  char buf[64];

  rx = api_bound_udp(AF_INET, "127.0.0.1", &rxname);
  tx = api_bound_udp(AF_INET, "127.0.0.1", &txname);
  CHECK(rx && tx && psock_settimeout(rx, 5.0) == 0);
  CHECK(psock_sendto(tx, "datagram!", 9, &rxname) == 9);
  memset(buf, '.', sizeof(buf));
  CHECK(psock_recvfrom_into(rx, buf, sizeof(buf), 0, 0, &from) == 9);
  CHECK(memcmp(buf, "datagram!.", 10) == 0);
  CHECK(from.family == AF_INET && from.u.in.port == txname.u.in.port);
  CHECK(strcmp(from.u.in.host, "127.0.0.1") == 0);
  /* nbytes 4 of a datagram: the rest of it is discarded. */
  CHECK(psock_sendto(tx, "datagram!", 9, &rxname) == 9);
  CHECK(psock_sendto(tx, "second", 6, &rxname) == 6);
  memset(buf, '.', sizeof(buf));
  CHECK(psock_recvfrom_into(rx, buf, sizeof(buf), 4, 0, &from) == 4);
  CHECK(memcmp(buf, "data.", 5) == 0);
  CHECK(psock_recvfrom_into(rx, buf, sizeof(buf), 0, 0, &from) == 6);
  CHECK(memcmp(buf, "second", 6) == 0);
  psock_close(rx);
  psock_close(tx);
  return 0;
}

static int client_into_nbytes_too_large(void *arg) {
  psock_address from;
  psock_sock *a, *b;
  char buf[8];

  CHECK(psock_socketpair(AF_UNIX, SOCK_DGRAM, 0, &a, &b) == 0);
  CHECK(psock_send(a, "x", 1, 0) == 1);
  CHECK(psock_recv_into(b, buf, sizeof(buf), sizeof(buf) + 1, 0) == -1);
  CHECK(api_is_value_error());
  psock_clear_error();
  CHECK(psock_recvfrom_into(b, buf, sizeof(buf), 100, 0, &from) == -1);
  CHECK(api_is_value_error());
  /* Refused before any I/O: the datagram is still there. */
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 1);
  psock_close(a);
  psock_close(b);
  return 0;
}

static void test_recv_into_fills_the_buffer(void **state) {
  assert_as_nobody(0, client_recv_into, NULL);
}

static void test_recvfrom_into_fills_the_buffer(void **state) {
  assert_as_nobody(0, client_recvfrom_into, NULL);
}

static void test_recv_into_nbytes_beyond_buffer_refused(void **state) {
  assert_as_nobody(0, client_into_nbytes_too_large, NULL);
}

/* -------------------------------------------------------------- sendto */

static int client_sendto_forms(void *arg) {
  psock_address rxname, from;
  psock_sock *rx, *tx;
  char buf[16];

  rx = api_bound_udp(AF_INET, "127.0.0.1", &rxname);
  tx = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(rx && tx && psock_settimeout(rx, 5.0) == 0);
  /* sendto(string, address) */
  CHECK(psock_sendto(tx, "plain", 5, &rxname) == 5);
  CHECK(psock_recvfrom(rx, buf, sizeof(buf), 0, &from) == 5);
  CHECK(memcmp(buf, "plain", 5) == 0);
  /* sendto(string, flags, address): MSG_MORE corks two into one. */
  CHECK(psock_sendto_flags(tx, "ab", 2, MSG_MORE, &rxname) == 2);
  CHECK(psock_sendto_flags(tx, "cd", 2, 0, &rxname) == 2);
  CHECK(psock_recvfrom(rx, buf, sizeof(buf), 0, &from) == 4);
  CHECK(memcmp(buf, "abcd", 4) == 0);
  psock_close(rx);
  psock_close(tx);
  return 0;
}

static int client_sendto_bad_flag(void *arg) {
  psock_address rxname;
  psock_sock *rx, *tx;

  rx = api_bound_udp(AF_INET, "127.0.0.1", &rxname);
  tx = psock_socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(rx && tx);
  CHECK(psock_sendto_flags(tx, "x", 1, MSG_OOB, &rxname) == -1);
  CHECK(api_is_os_error(EOPNOTSUPP));
  psock_close(rx);
  psock_close(tx);
  return 0;
}

static void test_sendto_with_and_without_flags(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_sendto_forms, NULL);
}

static void test_sendto_unsupported_flag_refused(void **state) {
  assert_as_nobody(0, client_sendto_bad_flag, NULL);
}

/* ------------------------------------------------------------ makefile */

static int client_makefile(void *arg) {
  psock_sock *a, *b;
  FILE *w, *r;
  char line[64];

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  w = psock_makefile(a, "w", -1);
  r = psock_makefile(b, "r", -1);
  CHECK(w && r);
  CHECK(fileno(w) != psock_fileno(a));
  CHECK(fprintf(w, "first line\nsecond %d\n", 2) > 0 && fflush(w) == 0);
  CHECK(fgets(line, sizeof(line), r) && strcmp(line, "first line\n") == 0);
  CHECK(fgets(line, sizeof(line), r) && strcmp(line, "second 2\n") == 0);
  /* Closing the file object leaves the socket open. */
  CHECK(fclose(w) == 0 && fclose(r) == 0);
  CHECK(psock_send(a, "still", 5, 0) == 5);
  CHECK(psock_recv(b, line, sizeof(line), 0) == 5);
  psock_close(a);
  psock_close(b);
  return 0;
}

static int client_makefile_nonblocking(void *arg) {
  psock_sock *a, *b;
  FILE *f;

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  CHECK(psock_setblocking(a, 0) == 0);
  CHECK(psock_makefile(a, "r", -1) == NULL);
  CHECK(api_is_value_error());
  psock_clear_error();
  CHECK(psock_settimeout(a, 2.0) == 0);
  CHECK(psock_makefile(a, "r", -1) == NULL);
  CHECK(api_is_value_error());
  /* Back in blocking mode it works. */
  CHECK(psock_setblocking(a, 1) == 0);
  f = psock_makefile(a, "r", -1);
  CHECK(f != NULL);
  fclose(f);
  psock_close(a);
  psock_close(b);
  return 0;
}

static void test_makefile_reads_and_writes_lines(void **state) {
  assert_as_nobody(0, client_makefile, NULL);
}

static void test_makefile_on_nonblocking_socket_refused(void **state) {
  assert_as_nobody(0, client_makefile_nonblocking, NULL);
}

/* -------------------------------------------------------------- fromfd */

static int client_fromfd(void *arg) {
  psock_sock *a, *b, *d;
  char buf[8];
  int own, type = 0;

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 0, &a, &b) == 0);
  d = psock_fromfd(psock_fileno(a), AF_UNIX, SOCK_STREAM, 0);
  CHECK(d != NULL);
  CHECK(psock_fileno(d) >= 0 && psock_fileno(d) != psock_fileno(a));
  CHECK(psock_family(d) == AF_UNIX && psock_type(d) == SOCK_STREAM);
  CHECK(psock_gettimeout(d) == PSOCK_TIMEOUT_NONE);
  CHECK(psock_send(d, "dup", 3, 0) == 3);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 3);
  /* Closing the duplicate leaves the original working. */
  CHECK(psock_close(d) == 0);
  CHECK(psock_send(a, "orig", 4, 0) == 4);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 4);
  psock_close(a);
  psock_close(b);

  /* Also an fd the program made itself (an inherited one, say). */
  own = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(own >= 0);
  d = psock_fromfd(own, AF_INET, SOCK_DGRAM, 0);
  CHECK(d && psock_getsockopt(d, SOL_SOCKET, SO_TYPE, &type) == 0);
  CHECK(type == SOCK_DGRAM);
  psock_close(d);
  CHECK(fcntl(own, F_GETFD) >= 0);
  close(own);
  return 0;
}

static int client_fromfd_bad_fd(void *arg) {
  int fd = dup(2);

  CHECK(fd >= 0 && close(fd) == 0);
  CHECK(psock_fromfd(fd, AF_INET, SOCK_STREAM, 0) == NULL);
  CHECK(api_is_os_error(EBADF));
  return 0;
}

static void test_fromfd_duplicates(void **state) {
  assert_as_nobody(0, client_fromfd, NULL);
}

static void test_fromfd_of_closed_fd_refused(void **state) {
  assert_as_nobody(0, client_fromfd_bad_fd, NULL);
}

/* ---------------------------------------------------------- socketpair */

static int client_socketpair(void *arg) {
  psock_sock *a = NULL, *b = NULL;
  char buf[16];

  CHECK(psock_socketpair(AF_UNIX, SOCK_SEQPACKET, 0, &a, &b) == 0);
  CHECK(psock_family(a) == AF_UNIX && psock_type(a) == SOCK_SEQPACKET);
  CHECK(psock_family(b) == AF_UNIX && psock_type(b) == SOCK_SEQPACKET);
  CHECK(psock_proto(a) == 0 && psock_proto(b) == 0);
  CHECK(psock_send(a, "one", 3, 0) == 3 && psock_send(a, "two", 3, 0) == 3);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 3 && memcmp(buf, "one", 3) == 0);
  CHECK(psock_recv(b, buf, sizeof(buf), 0) == 3 && memcmp(buf, "two", 3) == 0);
  CHECK(psock_send(b, "back", 4, 0) == 4);
  CHECK(psock_recv(a, buf, sizeof(buf), 0) == 4);
  psock_close(a);
  psock_close(b);
  return 0;
}

static int client_socketpair_bad_proto(void *arg) {
  psock_sock *a = NULL, *b = NULL;

  CHECK(psock_socketpair(AF_UNIX, SOCK_STREAM, 7, &a, &b) == -1);
  CHECK(api_is_os_error(EPROTONOSUPPORT));
  CHECK(a == NULL && b == NULL);
  return 0;
}

static void test_socketpair_gives_connected_sockets(void **state) {
  assert_as_nobody(HARNESS_EMPTY_NETNS, client_socketpair, NULL);
}

static void test_socketpair_bad_protocol_refused(void **state) {
  assert_as_nobody(0, client_socketpair_bad_proto, NULL);
}

/* ---------------------------------------------------------------- setup */

static int setup(void **state) {
  api_private_name_service(NULL);
  start_sink();
  fx.psockd = harness_start_psockd(NULL);
  api_watch_psockd(fx.psockd);
  return 0;
}

static int teardown(void **state) {
  stop_sink();
  api_watch_psockd(NULL);
  harness_stop_psockd(fx.psockd);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sendall_8mib_to_host_reader),
      cmocka_unit_test(test_sendall_to_closed_peer_refused),
      cmocka_unit_test(test_send_recv_with_flags),
      cmocka_unit_test(test_send_recv_unconnected_refused),
      cmocka_unit_test(test_recv_into_fills_the_buffer),
      cmocka_unit_test(test_recvfrom_into_fills_the_buffer),
      cmocka_unit_test(test_recv_into_nbytes_beyond_buffer_refused),
      cmocka_unit_test(test_sendto_with_and_without_flags),
      cmocka_unit_test(test_sendto_unsupported_flag_refused),
      cmocka_unit_test(test_makefile_reads_and_writes_lines),
      cmocka_unit_test(test_makefile_on_nonblocking_socket_refused),
      cmocka_unit_test(test_fromfd_duplicates),
      cmocka_unit_test(test_fromfd_of_closed_fd_refused),
      cmocka_unit_test(test_socketpair_gives_connected_sockets),
      cmocka_unit_test(test_socketpair_bad_protocol_refused),
  };

  return cmocka_run_group_tests_name("api-data", tests, setup, teardown);
}
