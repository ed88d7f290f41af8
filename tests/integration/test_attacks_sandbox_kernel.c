/* SPDX-License-Identifier: MIT */
/*
 * What the kernel would do with psockd's sockets and memory for a client
 * in a sandbox (issue 13, findings 2, 4 and 5):
 *
 *   2  MSG_ZEROCOPY and socket options whose value is a pointer are never
 *      passed (the kernel would read psockd's memory); allowed flags and
 *      options are
 *   4  no raw ICMP socket under the default policy; ICMP datagram sockets
 *      work (or the error names ping_group_range), raw ones by explicit
 *      rule for a group
 *   5  sockets belong to their user, not to psockd: nobody cannot join
 *      uid 1000's SO_REUSEPORT group to take its connections
 *
 * The fixture and the psockd of each test: attacks_sandbox_common.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/tcp.h>
#include <netinet/in.h>
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

#include "attacks_sandbox_common.h"

#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif

/* A group no account has: members only by harness_run_as(). */
#define NETRAW_GID 4343

/* ------------------------------------------------- finding 2: zerocopy */

struct udp_target {
  uint16_t port;
};

/* The attack: SO_ZEROCOPY on its own UDP socket, then a sendto through
 * psockd with MSG_ZEROCOPY (the kernel would send the worker's buffer
 * later, after another client's request reused it). */
static int client_zerocopy_refused(void *arg) {
  const struct udp_target *t = arg;
  int conn = raw_connect(), kind, code, fd, one = 1;
  Psock__V1__Response *r;

  CHECK(conn >= 0);
  fd = raw_socket(conn, AF_INET, SOCK_DGRAM, 0, &kind, &code);
  CHECK(fd >= 0);
  CHECK(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) == 0);
  r = raw_sendto(conn, fd, "zerocopy-secret-1", MSG_ZEROCOPY, "127.0.0.1",
                 t->port);
  CHECK(strstr(raw_error_message(r), "not passed by psockd") != NULL);
  CHECK(refused(r, KIND_OS, EINVAL));
  r = raw_sendto(conn, fd, "zerocopy-secret-2", MSG_ZEROCOPY | MSG_MORE,
                 "127.0.0.1", t->port);
  CHECK(refused(r, KIND_OS, EINVAL));
  /* Twin: flags of the allow-list go through, and arrive. */
  r = raw_sendto(conn, fd, "dontroute-ok", MSG_DONTROUTE, "127.0.0.1", t->port);
  CHECK(raw_is_result(r, PSOCK__V1__RESPONSE__RESULT_SENDTO));
  CHECK(r->sendto->sent == strlen("dontroute-ok"));
  psock__v1__response__free_unpacked(r, NULL);
  r = raw_sendto(conn, fd, "plain-ok", 0, "127.0.0.1", t->port);
  CHECK(raw_is_result(r, PSOCK__V1__RESPONSE__RESULT_SENDTO));
  CHECK(r->sendto->sent == strlen("plain-ok"));
  psock__v1__response__free_unpacked(r, NULL);
  close(fd);
  close(conn);
  return 0;
}

/* Options whose value the kernel would read from or write into psockd's
 * memory (a pointer in the value) are never passed. */
static int client_pointer_options_refused(void *arg) {
  struct sock_filter accept_all = BPF_STMT(BPF_RET | BPF_K, 0xffff);
  struct sock_fprog prog = {.len = 1, .filter = &accept_all};
  int conn = raw_connect(), kind, code, fd;
  Psock__V1__Response *r;

  CHECK(conn >= 0);
  fd = raw_socket(conn, AF_INET, SOCK_STREAM, 0, &kind, &code);
  CHECK(fd >= 0);
  r = raw_getsockopt(conn, fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE,
                     sizeof(struct tcp_zerocopy_receive));
  CHECK(refused(r, KIND_OS, ENOPROTOOPT));
  r = raw_setsockopt(conn, fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                     sizeof(prog), 0);
  CHECK(refused(r, KIND_OS, ENOPROTOOPT));
  /* Twins: options of the table go through. */
  r = raw_getsockopt(conn, fd, IPPROTO_TCP, TCP_NODELAY, 0);
  CHECK(raw_is_result(r, PSOCK__V1__RESPONSE__RESULT_GETSOCKOPT));
  CHECK(r->getsockopt->value_case ==
            PSOCK__V1__GETSOCKOPT_REPLY__VALUE_INT_VALUE &&
        r->getsockopt->int_value == 0);
  psock__v1__response__free_unpacked(r, NULL);
  r = raw_setsockopt(conn, fd, SOL_SOCKET, SO_KEEPALIVE, NULL, 0, 1);
  CHECK(has_result(r, PSOCK__V1__RESPONSE__RESULT_SETSOCKOPT));
  close(fd);
  close(conn);
  return 0;
}

