/* SPDX-License-Identifier: MIT */
/*
 * Hostile clients break psockd's framing and fd passing: truncated,
 * oversized and random packets, requests before the handshake, a wrong
 * protocol version; missing, surplus and mismatched fds, fds that are not
 * sockets or not of the family the request implies. A framing error
 * closes that one connection, a request error gets a typed Error and the
 * connection stays; either way psockd's log says why, and the allowed twin
 * (an IPv4 socket bound, the next request served) still works.
 *
 * The fixture (a keeper, the warm-up, the final leak check) and how the
 * clients talk: hostile_common.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#include "hostile_common.h"
#include "wire.h"

/* A bind request for host:0 (the caller adds fds). */
struct bind_req {
  Psock__V1__Request req;
  Psock__V1__BindRequest bind;
  struct raw_address addr;
};

static void bind_request(struct bind_req *b, uint64_t id, const char *host) {
  b->req = (Psock__V1__Request)PSOCK__V1__REQUEST__INIT;
  b->bind = (Psock__V1__BindRequest)PSOCK__V1__BIND_REQUEST__INIT;
  raw_inet_address(&b->addr, host, 0);
  b->bind.address = &b->addr.a;
  b->req.id = id;
  b->req.call_case = PSOCK__V1__REQUEST__CALL_BIND;
  b->req.bind = &b->bind;
}

/* ------------------------------------------------------------ framing */

/* A valid request cut short: undecodable, so the connection closes. */
static int client_truncated(void *arg) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketRequest s = PSOCK__V1__SOCKET_REQUEST__INIT;
  uint8_t buf[256];
  ssize_t n;
  int fd = raw_connect();

  CHECK(fd >= 0);
  s.family = AF_INET;
  s.type = SOCK_STREAM;
  s.proto = 6;
  req.id = 2;
  req.call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
  req.socket = &s;
  n = wire_pack(&req.base, buf, sizeof(buf));
  CHECK(n > 4);
  /* The last field's value is missing: the sub-message cannot decode. */
  CHECK(wire_send_packet(fd, buf, (size_t)n - 1, NULL, 0, 0) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  return 0;
}

static void test_truncated_request_closes(void **state) {
  assert_as_nobody(client_truncated);
  assert_logged("undecodable packet");
}

