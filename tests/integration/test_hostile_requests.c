/* SPDX-License-Identifier: MIT */
/*
 * Hostile clients send requests psockd must refuse, each with a typed
 * error while the connection stays (and a line in psockd's log): call
 * numbers the schema does not have, values out of every range, 60 KiB host
 * names, a NUL in a unix path, a socket option whose value is a pointer
 * into psockd's memory. The allowed twins: an option of the shared table
 * set through psockd, the next request served.
 *
 * The fixture (a keeper, the warm-up, the final leak check) and how the
 * clients talk: hostile_common.h.
 */
#include <errno.h>
#include <linux/filter.h>
#include <netdb.h>
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

/* Request envelopes with a call number the schema does not have. */
static int client_unknown_calls(void *arg) {
  /* id 2, fd_count 0, then field N as an empty message. */
  static const uint32_t fields[] = {9, 25, 29, 41, 99, 536870911};
  int fd = raw_connect();

  CHECK(fd >= 0);
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    uint8_t pkt[16] = {0x08, (uint8_t)(20 + i), 0x10, 0x00};
    size_t n = 4;
    uint64_t tag = (uint64_t)fields[i] << 3 | 2;
    Psock__V1__Response *r;

    do {
      pkt[n++] = (uint8_t)((tag & 0x7f) | (tag > 0x7f ? 0x80 : 0));
      tag >>= 7;
    } while (tag);
    pkt[n++] = 0; /* length 0 */
    CHECK(wire_send_packet(fd, pkt, n, NULL, 0, 0) == 0);
    r = raw_recv(fd, RAW_REPLY_TIMEOUT_MS, NULL, 0, NULL);
    CHECK(r != NULL && r->id == 20 + i);
    CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, ENOSYS));
    psock__v1__response__free_unpacked(r, NULL);
  }
  /* Values out of every range in a known call: refused as the kernel
   * refuses them, before the policy is asked. */
  {
    Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
    Psock__V1__SocketRequest s = PSOCK__V1__SOCKET_REQUEST__INIT;
    Psock__V1__Response *r;

    s.family = -1;
    s.type = 0x7fffffff;
    s.proto = -42;
    req.id = 30;
    req.call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
    req.socket = &s;
    r = raw_call(fd, &req, NULL, 0, NULL, 0, NULL);
    /* The kernel's first answer: type bits it does not know. */
    CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
    psock__v1__response__free_unpacked(r, NULL);
  }
  CHECK(raw_served(fd, 31));
  close(fd);
  return 0;
}

static void test_unknown_call_is_enosys(void **state) {
  assert_as_nobody(client_unknown_calls);
  assert_logged("unknown request 21 answered with error kind 6 code 38: "
                "unknown call 25");
  assert_logged("unknown call 536870911");
}

/* A 60 KiB host name in each call that takes a name. */
static int client_huge_strings(void *arg) {
  size_t len = 60 * 1024;
  char *name = malloc(len + 1);
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__HostnameRequest h = PSOCK__V1__HOSTNAME_REQUEST__INIT;
  struct raw_gai_req g;
  Psock__V1__Response *r;
  int fd = raw_connect();

  CHECK(name != NULL && fd >= 0);
  memset(name, 'a', len);
  for (size_t i = 63; i < len; i += 64)
    name[i] = '.';
  name[len] = '\0';

  /* gaierror, as for any name that does not exist. */
  raw_gai_request(&g, 40, name);
  r = raw_call(fd, &g.req, NULL, 0, NULL, 0, NULL);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__GAI_ERROR, EAI_NONAME));
  psock__v1__response__free_unpacked(r, NULL);

  h.name = name;
  req.id = 41;
  req.call_case = PSOCK__V1__REQUEST__CALL_GETHOSTBYNAME_EX;
  req.gethostbyname_ex = &h;
  r = raw_call(fd, &req, NULL, 0, NULL, 0, NULL);
  /* herror (docs/api.md): psockd grows gethostbyname_r()'s buffer until
   * the name fits, and the lookup itself finds nothing. */
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__HOST_ERROR, HOST_NOT_FOUND));
  psock__v1__response__free_unpacked(r, NULL);

  /* getfqdn answers an unknown name with the name: a 60 KiB reply. */
  r = hostile_getfqdn(fd, 42, name);
  CHECK(r != NULL);
  CHECK(r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR ||
        (r->result_case == PSOCK__V1__RESPONSE__RESULT_GETFQDN &&
         strlen(r->getfqdn->name) == len));
  psock__v1__response__free_unpacked(r, NULL);

  CHECK(raw_served(fd, 43));
  close(fd);
  free(name);
  return 0;
}

static void test_huge_host_name_is_an_error(void **state) {
  assert_as_nobody(client_huge_strings);
  assert_logged("getaddrinfo request 40 answered with error");
}

