/* SPDX-License-Identifier: MIT */
/*
 * psockd-priv's request checks and its channel handling, driven over real
 * socketpairs: every request outside the fixed lists, and every malformed
 * packet, ends that worker's channel while other channels keep working.
 * Runs priv_main() in a forked child of this (root) test process.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "privproto.h"
#include "wire.h"

struct priv_proc {
  pid_t pid;
  int control;
};

static struct priv_proc start_priv(void) {
  struct priv_proc p;
  int sv[2];

  assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv),
                   0);
  p.pid = fork();
  assert_true(p.pid >= 0);
  if (p.pid == 0) {
    close(sv[0]);
    _exit(priv_main(sv[1]) < 0 ? 1 : 0);
  }
  close(sv[1]);
  p.control = sv[0];
  return p;
}

static void stop_priv(struct priv_proc *p) {
  int status;

  close(p->control); /* psockd-priv exits when its control closes */
  assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* A new worker channel, handed to psockd-priv as the master does. */
static int new_channel(struct priv_proc *p, uint32_t id) {
  int sv[2];

  assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv),
                   0);
  assert_int_equal(wire_send_packet(p->control, &id, sizeof(id), &sv[1], 1, 0),
                   0);
  close(sv[1]);
  return sv[0];
}

/* Send raw bytes with optional fd; return the reply result or, if the
 * channel was closed instead, -ECONNRESET. *ret_fd gets a returned fd. */
static int exchange(int ch, const void *buf, size_t len, int fd_in,
                    int *ret_fd) {
  struct priv_reply rep;
  int fds[1] = {-1};
  size_t nfds = 0;
  ssize_t n;

  assert_int_equal(
      wire_send_packet(ch, buf, len, &fd_in, fd_in >= 0 ? 1 : 0, 0), 0);
  n = wire_recv_packet(ch, &rep, sizeof(rep), fds, 1, &nfds, 0);
  if (n == 0)
    return -ECONNRESET;
  assert_int_equal(n, sizeof(rep));
  if (ret_fd)
    *ret_fd = nfds ? fds[0] : -1;
  else
    wire_close_fds(fds, nfds);
  return rep.result;
}

static struct priv_request socket_req(int family, int type, int proto) {
  struct priv_request r = {
      .op = PRIV_OP_SOCKET, .family = family, .type = type, .proto = proto};
  return r;
}

