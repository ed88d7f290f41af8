/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for proto/wire.c: packet framing and fd passing over a
 * SOCK_SEQPACKET socketpair, including the hostile cases a peer can create
 * (too many fds, oversized packets, foreign control messages), where the
 * receiver must refuse the packet and keep no fd from it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire.h"

struct pair {
  int tx;
  int rx;
};

static int setup_pair(void **state) {
  struct pair *p = malloc(sizeof(*p));
  int sv[2];

  if (!p || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    free(p);
    return -1;
  }
  p->tx = sv[0];
  p->rx = sv[1];
  *state = p;
  return 0;
}

static int teardown_pair(void **state) {
  struct pair *p = *state;

  if (p->tx >= 0)
    close(p->tx);
  if (p->rx >= 0)
    close(p->rx);
  free(p);
  return 0;
}

/* Open fds of this process; a leak in the receiver shows up here. */
static int count_open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;

  assert_non_null(d);
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* Send len bytes with fds bypassing wire_send_packet()'s own limits. */
static void raw_send(int sock, const void *buf, size_t len, const int *fds,
                     size_t nfds) {
  size_t space = CMSG_SPACE(sizeof(int) * nfds);
  struct cmsghdr *control = calloc(1, space > 0 ? space : 1);
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

  assert_non_null(control);
  if (nfds > 0) {
    struct cmsghdr *cmsg;

    msg.msg_control = control;
    msg.msg_controllen = space;
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
  }
  assert_int_equal(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)len);
  free(control);
}

static void assert_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);

  assert_true(flags >= 0);
  assert_true(flags & FD_CLOEXEC);
}

/* fd refers to the same open file as orig (not just any valid fd). */
static void assert_same_file(int fd, int orig) {
  struct stat a, b;

  assert_int_equal(fstat(fd, &a), 0);
  assert_int_equal(fstat(orig, &b), 0);
  assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

static void assert_nothing_queued(int sock) {
  char buf[16];
  int fds[PSOCK_MAX_FDS];
  size_t nfds = 99;

  assert_int_equal(wire_recv_packet(sock, buf, sizeof(buf), fds, PSOCK_MAX_FDS,
                                    &nfds, MSG_DONTWAIT),
                   -EAGAIN);
  assert_int_equal(nfds, 0);
}

static void test_roundtrip_no_fds(void **state) {
  struct pair *p = *state;
  const char msg[] = "hello psock";
  char buf[64];
  int fds[PSOCK_MAX_FDS] = {-1, -1};
  size_t nfds = 99;

  assert_int_equal(wire_send_packet(p->tx, msg, sizeof(msg), NULL, 0, 0), 0);
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      (ssize_t)sizeof(msg));
  assert_int_equal(nfds, 0);
  assert_memory_equal(buf, msg, sizeof(msg));
  assert_int_equal(fds[0], -1);
}