/* Random bytes after the handshake, and random bytes as the first packet. */
static int client_random_bytes(void *arg) {
  uint8_t junk[512];
  unsigned seed = 12345;
  int fd;

  memset(junk, 0xff, sizeof(junk));
  fd = raw_connect();
  CHECK(fd >= 0);
  CHECK(raw_sendmsg(fd, junk, sizeof(junk), NULL, 0) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  for (int i = 0; i < 20; i++) {
    for (size_t j = 0; j < sizeof(junk); j++)
      junk[j] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
    fd = raw_open();
    CHECK(fd >= 0);
    CHECK(raw_sendmsg(fd, junk, 1 + (size_t)(seed % sizeof(junk)), NULL, 0) ==
          0);
    CHECK(raw_closed(fd));
    close(fd);
  }
  return 0;
}

static void test_random_bytes_close(void **state) {
  assert_as_nobody(client_random_bytes);
  assert_logged("undecodable packet of 512 bytes");
}

/* More than PSOCK_MAX_PACKET bytes in one packet. */
static int client_oversized(void *arg) {
  size_t len = PSOCK_MAX_PACKET + 4096;
  uint8_t *big = calloc(1, len);
  int fd = raw_connect();

  CHECK(big != NULL);
  CHECK(fd >= 0);
  CHECK(raw_sendmsg(fd, big, len, NULL, 0) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  free(big);
  return 0;
}

static void test_oversized_packet_closes(void **state) {
  assert_as_nobody(client_oversized);
  assert_logged("framing error: Message too long");
}

static int client_before_hello(void *arg) {
  struct bind_req b;
  int fd = raw_open(), sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  CHECK(fd >= 0 && sock >= 0);
  bind_request(&b, 7, "127.0.0.1");
  CHECK(raw_send(fd, &b.req, &sock, 1) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  close(sock);
  return 0;
}

static void test_request_before_handshake_closes(void **state) {
  assert_as_nobody(client_before_hello);
  assert_logged("request 15 before handshake");
}

static int client_wrong_version(void *arg) {
  Psock__V1__Response *r = NULL;
  int fd = raw_open();

  CHECK(fd >= 0);
  CHECK((r = raw_hello(fd, 99)) != NULL);
  CHECK(
      raw_is_error(r, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EPROTONOSUPPORT));
  CHECK(strstr(r->error->message, "protocol version 99") != NULL);
  psock__v1__response__free_unpacked(r, NULL);
  /* Answered, then closed. */
  CHECK(raw_closed(fd));
  close(fd);
  return 0;
}

static void test_wrong_protocol_version_answered_then_closed(void **state) {
  assert_as_nobody(client_wrong_version);
  assert_logged("speaks protocol 99, we speak 2");
}

/* ---------------------------------------------------------------- fds */

static int client_bind_without_fd(void *arg) {
  struct bind_req b;
  Psock__V1__Response *r;
  int fd = raw_connect();

  CHECK(fd >= 0);
  bind_request(&b, 3, "127.0.0.1");
  r = raw_call(fd, &b.req, NULL, 0, NULL, 0, NULL);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EPROTO));
  psock__v1__response__free_unpacked(r, NULL);
  /* A request error: the connection stays. */
  CHECK(raw_served(fd, 4));
  close(fd);
  return 0;
}

static void test_missing_fd_is_protocol_error(void **state) {
  assert_as_nobody(client_bind_without_fd);
  assert_logged("bind takes 1 fd(s), got 0");
}

static int client_three_fds(void *arg) {
  struct bind_req b;
  uint8_t buf[256];
  int socks[3], fd = raw_connect();
  ssize_t n;

  CHECK(fd >= 0);
  for (int i = 0; i < 3; i++)
    CHECK((socks[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
  bind_request(&b, 5, "127.0.0.1");
  b.req.fd_count = 3;
  n = wire_pack(&b.req.base, buf, sizeof(buf));
  CHECK(n > 0);
  CHECK(raw_sendmsg(fd, buf, (size_t)n, socks, 3) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  for (int i = 0; i < 3; i++)
    close(socks[i]);
  return 0;
}

static void test_too_many_fds_close(void **state) {
  assert_as_nobody(client_three_fds);
  assert_logged("framing error: Protocol error");
}

static int client_fd_count_mismatch(void *arg) {
  struct bind_req b;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int fd = raw_connect();

  CHECK(fd >= 0 && sock >= 0);
  bind_request(&b, 6, "127.0.0.1");
  /* Says one, sends none. */
  CHECK(raw_send_count(fd, &b.req, 1, NULL, 0) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  /* Says none, sends one. */
  fd = raw_connect();
  CHECK(fd >= 0);
  CHECK(raw_send_count(fd, &b.req, 0, &sock, 1) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  /* Says two, sends one. */
  fd = raw_connect();
  CHECK(fd >= 0);
  CHECK(raw_send_count(fd, &b.req, 2, &sock, 1) == 0);
  CHECK(raw_closed(fd));
  close(fd);
  close(sock);
  return 0;
}

static void test_fd_count_mismatch_closes(void **state) {
  assert_as_nobody(client_fd_count_mismatch);
  assert_logged("fd_count 1 but 0 fds arrived");
  assert_logged("fd_count 0 but 1 fds arrived");
  assert_logged("fd_count 2 but 1 fds arrived");
}

static int client_not_a_socket(void *arg) {
  struct bind_req b;
  Psock__V1__Response *r;
  int p[2], file, fd = raw_connect();

  CHECK(fd >= 0);
  CHECK(pipe2(p, O_CLOEXEC) == 0);
  bind_request(&b, 8, "127.0.0.1");
  r = raw_call(fd, &b.req, &p[0], 1, NULL, 0, NULL);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, ENOTSOCK));
  psock__v1__response__free_unpacked(r, NULL);
  file = open("/etc/hosts", O_RDONLY | O_CLOEXEC);
  CHECK(file >= 0);
  b.req.id = 9;
  r = raw_call(fd, &b.req, &file, 1, NULL, 0, NULL);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, ENOTSOCK));
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(raw_served(fd, 10));
  close(p[0]);
  close(p[1]);
  close(file);
  close(fd);
  return 0;
}

static void test_fd_not_a_socket_is_enotsock(void **state) {
  assert_as_nobody(client_not_a_socket);
  assert_logged("bind request 9 answered with error kind 1 code 88");
}

/* Bind sock to 127.0.0.1:0 through psockd; the reply. */
static Psock__V1__Response *bind_call(int fd, uint64_t id, int sock) {
  struct bind_req b;

  bind_request(&b, id, "127.0.0.1");
  return raw_call(fd, &b.req, &sock, 1, NULL, 0, NULL);
}

/*
 * An IPv4 address on a socket of another family. psockd takes the family
 * from the socket, not from the address: on an IPv6 socket the policy
 * allows the bind and the kernel refuses the address (EINVAL), nothing
 * worse; on an AF_UNIX socket nobody is refused by the policy, which
 * grants no bind on the client's own unix sockets (root's gets the
 * kernel's EINVAL, client_root_wrong_family). An IPv4 socket is bound.
 */
static int client_wrong_family(void *arg) {
  Psock__V1__Response *r;
  int sv[2], fd = raw_connect();
  int in6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int in4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);

  CHECK(fd >= 0 && in6 >= 0 && in4 >= 0);
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
  r = bind_call(fd, 11, in6);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
  psock__v1__response__free_unpacked(r, NULL);
  r = bind_call(fd, 12, sv[0]);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EACCES));
  psock__v1__response__free_unpacked(r, NULL);
  /* The allowed twin. */
  r = bind_call(fd, 13, in4);
  CHECK(r != NULL && r->result_case == PSOCK__V1__RESPONSE__RESULT_BIND);
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(getsockname(in4, (struct sockaddr *)&sin, &len) == 0);
  CHECK(sin.sin_family == AF_INET && sin.sin_port != 0 &&
        sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  CHECK(raw_served(fd, 14));
  close(sv[0]);
  close(sv[1]);
  close(in6);
  close(in4);
  close(fd);
  return 0;
}

/* Root's policy lets the bind through: the kernel refuses it. */
static int client_root_wrong_family(void *arg) {
  Psock__V1__Response *r;
  int sv[2], fd = raw_connect();

  CHECK(fd >= 0);
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
  r = bind_call(fd, 15, sv[0]);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(raw_served(fd, 16));
  close(sv[0]);
  close(sv[1]);
  close(fd);
  return 0;
}

static void test_socket_of_other_family_fails_in_kernel(void **state) {
  assert_as_nobody(client_wrong_family);
  assert_child_passed(harness_run_as_root(0, client_root_wrong_family, NULL),
                      "client_root_wrong_family");
  assert_logged("bind request 11 answered with error kind 1 code 22");
  assert_logged("bind request 12 answered with error kind 5 code 13");
  assert_logged("bind request 15 answered with error kind 1 code 22");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_truncated_request_closes),
      cmocka_unit_test(test_random_bytes_close),
      cmocka_unit_test(test_oversized_packet_closes),
      cmocka_unit_test(test_request_before_handshake_closes),
      cmocka_unit_test(test_wrong_protocol_version_answered_then_closed),
      cmocka_unit_test(test_missing_fd_is_protocol_error),
      cmocka_unit_test(test_too_many_fds_close),
      cmocka_unit_test(test_fd_count_mismatch_closes),
      cmocka_unit_test(test_fd_not_a_socket_is_enotsock),
      cmocka_unit_test(test_socket_of_other_family_fails_in_kernel),
      /* Last: after every hostile client has come and gone. */
      cmocka_unit_test(test_psockd_leaks_nothing),
  };

  return cmocka_run_group_tests_name("hostile-framing", tests, hostile_setup,
                                     hostile_teardown);
}