static void test_f2_zerocopy_and_pointer_options_refused(void **state) {
  struct udp_target t;
  int rx = harness_loopback_socket(SOCK_DGRAM, &t.port);
  bool dontroute = false, plain = false;
  char buf[64];
  ssize_t n;

  AS_NOBODY(HARNESS_EMPTY_NETNS, client_zerocopy_refused, &t);
  /* Exactly the allowed datagrams arrived; no refused one, ever. */
  while ((n = recv(rx, buf, sizeof(buf) - 1, 0)) >= 0) {
    buf[n] = '\0';
    if (strcmp(buf, "dontroute-ok") == 0 && !dontroute)
      dontroute = true;
    else if (strcmp(buf, "plain-ok") == 0 && !plain)
      plain = true;
    else
      fail_msg("the receiver got \"%s\"", buf);
  }
  assert_int_equal(errno, EAGAIN);
  assert_true(dontroute && plain);
  close(rx);
  assert_log_has(fx.psockd, "sendto flags 0x4000000 refused");

  AS_NOBODY(HARNESS_EMPTY_NETNS, client_pointer_options_refused, NULL);
  assert_log_has(fx.psockd, "getsockopt(6, 35) refused");
  assert_log_has(fx.psockd, "setsockopt(1, 26) refused");
}

/* --------------------------------------------- finding 4: raw ICMP */

/* A socket(AF_INET, type, IPPROTO_ICMP) from psockd, owned by nobody (finding
 * 5), whose echo to 127.0.0.1 is answered. */
static int ping_owned_by_nobody(int type) {
  psock_sock *s = psock_socket(AF_INET, type, IPPROTO_ICMP);
  int r;

  CHECK(s != NULL);
  CHECK(psock_type(s) == type);
  CHECK(owner_of(psock_fileno(s)) == HARNESS_NOBODY_UID);
  r = harness_ping_loopback(s, (uint16_t)getpid(), 1);
  CHECK(r == 0);
  psock_close(s);
  return 0;
}

/* The attack: a raw ICMP/ICMPv6 (or IPPROTO_RAW) socket under the default
 * policy, to forge packets and read the host's ICMP traffic. */
static int client_raw_icmp_refused(void *arg) {
  static const int asks[][3] = {{AF_INET, SOCK_RAW, IPPROTO_ICMP},
                                {AF_INET6, SOCK_RAW, IPPROTO_ICMPV6},
                                {AF_INET, SOCK_RAW, IPPROTO_RAW}};

  errno = 0;
  CHECK(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) == -1 && errno == EPERM);
  for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
    CHECK(psock_socket(asks[i][0], asks[i][1], asks[i][2]) == NULL);
    CHECK(harness_last_error(PSOCK_ERR_POLICY, EPERM, "denied by policy"));
  }
  return 0;
}

/* Twin A: an ICMP datagram ("ping") socket, restricted to echo. */
static int client_ping_socket_echo(void *arg) {
  return ping_owned_by_nobody(SOCK_DGRAM);
}

/* Where the host's ping_group_range leaves nobody out: say so. */
static int client_ping_range_says_why(void *arg) {
  CHECK(psock_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) == NULL);
  CHECK(harness_last_error(PSOCK_ERR_OS, EACCES, "ping_group_range"));
  return 0;
}