static void test_roundtrip_one_fd(void **state) {
  struct pair *p = *state;
  int sv[2], fds[PSOCK_MAX_FDS] = {-1, -1};
  char buf[8], c = 0;
  size_t nfds = 0;

  /* A socket without CLOEXEC: the received copy must still get it. */
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(wire_send_packet(p->tx, "x", 1, &sv[0], 1, 0), 0);
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      1);
  assert_int_equal(nfds, 1);
  assert_true(fds[0] >= 0 && fds[0] != sv[0]);
  assert_cloexec(fds[0]);
  assert_same_file(fds[0], sv[0]);

  struct stat st;
  assert_int_equal(fstat(fds[0], &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  /* It is a live end of the pair, not a copy of a closed one. */
  assert_int_equal(write(fds[0], "z", 1), 1);
  assert_int_equal(read(sv[1], &c, 1), 1);
  assert_int_equal(c, 'z');

  close(fds[0]);
  close(sv[0]);
  close(sv[1]);
}

static void test_roundtrip_two_fds(void **state) {
  struct pair *p = *state;
  int sv[2], pipefd[2], out[2], fds[PSOCK_MAX_FDS] = {-1, -1};
  char buf[8];
  size_t nfds = 0;
  struct stat st;

  assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
  assert_int_equal(pipe(pipefd), 0);
  out[0] = sv[0];
  out[1] = pipefd[1];
  assert_int_equal(wire_send_packet(p->tx, "ab", 2, out, 2, 0), 0);
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      2);
  assert_int_equal(nfds, 2);
  assert_memory_equal(buf, "ab", 2);

  /* Order is kept: first the socket, then the pipe. */
  assert_int_equal(fstat(fds[0], &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_same_file(fds[0], sv[0]);
  assert_int_equal(fstat(fds[1], &st), 0);
  assert_true(S_ISFIFO(st.st_mode));
  assert_same_file(fds[1], pipefd[1]);
  assert_cloexec(fds[0]);
  assert_cloexec(fds[1]);

  wire_close_fds(fds, 2);
  close(sv[0]);
  close(sv[1]);
  close(pipefd[0]);
  close(pipefd[1]);
}

/* A peer sends n fds (more than allowed): refused, none kept. */
static void check_too_many_fds(struct pair *p, size_t n) {
  int *many = malloc(sizeof(int) * n);
  int fds[PSOCK_MAX_FDS] = {-1, -1};
  int pipefd[2], before;
  char buf[8];
  size_t nfds = 99;

  assert_non_null(many);
  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  /* The same fd repeated still arrives as n distinct new fds. */
  for (size_t i = 0; i < n; i++)
    many[i] = pipefd[i % 2];
  raw_send(p->tx, "x", 1, many, n);

  before = count_open_fds();
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      -EPROTO);
  assert_int_equal(nfds, 0);
  assert_int_equal(count_open_fds(), before);
  assert_int_equal(fds[0], -1);
  assert_int_equal(fds[1], -1);
  /* The bad packet is consumed, not left to be read again. */
  assert_nothing_queued(p->rx);

  close(pipefd[0]);
  close(pipefd[1]);
  free(many);
}

static void test_too_many_fds_3(void **state) {
  check_too_many_fds(*state, 3);
}

static void test_too_many_fds_5(void **state) {
  check_too_many_fds(*state, 5);
}

/* More than the receive buffer holds: the kernel truncates (MSG_CTRUNC). */
static void test_too_many_fds_ctrunc(void **state) {
  check_too_many_fds(*state, 100);
}

/*
 * A reply of PSOCK_MAX_REPLY_FDS fds (a socket with its batch): whole for
 * a receiver of replies, in order and close-on-exec; a receiver of
 * requests (PSOCK_MAX_FDS) refuses it and keeps none; one fd more is too
 * many for a receiver of replies too.
 */
static void test_reply_fd_limit(void **state) {
  struct pair *p = *state;
  int out[PSOCK_MAX_REPLY_FDS + 1], fds[PSOCK_MAX_REPLY_FDS];
  char buf[8];
  size_t nfds = 99;
  int before;

  for (size_t i = 0; i < PSOCK_MAX_REPLY_FDS + 1; i++)
    assert_true((out[i] = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
  assert_int_equal(wire_send_packet(p->tx, "r", 1, out, PSOCK_MAX_REPLY_FDS, 0),
                   0);
  assert_int_equal(wire_recv_packet(p->rx, buf, sizeof(buf), fds,
                                    PSOCK_MAX_REPLY_FDS, &nfds, 0),
                   1);
  assert_int_equal(nfds, PSOCK_MAX_REPLY_FDS);
  for (size_t i = 0; i < nfds; i++) {
    assert_same_file(fds[i], out[i]);
    assert_cloexec(fds[i]);
  }
  wire_close_fds(fds, nfds);

  assert_int_equal(wire_send_packet(p->tx, "r", 1, out, PSOCK_MAX_REPLY_FDS, 0),
                   0);
  before = count_open_fds();
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      -EPROTO);
  assert_int_equal(nfds, 0);
  assert_int_equal(count_open_fds(), before);

  raw_send(p->tx, "r", 1, out, PSOCK_MAX_REPLY_FDS + 1);
  assert_int_equal(wire_recv_packet(p->rx, buf, sizeof(buf), fds,
                                    PSOCK_MAX_REPLY_FDS, &nfds, 0),
                   -EPROTO);
  assert_int_equal(count_open_fds(), before);
  assert_nothing_queued(p->rx);
  wire_close_fds(out, PSOCK_MAX_REPLY_FDS + 1);
}

static void test_more_fds_than_caller_allows(void **state) {
  struct pair *p = *state;
  int pipefd[2], fds[1] = {-1}, before;
  char buf[8];
  size_t nfds = 99;

  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  assert_int_equal(wire_send_packet(p->tx, "x", 1, pipefd, 2, 0), 0);
  before = count_open_fds();
  assert_int_equal(wire_recv_packet(p->rx, buf, sizeof(buf), fds, 1, &nfds, 0),
                   -EPROTO);
  assert_int_equal(nfds, 0);
  assert_int_equal(count_open_fds(), before);
  assert_int_equal(fds[0], -1);

  /* Zero allowed: a single fd is already too many. */
  assert_int_equal(wire_send_packet(p->tx, "x", 1, pipefd, 1, 0), 0);
  assert_int_equal(wire_recv_packet(p->rx, buf, sizeof(buf), NULL, 0, &nfds, 0),
                   -EPROTO);
  assert_int_equal(count_open_fds(), before);

  close(pipefd[0]);
  close(pipefd[1]);
}

static void test_empty_packet_with_fd(void **state) {
  struct pair *p = *state;
  int pipefd[2], fds[PSOCK_MAX_FDS] = {-1, -1}, before;
  char buf[8];
  size_t nfds = 99;

  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  raw_send(p->tx, "", 0, pipefd, 1);
  before = count_open_fds();
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      -EPROTO);
  assert_int_equal(nfds, 0);
  assert_int_equal(count_open_fds(), before);
  close(pipefd[0]);
  close(pipefd[1]);
}

/* SO_PASSCRED makes every packet carry SCM_CREDENTIALS: not ours, refused. */
static void test_credentials_cmsg_refused(void **state) {
  struct pair *p = *state;
  int one = 1, pipefd[2], fds[PSOCK_MAX_FDS] = {-1, -1}, before;
  char buf[8];
  size_t nfds = 99;

  assert_int_equal(
      setsockopt(p->rx, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  assert_int_equal(wire_send_packet(p->tx, "x", 1, pipefd, 1, 0), 0);
  before = count_open_fds();
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      -EPROTO);
  assert_int_equal(nfds, 0);
  assert_int_equal(count_open_fds(), before);

  /* Even without fds, credentials alone are a framing error. */
  assert_int_equal(wire_send_packet(p->tx, "x", 1, NULL, 0, 0), 0);
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      -EPROTO);
  close(pipefd[0]);
  close(pipefd[1]);
}

/* ----------------------------------------- wire_send_packet_creds() */

/* The credentials a receiver with SO_PASSCRED got with one packet. */
static struct ucred recv_creds(int rx, int *fds, size_t *nfds) {
  struct ucred cr = {.pid = -1};
  char buf[8];

  assert_int_equal(wire_recv_packet_creds(rx, buf, sizeof(buf), fds,
                                          PSOCK_MAX_FDS, nfds, 0, &cr),
                   1);
  return cr;
}

/* Our ids go with the packet and its fds, and arrive as sent. */
static void test_send_creds_roundtrip(void **state) {
  struct pair *p = *state;
  struct ucred me = {.pid = getpid(), .uid = geteuid(), .gid = getegid()};
  int one = 1, pipefd[2], fds[PSOCK_MAX_FDS] = {-1, -1};
  struct ucred got;
  size_t nfds = 99;

  assert_int_equal(
      setsockopt(p->rx, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  assert_int_equal(wire_send_packet_creds(p->tx, "x", 1, pipefd, 2, 0, &me), 0);
  got = recv_creds(p->rx, fds, &nfds);
  assert_int_equal(nfds, 2);
  assert_same_file(fds[0], pipefd[0]);
  assert_same_file(fds[1], pipefd[1]);
  assert_int_equal(got.pid, me.pid);
  assert_int_equal(got.uid, me.uid);
  assert_int_equal(got.gid, me.gid);
  wire_close_fds(fds, nfds);
  assert_int_equal(wire_send_packet_creds(p->tx, "y", 1, NULL, 0, 0, &me), 0);
  got = recv_creds(p->rx, fds, &nfds);
  assert_int_equal(nfds, 0);
  assert_int_equal(got.uid, me.uid);
  /* Credentials are not optional in this call. */
  assert_int_equal(wire_send_packet_creds(p->tx, "z", 1, NULL, 0, 0, NULL),
                   -EINVAL);
  assert_nothing_queued(p->rx);
  close(pipefd[0]);
  close(pipefd[1]);
}

/* Run fn in a child as (ruid, euid, suid) with gid 65534; its status. */
static int in_child_as(uid_t ruid, uid_t euid, uid_t suid,
                       int (*fn)(struct pair *), struct pair *p) {
  int status;
  pid_t pid = fork();

  assert_true(pid >= 0);
  if (pid == 0) {
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(ruid, euid, suid) < 0)
      _exit(99);
    _exit(fn(p));
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* Real uid 0, effective 65534 (a setuid program the other way round). */
static int send_as_setuid(struct pair *p) {
  struct ucred cr = {.pid = getpid(), .uid = geteuid(), .gid = getegid()};

  if (wire_send_packet(p->tx, "k", 1, NULL, 0, 0) != 0)
    return 1;
  if (wire_send_packet_creds(p->tx, "e", 1, NULL, 0, 0, &cr) != 0)
    return 2;
  return 0;
}

/*
 * Why the client attaches its credentials: without them the kernel gives
 * the receiver the sender's real uid, with them the effective one that
 * SO_PEERCRED reports and psockd judges.
 */
static void test_send_creds_effective_not_real(void **state) {
  struct pair *p = *state;
  int one = 1, fds[PSOCK_MAX_FDS];
  struct ucred got;
  size_t nfds;

  if (geteuid() != 0)
    skip();
  assert_int_equal(
      setsockopt(p->rx, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
  assert_int_equal(in_child_as(0, 65534, 0, send_as_setuid, p), 0);
  got = recv_creds(p->rx, fds, &nfds);
  assert_int_equal(got.uid, 0); /* the kernel's default: the real uid */
  got = recv_creds(p->rx, fds, &nfds);
  assert_int_equal(got.uid, 65534); /* what we attached */
  assert_int_equal(got.gid, 65534);
}

/* An unprivileged sender claiming another uid, or another pid. */
static int send_forged(struct pair *p) {
  struct ucred root = {.pid = getpid(), .uid = 0, .gid = getegid()};
  struct ucred other = {.pid = getppid(), .uid = geteuid(), .gid = getegid()};
  struct ucred own = {.pid = getpid(), .uid = geteuid(), .gid = getegid()};

  if (wire_send_packet_creds(p->tx, "r", 1, NULL, 0, 0, &root) != -EPERM)
    return 1;
  if (wire_send_packet_creds(p->tx, "p", 1, NULL, 0, 0, &other) != -EPERM)
    return 2;
  /* The allowed twin, from the same process. */
  if (wire_send_packet_creds(p->tx, "o", 1, NULL, 0, 0, &own) != 0)
    return 3;
  return 0;
}

static void test_send_creds_forged_refused(void **state) {
  struct pair *p = *state;
  int one = 1, fds[PSOCK_MAX_FDS];
  struct ucred got;
  size_t nfds;

  if (geteuid() != 0)
    skip();
  assert_int_equal(
      setsockopt(p->rx, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
  assert_int_equal(in_child_as(65534, 65534, 65534, send_forged, p), 0);
  /* Only the honest packet went out. */
  got = recv_creds(p->rx, fds, &nfds);
  assert_int_equal(got.uid, 65534);
  assert_nothing_queued(p->rx);
}

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

/*
 * SO_PASSPIDFD (Linux 6.5) adds an SCM_PIDFD message holding a pidfd: a
 * control message that is not SCM_RIGHTS yet installs an fd, which must be
 * refused and closed like any other.
 */
static void test_pidfd_cmsg_refused(void **state) {
  struct pair *p = *state;
  int one = 1, fds[PSOCK_MAX_FDS] = {-1, -1}, before;
  char buf[8];
  size_t nfds = 99;

  if (setsockopt(p->rx, SOL_SOCKET, SO_PASSPIDFD, &one, sizeof(one)) < 0) {
    assert_int_equal(errno, ENOPROTOOPT);
    skip();
  }
  assert_int_equal(wire_send_packet(p->tx, "x", 1, NULL, 0, 0), 0);
  before = count_open_fds();
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      -EPROTO);
  assert_int_equal(nfds, 0);
  assert_int_equal(fds[0], -1);
  assert_int_equal(count_open_fds(), before);
}

static void test_oversized_packet(void **state) {
  struct pair *p = *state;
  size_t big = PSOCK_MAX_PACKET + 1;
  char *buf = calloc(1, big);
  int pipefd[2], fds[PSOCK_MAX_FDS] = {-1, -1}, before;
  size_t nfds = 99;

  assert_non_null(buf);
  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  raw_send(p->tx, buf, big, pipefd, 1);
  before = count_open_fds();
  assert_int_equal(wire_recv_packet(p->rx, buf, PSOCK_MAX_PACKET, fds,
                                    PSOCK_MAX_FDS, &nfds, 0),
                   -EMSGSIZE);
  assert_int_equal(nfds, 0);
  assert_int_equal(count_open_fds(), before);
  assert_nothing_queued(p->rx);

  /* Exactly PSOCK_MAX_PACKET still fits. */
  raw_send(p->tx, buf, PSOCK_MAX_PACKET, NULL, 0);
  assert_int_equal(wire_recv_packet(p->rx, buf, PSOCK_MAX_PACKET, fds,
                                    PSOCK_MAX_FDS, &nfds, 0),
                   (ssize_t)PSOCK_MAX_PACKET);
  close(pipefd[0]);
  close(pipefd[1]);
  free(buf);
}

static void test_send_limits(void **state) {
  struct pair *p = *state;
  char *buf = calloc(1, PSOCK_MAX_PACKET + 1);
  int fds[PSOCK_MAX_REPLY_FDS + 1] = {0};

  assert_non_null(buf);
  assert_int_equal(
      wire_send_packet(p->tx, buf, PSOCK_MAX_PACKET + 1, NULL, 0, 0),
      -EMSGSIZE);
  assert_int_equal(
      wire_send_packet(p->tx, "x", 1, fds, PSOCK_MAX_REPLY_FDS + 1, 0),
      -EMSGSIZE);
  assert_int_equal(wire_send_packet(p->tx, "", 0, NULL, 0, 0), -EINVAL);
  /* None of the refused sends reached the peer. */
  assert_nothing_queued(p->rx);
  assert_int_equal(wire_send_packet(p->tx, buf, PSOCK_MAX_PACKET, NULL, 0, 0),
                   0);
  free(buf);
}

static void test_send_to_closed_peer(void **state) {
  struct pair *p = *state;
  int sv[2];

  close(p->rx);
  p->rx = -1;
  assert_int_equal(wire_send_packet(p->tx, "x", 1, NULL, 0, 0), -EPIPE);

  /*
   * Linux raises SIGPIPE only for stream sockets; without MSG_NOSIGNAL
   * this would kill the test instead of returning -EPIPE.
   */
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  close(sv[1]);
  assert_int_equal(wire_send_packet(sv[0], "x", 1, NULL, 0, 0), -EPIPE);
  close(sv[0]);
}

static void test_eof(void **state) {
  struct pair *p = *state;
  char buf[8];
  int fds[PSOCK_MAX_FDS];
  size_t nfds = 99;

  assert_int_equal(wire_send_packet(p->tx, "q", 1, NULL, 0, 0), 0);
  close(p->tx);
  p->tx = -1;
  /* Queued data first, then EOF. */
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      1);
  assert_int_equal(
      wire_recv_packet(p->rx, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0),
      0);
  assert_int_equal(nfds, 0);
}

static void test_dontwait_empty(void **state) {
  struct pair *p = *state;

  assert_nothing_queued(p->rx);
}

static void test_recv_bad_args(void **state) {
  struct pair *p = *state;
  char buf[8];
  int fds[PSOCK_MAX_REPLY_FDS + 1];
  size_t nfds = 99;

  assert_int_equal(wire_recv_packet(p->rx, buf, sizeof(buf), fds,
                                    PSOCK_MAX_REPLY_FDS + 1, &nfds,
                                    MSG_DONTWAIT),
                   -EINVAL);
  assert_int_equal(nfds, 0);
  assert_int_equal(wire_recv_packet(-1, buf, sizeof(buf), fds, PSOCK_MAX_FDS,
                                    &nfds, MSG_DONTWAIT),
                   -EBADF);
}

/* A bump allocator whose free does nothing, as the worker's call arena. */
static uint8_t arena[16384];
static size_t arena_used;

static void *arena_alloc(void *data, size_t size) {
  void *p = arena + arena_used;

  (void)data;
  size = (size + 15) & ~(size_t)15;
  if (size > sizeof(arena) - arena_used)
    return NULL;
  arena_used += size;
  return p;
}

static void arena_free(void *data, void *p) {
  (void)data;
  (void)p;
}

/*
 * protobuf-c decodes a field number 0 written as the two-byte varint
 * "80 00" as an unknown field, packs it as "00", and refuses its own
 * output: a message passed on must lose its unknown fields, at every
 * depth, and keep everything else.
 */
static void test_drop_unknown(void **state) {
  ProtobufCAllocator alloc = {arena_alloc, arena_free, NULL};
  static const uint8_t in[] = {
      0x08, 0x07,       /* id = 7 */
      0x10, 0x00,       /* fd_count = 0 */
      0xf2, 0x01, 0x06, /* getaddrinfo (30), 6 bytes: */
      0x0a, 0x01, 'a',  /*   host = "a" */
      0x80, 0x00, 0x00, /*   unknown: field 0 */
      0xf8, 0x07, 0x01, /* unknown: field 127 */
  };
  Psock__V1__Request *req, *back;
  uint8_t out[64];
  ssize_t n;

  (void)state;
  arena_used = 0;
  req = psock__v1__request__unpack(&alloc, sizeof(in), in);
  assert_non_null(req);
  assert_int_equal(req->base.n_unknown_fields, 1);
  assert_int_equal(req->getaddrinfo->base.n_unknown_fields, 1);
  assert_string_equal(req->getaddrinfo->host, "a");
  /* As it is, it packs into bytes that do not decode. */
  n = wire_pack(&req->base, out, sizeof(out));
  assert_true(n > 0);
  assert_null(psock__v1__request__unpack(&alloc, (size_t)n, out));

  wire_drop_unknown(&req->base);
  assert_int_equal(req->base.n_unknown_fields, 0);
  assert_int_equal(req->getaddrinfo->base.n_unknown_fields, 0);
  n = wire_pack(&req->base, out, sizeof(out));
  assert_true(n > 0);
  back = psock__v1__request__unpack(&alloc, (size_t)n, out);
  assert_non_null(back);
  assert_int_equal(back->id, 7);
  assert_int_equal(back->call_case, PSOCK__V1__REQUEST__CALL_GETADDRINFO);
  assert_string_equal(back->getaddrinfo->host, "a");
  wire_drop_unknown(NULL);
}

static void test_pack(void **state) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__Hello hello = PSOCK__V1__HELLO__INIT;
  Psock__V1__Request *back;
  uint8_t buf[256];
  size_t need;
  ssize_t n;

  (void)state;
  hello.protocol_version = PSOCK_PROTOCOL_VERSION;
  hello.client_version = "test 1.0";
  req.id = 42;
  req.fd_count = 0;
  req.call_case = PSOCK__V1__REQUEST__CALL_HELLO;
  req.hello = &hello;
  need = protobuf_c_message_get_packed_size(&req.base);

  assert_int_equal(wire_pack(&req.base, buf, need - 1), -EMSGSIZE);
  assert_int_equal(wire_pack(&req.base, buf, 4), -EMSGSIZE);
  assert_int_equal(wire_pack(&req.base, buf, need), (ssize_t)need);
  n = wire_pack(&req.base, buf, sizeof(buf));
  assert_int_equal(n, (ssize_t)need);

  back = psock__v1__request__unpack(NULL, (size_t)n, buf);
  assert_non_null(back);
  assert_int_equal(back->id, 42);
  assert_int_equal(back->fd_count, 0);
  assert_int_equal(back->call_case, PSOCK__V1__REQUEST__CALL_HELLO);
  assert_int_equal(back->hello->protocol_version, PSOCK_PROTOCOL_VERSION);
  assert_string_equal(back->hello->client_version, "test 1.0");
  psock__v1__request__free_unpacked(back, NULL);
}

static void test_connect_missing_path(void **state) {
  (void)state;
  assert_int_equal(wire_connect_path("/nonexistent/psock-test/psockd.sock"),
                   -ENOENT);
  assert_int_equal(wire_connect_path(""), -EINVAL);
}

static void test_connect_path_too_long(void **state) {
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];
  int before = count_open_fds();

  (void)state;
  memset(path, 'a', sizeof(path) - 1);
  path[0] = '/';
  path[sizeof(path) - 1] = '\0';
  assert_int_equal(wire_connect_path(path), -ENAMETOOLONG);
  assert_int_equal(count_open_fds(), before);
}

/* Listen on dir/name (name may fill sun_path with no NUL, as bind allows). */
static int listen_at(const char *path) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

  assert_true(fd >= 0);
  assert_true(len <= sizeof(sun.sun_path));
  memcpy(sun.sun_path, path, len);
  assert_int_equal(
      bind(fd, (struct sockaddr *)&sun,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
      0);
  assert_int_equal(listen(fd, 4), 0);
  return fd;
}

static void check_connect_to(const char *path) {
  int lfd = listen_at(path), fd, afd, type = 0;
  socklen_t tlen = sizeof(type);
  char buf[8];
  int fds[PSOCK_MAX_FDS];
  size_t nfds;

  fd = wire_connect_path(path);
  assert_true(fd >= 0);
  assert_cloexec(fd);
  assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen), 0);
  assert_int_equal(type, SOCK_SEQPACKET);
  afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  assert_true(afd >= 0);
  /* The connection carries packets both ways. */
  assert_int_equal(wire_send_packet(fd, "ping", 4, NULL, 0, 0), 0);
  assert_int_equal(
      wire_recv_packet(afd, buf, sizeof(buf), fds, PSOCK_MAX_FDS, &nfds, 0), 4);
  assert_memory_equal(buf, "ping", 4);
  close(afd);
  close(fd);
  close(lfd);
  assert_int_equal(unlink(path), 0);
}

static void test_connect_listening(void **state) {
  char dir[] = "/tmp/psock-test-wire-XXXXXX";
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
  size_t dlen;

  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/s.sock", dir);
  check_connect_to(path);

  /* A path that fills sun_path exactly, with no room for a NUL. */
  dlen = strlen(dir);
  assert_true(dlen + 2 < max);
  memcpy(path, dir, dlen);
  path[dlen] = '/';
  memset(path + dlen + 1, 'p', max - dlen - 1);
  path[max] = '\0';
  assert_int_equal(strlen(path), max);
  check_connect_to(path);

  assert_int_equal(rmdir(dir), 0);
}

static void test_close_fds(void **state) {
  int pipefd[2], fds[4];

  (void)state;
  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  fds[0] = pipefd[0];
  fds[1] = -1;
  fds[2] = pipefd[1];
  fds[3] = -1;
  wire_close_fds(fds, 4);
  for (int i = 0; i < 4; i++)
    assert_int_equal(fds[i], -1);
  errno = 0;
  assert_int_equal(fcntl(pipefd[0], F_GETFD), -1);
  assert_int_equal(errno, EBADF);
  assert_int_equal(fcntl(pipefd[1], F_GETFD), -1);
  wire_close_fds(NULL, 3); /* no-op, must not crash */
}

static void test_sys_wrappers(void **state) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  int fd;

  (void)state;
  assert_int_equal(wire_sys_socket(-1, SOCK_STREAM, 0), -EAFNOSUPPORT);
  fd = wire_sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_cloexec(fd);
  assert_int_equal(wire_sys_connect(-1, (struct sockaddr *)&sun, sizeof(sun)),
                   -EBADF);
  close(fd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_roundtrip_no_fds, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_roundtrip_one_fd, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_roundtrip_two_fds, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_too_many_fds_3, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_too_many_fds_5, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_too_many_fds_ctrunc, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_reply_fd_limit, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_more_fds_than_caller_allows,
                                      setup_pair, teardown_pair),
      cmocka_unit_test_setup_teardown(test_empty_packet_with_fd, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_credentials_cmsg_refused, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_send_creds_roundtrip, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_send_creds_effective_not_real,
                                      setup_pair, teardown_pair),
      cmocka_unit_test_setup_teardown(test_send_creds_forged_refused,
                                      setup_pair, teardown_pair),
      cmocka_unit_test_setup_teardown(test_pidfd_cmsg_refused, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_oversized_packet, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_send_limits, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_send_to_closed_peer, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_eof, setup_pair, teardown_pair),
      cmocka_unit_test_setup_teardown(test_dontwait_empty, setup_pair,
                                      teardown_pair),
      cmocka_unit_test_setup_teardown(test_recv_bad_args, setup_pair,
                                      teardown_pair),
      cmocka_unit_test(test_pack),
      cmocka_unit_test(test_drop_unknown),
      cmocka_unit_test(test_connect_missing_path),
      cmocka_unit_test(test_connect_path_too_long),
      cmocka_unit_test(test_connect_listening),
      cmocka_unit_test(test_close_fds),
      cmocka_unit_test(test_sys_wrappers),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