static void test_raw_icmp_socket_is_created(void **state) {
  struct priv_proc p = start_priv();
  int ch = new_channel(&p, 1), fd = -1, type = 0;
  struct priv_request r = socket_req(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  socklen_t len = sizeof(type);

  assert_int_equal(exchange(ch, &r, sizeof(r), -1, &fd), 0);
  assert_true(fd >= 0);
  assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
  assert_int_equal(type, SOCK_RAW);
  close(fd);
  close(ch);
  stop_priv(&p);
}

/* Each refused request ends its own channel; a fresh one still works. */
static void expect_channel_ended(const void *buf, size_t len, int fd_in) {
  struct priv_proc p = start_priv();
  int ch = new_channel(&p, 1), ok = new_channel(&p, 2), fd = -1;
  struct priv_request good = socket_req(AF_INET, SOCK_DGRAM, 0);

  assert_int_equal(exchange(ch, buf, len, fd_in, NULL), -ECONNRESET);
  /* The other worker's channel is unaffected. */
  assert_int_equal(exchange(ok, &good, sizeof(good), -1, &fd), 0);
  assert_true(fd >= 0);
  close(fd);
  close(ch);
  close(ok);
  stop_priv(&p);
}

static void test_family_not_in_list_refused(void **state) {
  struct priv_request r = socket_req(AF_UNIX, SOCK_STREAM, 0);
  expect_channel_ended(&r, sizeof(r), -1);
}

static void test_type_not_in_list_refused(void **state) {
  struct priv_request r = socket_req(AF_INET, SOCK_RDM, 0);
  expect_channel_ended(&r, sizeof(r), -1);
}

static void test_bind_of_non_socket_refused(void **state) {
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
  struct priv_request r = {.op = PRIV_OP_BIND, .len = sizeof(sin)};
  int pipefd[2];

  memcpy(r.data, &sin, sizeof(sin));
  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  expect_channel_ended(&r, sizeof(r), pipefd[0]);
  close(pipefd[0]);
  close(pipefd[1]);
}

static void test_bind_family_mismatch_refused(void **state) {
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
  struct priv_request r = {.op = PRIV_OP_BIND, .len = sizeof(sin)};
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

  memcpy(r.data, &sin, sizeof(sin));
  expect_channel_ended(&r, sizeof(r), fd);
  close(fd);
}

static void test_unknown_option_refused(void **state) {
  struct priv_request r = {.op = PRIV_OP_SETSOCKOPT,
                           .level = SOL_SOCKET,
                           .optname = SO_REUSEADDR,
                           .len = sizeof(int)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  expect_channel_ended(&r, sizeof(r), fd);
  close(fd);
}

static void test_unknown_op_refused(void **state) {
  struct priv_request r = socket_req(AF_INET, SOCK_DGRAM, 0);
  r.op = 42;
  expect_channel_ended(&r, sizeof(r), -1);
}

static void test_truncated_request_refused(void **state) {
  struct priv_request r = socket_req(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  expect_channel_ended(&r, offsetof(struct priv_request, data), -1);
}

static void test_oversized_request_refused(void **state) {
  uint8_t big[sizeof(struct priv_request) + 16] = {0};
  struct priv_request r = socket_req(AF_INET, SOCK_RAW, IPPROTO_ICMP);

  memcpy(big, &r, sizeof(r));
  expect_channel_ended(big, sizeof(big), -1);
}

static void test_wrong_fd_count_refused(void **state) {
  struct priv_request r = socket_req(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  /* socket takes no fd: one attached is malformed. */
  expect_channel_ended(&r, sizeof(r), fd);
  close(fd);
}

static void test_privileged_option_is_set(void **state) {
  struct priv_proc p = start_priv();
  int ch = new_channel(&p, 1), mark = 42, got = 0;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct priv_request r = {.op = PRIV_OP_SETSOCKOPT,
                           .level = SOL_SOCKET,
                           .optname = SO_MARK,
                           .len = sizeof(int)};
  socklen_t len = sizeof(got);

  memcpy(r.data, &mark, sizeof(mark));
  assert_int_equal(exchange(ch, &r, sizeof(r), fd, NULL), 0);
  assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_MARK, &got, &len), 0);
  assert_int_equal(got, 42);
  close(fd);
  close(ch);
  stop_priv(&p);
}

static void test_validate_lists(void **state) {
  struct priv_request r = socket_req(AF_PACKET, SOCK_RAW, 0x0800);

  assert_int_equal(priv_validate(&r, -1), 0);
  r = socket_req(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP);
  assert_int_equal(priv_validate(&r, -1), 0);
  r = socket_req(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  assert_int_equal(priv_validate(&r, -1), -EPROTO);
  r = socket_req(AF_INET, SOCK_RAW, 256);
  assert_int_equal(priv_validate(&r, -1), -EPROTO);
  r.len = PRIV_DATA_MAX + 1;
  assert_int_equal(priv_validate(&r, -1), -EPROTO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_raw_icmp_socket_is_created),
      cmocka_unit_test(test_privileged_option_is_set),
      cmocka_unit_test(test_family_not_in_list_refused),
      cmocka_unit_test(test_type_not_in_list_refused),
      cmocka_unit_test(test_bind_of_non_socket_refused),
      cmocka_unit_test(test_bind_family_mismatch_refused),
      cmocka_unit_test(test_unknown_option_refused),
      cmocka_unit_test(test_unknown_op_refused),
      cmocka_unit_test(test_truncated_request_refused),
      cmocka_unit_test(test_oversized_request_refused),
      cmocka_unit_test(test_wrong_fd_count_refused),
      cmocka_unit_test(test_validate_lists),
  };
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
