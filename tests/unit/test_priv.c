/* SPDX-License-Identifier: MIT */
/*
 * psockd-priv's request checks and its channel handling, driven over real
 * socketpairs: every request outside the fixed lists, and every malformed
 * packet, ends that worker's channel while other channels keep working; a
 * request the policy refuses for the channel's identity is answered with
 * the refusal and the channel stays; a socket it makes belongs to the
 * channel's user. Runs privserve_main() in a forked child of this (root)
 * test process, with the built-in default policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "privproto.h"
#include "privserve.h"
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
    _exit(privserve_main(sv[1], false) < 0 ? 1 : 0);
  }
  close(sv[1]);
  p.control = sv[0];
  /* The built-in default policy, as the master sends it. */
  {
    struct priv_ctl m = {.type = PRIV_CTL_POLICY};
    snprintf(m.name, sizeof(m.name), "default policy");
    assert_int_equal(wire_send_packet(p.control, &m, sizeof(m), NULL, 0, 0), 0);
  }
  return p;
}

static void stop_priv(struct priv_proc *p) {
  int status;

  close(p->control); /* psockd-priv exits when its control closes */
  assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* A new worker channel serving uid/gid, handed over as the master does. */
static int new_channel_as(struct priv_proc *p, uint32_t id, uint32_t uid,
                          uint32_t gid) {
  struct priv_ctl m = {.type = PRIV_CTL_CHANNEL,
                       .worker_id = id,
                       .identity = {.uid = uid, .gid = gid, .pid = 1}};
  int sv[2];

  assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv),
                   0);
  assert_int_equal(wire_send_packet(p->control, &m, sizeof(m), &sv[1], 1, 0),
                   0);
  close(sv[1]);
  return sv[0];
}

/* A channel of a root worker: the default policy allows root anything. */
static int new_channel(struct priv_proc *p, uint32_t id) {
  return new_channel_as(p, id, 0, 0);
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
  struct priv_request good = socket_req(AF_INET, SOCK_RAW, IPPROTO_ICMP);

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

/* Only what needs privilege: an unprivileged socket type, an option
 * anyone may set or a free value of one is not psockd-priv's to do. */
static void test_unprivileged_requests_refused(void **state) {
  struct priv_request r = socket_req(AF_INET, SOCK_DGRAM, 0);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), prio = 3;

  expect_channel_ended(&r, sizeof(r), -1);
  r = (struct priv_request){.op = PRIV_OP_SETSOCKOPT,
                            .level = SOL_SOCKET,
                            .optname = SO_PRIORITY,
                            .len = sizeof(int)};
  memcpy(r.data, &prio, sizeof(prio));
  expect_channel_ended(&r, sizeof(r), fd);
  close(fd);
}

/* Install a policy given as text, in a sealed memfd as the master does. */
static void send_policy(struct priv_proc *p, const char *text) {
  struct priv_ctl m = {.type = PRIV_CTL_POLICY};
  int fd = memfd_create("policy", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  snprintf(m.name, sizeof(m.name), "test policy");
  assert_int_equal(wire_send_packet(p->control, &m, sizeof(m), &fd, 1, 0), 0);
  close(fd);
}

/* A socket made for a worker belongs to the worker's user (the kernel's
 * owner matching, uid routing and SO_REUSEPORT groups see that user), not
 * to psockd-priv's. */
static void test_socket_belongs_to_the_user(void **state) {
  struct priv_proc p = start_priv();
  int ch, fd = -1;
  struct priv_request r = socket_req(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  struct stat st;

  send_policy(&p, "allow uid=4242 socket family=inet type=raw proto=icmp\n");
  ch = new_channel_as(&p, 1, 4242, 4343);
  assert_int_equal(exchange(ch, &r, sizeof(r), -1, &fd), 0);
  assert_int_equal(fstat(fd, &st), 0);
  assert_int_equal(st.st_uid, 4242);
  assert_int_equal(st.st_gid, 4343);
  close(fd);
  close(ch);
  stop_priv(&p);
}

/* The policy is checked again here, for the channel's identity: nobody's
 * worker asking for a privileged option is refused, and the channel stays
 * (a refusal is an answer, not a violation). */
static void test_policy_refusal_keeps_channel(void **state) {
  struct priv_proc p = start_priv();
  int ch = new_channel_as(&p, 1, 65534, 65534), mark = 42, fd2 = -1;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct priv_request r = {.op = PRIV_OP_SETSOCKOPT,
                           .level = SOL_SOCKET,
                           .optname = SO_MARK,
                           .len = sizeof(int)};
  struct priv_request raw = socket_req(AF_INET, SOCK_RAW, IPPROTO_TCP);

  memcpy(r.data, &mark, sizeof(mark));
  assert_true(exchange(ch, &r, sizeof(r), fd, NULL) < 0);
  assert_true(exchange(ch, &raw, sizeof(raw), -1, &fd2) < 0);
  assert_int_equal(fd2, -1);
  /* Still served: root's twin request on another channel succeeds. */
  {
    int root = new_channel(&p, 2);
    assert_int_equal(exchange(root, &r, sizeof(r), fd, NULL), 0);
    close(root);
  }
  close(fd);
  close(ch);
  stop_priv(&p);
}

static void test_validate_lists(void **state) {
  struct priv_request r = socket_req(AF_PACKET, SOCK_RAW, 0x0800);

  assert_int_equal(privproto_validate(&r, -1), 0);
  r = socket_req(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP);
  assert_int_equal(privproto_validate(&r, -1), 0);
  r = socket_req(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  assert_int_equal(privproto_validate(&r, -1), -EPROTO);
  r = socket_req(AF_INET, SOCK_RAW, 256);
  assert_int_equal(privproto_validate(&r, -1), -EPROTO);
  r = socket_req(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(privproto_validate(&r, -1), -EPROTO);
  r = socket_req(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  r.len = PRIV_DATA_MAX + 1;
  assert_int_equal(privproto_validate(&r, -1), -EPROTO);
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
      cmocka_unit_test(test_unprivileged_requests_refused),
      cmocka_unit_test(test_socket_belongs_to_the_user),
      cmocka_unit_test(test_policy_refusal_keeps_channel),
  };
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
