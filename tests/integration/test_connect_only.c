/* SPDX-License-Identifier: MIT */
/*
 * A policy that grants `connect` to one destination and no `socket` rule:
 * the client gets connected sockets only, made by psockd itself
 * (create_connection), and nothing it could point elsewhere. Clients run
 * as nobody in an empty network namespace.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include <psock/psock.h>

static struct {
  struct psockd_proc *psockd;
  struct harness_echo *echo;
  uint16_t port;
} t;

static int setup(void **state) {
  char dir[] = "/tmp/psock-connect-only.XXXXXX", path[64], policy[512];
  const char *args[] = {"--policy", path, NULL};
  FILE *f;

  t.echo = harness_start_echo(&t.port);
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/policy.conf", dir);
  snprintf(policy, sizeof(policy),
           "allow anyone lookup\n"
           "allow anyone connect family=inet addr=127.0.0.1/32 port=%u\n",
           t.port);
  f = fopen(path, "we");
  assert_non_null(f);
  fputs(policy, f);
  fclose(f);
  t.psockd = harness_start_psockd(args);
  unlink(path);
  rmdir(dir);
  return 0;
}

static int teardown(void **state) {
  harness_stop_psockd(t.psockd);
  harness_stop_echo(t.echo);
  return 0;
}

static int echo_through(psock_sock *s) {
  char buf[16] = {0};

  CHECK(psock_sendall(s, "connected", 9, 0) == 0);
  CHECK(psock_recv(s, buf, sizeof(buf), 0) == 9);
  CHECK(memcmp(buf, "connected", 9) == 0);
  return 0;
}

static int socket_refused(void *arg) {
  CHECK(psock_socket(AF_INET, SOCK_STREAM, 0) == NULL);
  CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
  CHECK(psock_last_error_code() == EACCES);
  return 0;
}

static int connected_socket_allowed(void *arg) {
  psock_address a;
  psock_sock *s;
  int r;

  CHECK(psock_addr_inet(&a, "127.0.0.1", t.port) == 0);
  s = psock_create_connection(&a, 5.0, NULL);
  CHECK(s != NULL);
  r = echo_through(s);
  psock_close(s);
  return r;
}

static int other_destination_refused(void *arg) {
  psock_address a;

  CHECK(psock_addr_inet(&a, "127.0.0.1", (uint16_t)(t.port + 1)) == 0);
  CHECK(psock_create_connection(&a, 5.0, NULL) == NULL);
  CHECK(psock_last_error_kind() == PSOCK_ERR_POLICY);
  CHECK(strstr(psock_last_error_message(), "no rule matched") != NULL);
  return 0;
}

static void test_unconnected_socket_refused(void **state) {
  assert_int_equal(
      harness_run_as_nobody(HARNESS_EMPTY_NETNS, socket_refused, NULL), 0);
}

static void test_connected_socket_to_allowed_destination(void **state) {
  assert_int_equal(harness_run_as_nobody(HARNESS_EMPTY_NETNS,
                                         connected_socket_allowed, NULL),
                   0);
}

static void test_connected_socket_to_other_destination_refused(void **state) {
  assert_int_equal(harness_run_as_nobody(HARNESS_EMPTY_NETNS,
                                         other_destination_refused, NULL),
                   0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unconnected_socket_refused),
      cmocka_unit_test(test_connected_socket_to_allowed_destination),
      cmocka_unit_test(test_connected_socket_to_other_destination_refused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