/* getnameinfo of a unix path holding a NUL. */
static int client_unix_path_nul(void *arg) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetnameinfoRequest q = PSOCK__V1__GETNAMEINFO_REQUEST__INIT;
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;
  Psock__V1__Response *r;
  int fd = raw_connect();

  CHECK(fd >= 0);
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
  a.unix_path.data = (uint8_t *)"/tmp/a\0/etc/passwd";
  a.unix_path.len = 18;
  q.address = &a;
  req.id = 50;
  req.call_case = PSOCK__V1__REQUEST__CALL_GETNAMEINFO;
  req.getnameinfo = &q;
  r = raw_call(fd, &req, NULL, 0, NULL, 0, NULL);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(raw_served(fd, 51));
  close(fd);
  return 0;
}

/* As root (psockd binds unix paths for root only): bind with a NUL. */
static int client_root_bind_path_nul(void *arg) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__BindRequest bind = PSOCK__V1__BIND_REQUEST__INIT;
  Psock__V1__Address a = PSOCK__V1__ADDRESS__INIT;
  Psock__V1__Response *r;
  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int fd = raw_connect();

  CHECK(fd >= 0 && sock >= 0);
  a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_PATH;
  a.unix_path.data = (uint8_t *)"/tmp/psock-hostile\0x";
  a.unix_path.len = 20;
  bind.address = &a;
  req.id = 52;
  req.call_case = PSOCK__V1__REQUEST__CALL_BIND;
  req.bind = &bind;
  r = raw_call(fd, &req, &sock, 1, NULL, 0, NULL);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(access("/tmp/psock-hostile", F_OK) < 0);
  close(sock);
  close(fd);
  return 0;
}

static void test_nul_in_unix_path_is_einval(void **state) {
  assert_as_nobody(client_unix_path_nul);
  assert_child_passed(harness_run_as_root(0, client_root_bind_path_nul, NULL),
                      "client_root_bind_path_nul");
  assert_logged("getnameinfo request 50 answered with error kind 1 code 22");
  assert_logged("bind request 52 answered with error kind 1 code 22");
}

/*
 * SO_ATTACH_FILTER's value points to the filter: psockd would have the
 * kernel read it from psockd's own memory (EFAULT here, a filter made of
 * psockd's memory elsewhere). Such an option never reaches the kernel from
 * psockd: it is not in the shared option table (proto/sockopts.h), so the
 * answer is ENOPROTOOPT, logged; an option of the table with a value of
 * the right size is set (the allowed twin), one with a value of another
 * size is EINVAL.
 */
static int client_option_with_pointer(void *arg) {
  struct sock_filter ret = BPF_STMT(BPF_RET | BPF_K, 0);
  struct sock_fprog prog = {.len = 1, .filter = (struct sock_filter *)4096};
  uint8_t big[64] = {1};
  Psock__V1__Response *r;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int one = 1, v = 0, fd = raw_connect();
  socklen_t len = sizeof(v);

  CHECK(fd >= 0 && sock >= 0);
  r = raw_setsockopt(fd, sock, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                     sizeof(prog), 0);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, ENOPROTOOPT));
  psock__v1__response__free_unpacked(r, NULL);
  /* The client itself may, of course, with its own memory. */
  prog.filter = &ret;
  CHECK(setsockopt(sock, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ==
        0);
  /* An option of the table, by value: set through psockd. */
  r = raw_setsockopt(fd, sock, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one), 0);
  CHECK(r != NULL && r->result_case == PSOCK__V1__RESPONSE__RESULT_SETSOCKOPT);
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(getsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &v, &len) == 0 && v == 1);
  /* The same option with a value of a size it does not take. */
  r = raw_setsockopt(fd, sock, SOL_SOCKET, SO_KEEPALIVE, big, sizeof(big), 0);
  CHECK(raw_is_error(r, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL));
  psock__v1__response__free_unpacked(r, NULL);
  CHECK(raw_served(fd, 63));
  close(sock);
  close(fd);
  return 0;
}

static void test_option_holding_a_pointer_refused(void **state) {
  char line[64];

  assert_as_nobody(client_option_with_pointer);
  snprintf(line, sizeof(line), "setsockopt(%d, %d) refused", SOL_SOCKET,
           SO_ATTACH_FILTER);
  hostile_assert_logged_line(fx.psockd, line, "not an option psockd passes");
  snprintf(line, sizeof(line), "setsockopt(%d, %d) refused", SOL_SOCKET,
           SO_KEEPALIVE);
  hostile_assert_logged_line(fx.psockd, line,
                             "value of a size the option does not take");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unknown_call_is_enosys),
      cmocka_unit_test(test_huge_host_name_is_an_error),
      cmocka_unit_test(test_nul_in_unix_path_is_einval),
      cmocka_unit_test(test_option_holding_a_pointer_refused),
      /* Last: after every hostile client has come and gone. */
      cmocka_unit_test(test_psockd_leaks_nothing),
  };

  return cmocka_run_group_tests_name("hostile-requests", tests, hostile_setup,
                                     hostile_teardown);
}