/* Twin B: an explicit rule for a group; psockd-priv makes the socket and
 * hands it over owned by the member (finding 5). */
static int client_raw_icmp_member(void *arg) {
  int r = ping_owned_by_nobody(SOCK_RAW);

  CHECK(r == 0);
  /* The rule names inet ICMP only. */
  CHECK(psock_socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) == NULL);
  CHECK(psock_last_error_code() == EPERM);
  return 0;
}

static void test_f4_raw_icmp_refused_ping_sockets_work(void **state) {
  static const gid_t netraw = NETRAW_GID;
  char rule[128];
  struct psockd_proc *p;

  AS_NOBODY(HARNESS_EMPTY_NETNS, client_raw_icmp_refused, NULL);
  assert_log_has(fx.psockd, "default policy");

  if (harness_ping_group_allows(HARNESS_NOBODY_GID)) {
    printf("note: this host's ping_group_range admits nobody: the "
           "ping_group_range error cannot be seen here\n");
    AS_NOBODY(HARNESS_EMPTY_NETNS, client_ping_socket_echo, NULL);
  } else {
    AS_NOBODY(HARNESS_EMPTY_NETNS, client_ping_range_says_why, NULL);
    assert_log_has(fx.psockd, "ping_group_range does not admit it");
  }

  p = harness_start_psockd_flags(HARNESS_PSOCKD_OWN_NETNS, NULL);
  fx.watched = p;
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_ping_socket_echo, NULL);
  sandbox_stop_own(p);

  snprintf(rule, sizeof(rule),
           "allow gid=%d socket family=inet type=raw proto=icmp\n", NETRAW_GID);
  p = sandbox_start_with_policy(0, rule, true);
  AS_USER(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID, &netraw, 1,
          HARNESS_EMPTY_NETNS, client_raw_icmp_member, NULL);
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_raw_icmp_refused, NULL);
  sandbox_stop_own(p);
}

/* ------------------------------------------- finding 5: socket owners */

static int client_tcp_owned_by_me(void *arg) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);

  CHECK(s != NULL);
  CHECK(owner_of(psock_fileno(s)) == getuid());
  psock_close(s);
  return 0;
}

static void test_f5_sockets_owned_by_their_user(void **state) {
  AS_NOBODY(HARNESS_EMPTY_NETNS, client_tcp_owned_by_me, NULL);
  AS_ROOT(HARNESS_EMPTY_NETNS, client_tcp_owned_by_me, NULL);
  AS_USER(USER_UID, USER_UID, NULL, 0, HARNESS_EMPTY_NETNS,
          client_tcp_owned_by_me, NULL);
}

/* Send fd over a new SOCK_SEQPACKET connection to the abstract name. */
static int send_fd(const char *name, int fd) {
  char cbuf[CMSG_SPACE(sizeof(int))] = {0};
  struct iovec iov = {.iov_base = "fd", .iov_len = 2};
  struct msghdr m = {.msg_iov = &iov,
                     .msg_iovlen = 1,
                     .msg_control = cbuf,
                     .msg_controllen = sizeof(cbuf)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

  CHECK(s >= 0 && abstract_connect(s, name) == 0);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  CHECK(sendmsg(s, &m, 0) == 2);
  close(s);
  return 0;
}

static int recv_fd(int listener) {
  char cbuf[CMSG_SPACE(sizeof(int))], data[2];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
  struct msghdr m = {.msg_iov = &iov,
                     .msg_iovlen = 1,
                     .msg_control = cbuf,
                     .msg_controllen = sizeof(cbuf)};
  int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC), fd = -1;
  struct cmsghdr *h;

  if (c < 0)
    return -1;
  if (recvmsg(c, &m, MSG_CMSG_CLOEXEC) == 2 && (h = CMSG_FIRSTHDR(&m)) &&
      h->cmsg_type == SCM_RIGHTS)
    memcpy(&fd, CMSG_DATA(h), sizeof(int));
  close(c);
  return fd;
}

struct reuseport {
  uint16_t port;  /* 0: let the kernel choose */
  bool hand_over; /* send the listener to the test (send_fd) */
};

/* A TCP socket from psockd with SO_REUSEPORT, bound to 127.0.0.1:port
 * through psockd; 0, or the psock error code of the bind. */
static int reuseport_bind(const struct reuseport *r, psock_sock **ret) {
  psock_sock *s = psock_socket(AF_INET, SOCK_STREAM, 0);
  psock_address a;
  int one = 1;

  *ret = s;
  if (!s ||
      setsockopt(psock_fileno(s), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) <
          0 ||
      psock_addr_inet(&a, "127.0.0.1", r->port) < 0)
    return -1;
  return psock_bind(s, &a) == 0 ? 0 : psock_last_error_code();
}

/* uid 1000: a listener in a SO_REUSEPORT group, handed to the test; the
 * twin joins the group (bind), but does not listen: psockd's worker may
 * hold its copy of the socket a moment after the client closed it, and a
 * connection of the test must not land there. */
static int client_reuseport_owner(void *arg) {
  const struct reuseport *r = arg;
  psock_sock *s;
  int e = reuseport_bind(r, &s);

  CHECK(e == 0);
  if (r->hand_over) {
    CHECK(psock_listen(s, 16) == 0);
    e = send_fd(fx.name_fdpass, psock_fileno(s));
    CHECK(e == 0);
  }
  psock_close(s);
  return 0;
}

/* The attack: nobody joins uid 1000's group to take its connections. */
static int client_reuseport_hijack(void *arg) {
  const struct reuseport *r = arg;
  struct sockaddr_in sin = loopback(r->port);
  psock_sock *s;
  int e = reuseport_bind(r, &s);

  CHECK(e == EADDRINUSE);
  CHECK(psock_last_error_kind() == PSOCK_ERR_OS);
  CHECK(owner_of(psock_fileno(s)) == HARNESS_NOBODY_UID);
  /* Nor on the fd it holds, by itself. */
  errno = 0;
  CHECK(bind(psock_fileno(s), (struct sockaddr *)&sin, sizeof(sin)) == -1);
  CHECK(errno == EADDRINUSE);
  psock_close(s);
  return 0;
}

static void test_f5_reuseport_hijack_refused(void **state) {
  struct reuseport r = {.port = 0, .hand_over = true};
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);
  int pass = abstract_listen(fx.name_fdpass, SOCK_SEQPACKET, SOCK_NONBLOCK);
  int held, c, got;

  assert_true(pass >= 0);
  AS_USER(USER_UID, USER_UID, NULL, 0, 0, client_reuseport_owner, &r);
  held = recv_fd(pass);
  close(pass);
  assert_true(held >= 0);
  assert_int_equal(owner_of(held), USER_UID);
  assert_int_equal(getsockname(held, (struct sockaddr *)&sin, &len), 0);
  r.port = ntohs(sin.sin_port);
  r.hand_over = false;

  AS_NOBODY(HARNESS_EMPTY_NETNS, client_reuseport_hijack, &r);
  /* Twin: a second socket of uid 1000 joins its own group. */
  AS_USER(USER_UID, USER_UID, NULL, 0, HARNESS_EMPTY_NETNS,
          client_reuseport_owner, &r);

  /* Every connection still reaches uid 1000's listener. */
  sin = loopback(r.port);
  c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
  assert_int_equal(fcntl(held, F_SETFL, O_NONBLOCK), 0);
  got = accept4(held, NULL, NULL, SOCK_CLOEXEC);
  assert_true(got >= 0);
  close(got);
  close(c);
  close(held);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      sandbox_test(test_f2_zerocopy_and_pointer_options_refused),
      sandbox_test(test_f4_raw_icmp_refused_ping_sockets_work),
      sandbox_test(test_f5_sockets_owned_by_their_user),
      sandbox_test(test_f5_reuseport_hijack_refused),
  };

  return cmocka_run_group_tests(tests, sandbox_setup, sandbox_teardown);
}
