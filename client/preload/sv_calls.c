/* SPDX-License-Identifier: MIT */
/*
 * sv_calls: the seccomp supervisor's socket calls (see sv_calls.h). Each
 * handler follows the kernel's order of checks (the fd, then the
 * arguments), reads what it needs from the caller once, checks that the
 * call still waits, then acts with its copies only.
 *
 * Fast paths (issue 16): where psockd's policy page says psockd would
 * allow every such call of the socket's family (client/fast.h), the
 * supervisor makes a bind or listen on its copy of the caller's socket
 * itself (a bind the kernel refuses for lack of privilege still goes to
 * psockd), and a connect too, without waiting, as psockd makes it; or
 * lets the kernel run the caller's connect (CONTINUE) where no other task
 * can change the caller's fd table and any address the caller could put
 * in its place meanwhile is free as well.
 */
#include "sv_calls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "address.h"
#include "fast.h"
#include "hint.h"
#include "kcheck.h"
#include "sock.h"
#include "sockcalls.h"
#include "sockopts.h"
#include "sv_common.h"
#include "sv_local.h"
#include "sv_wait.h"

/* Room for any option value that may need privilege (ints, an interface
 * name): the kernel reads no more of those. */
#define OPTVAL_MAX 64

/* Answer r unless it is gone; close fd if it is one. */
static void answer(struct sv_req *r, int fd, long val) {
  if (fd >= 0)
    close(fd);
  if (val != SV_NO_ANSWER)
    sv_reply(r, val);
}

/* The caller's socket fd as the supervisor's copy, with its family: the
 * fd's own checks (EBADF, ENOTSOCK) come first, as in the kernel. */
static int take_socket(struct sv_req *r, int fd, int *ret_family) {
  int copy = sv_fd(r, fd), family;

  if (copy < 0)
    return copy == -ESRCH ? SV_NO_ANSWER : copy;
  family = sv_sock_family(copy);
  if (family < 0) {
    close(copy);
    return family;
  }
  *ret_family = family;
  return copy;
}

/* ------------------------------------------------------------ socket */

static bool bad_type_flags(int type) {
  return ((type & ~KCHECK_TYPE_BITS) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0;
}

void sv_socket(struct sv_req *r) {
  int domain = sv_int(r, 0), type = sv_int(r, 1), proto = sv_int(r, 2);
  char words[96];
  psock_sock *s;
  int fd, n;

  if (bad_type_flags(type)) {
    answer(r, -1, -EINVAL);
    return;
  }
  s = psock_socket(domain, type, proto);
  fd = s ? psock_detach(s) : -1;
  hint_socket_words(domain, type, proto, words, sizeof(words));
  sv_hint(fd < 0, "socket %s", words);
  if (fd < 0) {
    answer(r, -1, -sv_errno());
    return;
  }
  /* Installed at the caller's lowest free number in the same step as the
   * answer; O_NONBLOCK is the open file's own already. */
  n = sv_reply_fd(r, fd, type & SOCK_CLOEXEC);
  answer(r, fd, n >= 0 ? SV_NO_ANSWER : n);
}

void sv_socketpair(struct sv_req *r) {
  int domain = sv_int(r, 0), type = sv_int(r, 1), proto = sv_int(r, 2);
  bool cloexec = type & SOCK_CLOEXEC;
  psock_sock *a = NULL, *b = NULL;
  int local[2], remote[2] = {-1, -1}, sv[2], rc;

  if (bad_type_flags(type)) {
    answer(r, -1, -EINVAL);
    return;
  }
  /* Where the pair will go must be writable, before anything is made:
   * the kernel makes nothing visible when it is not (EFAULT). */
  rc = sv_read(r, sv_arg(r, 3), sv, sizeof(sv));
  if (rc == 0)
    rc = sv_write(r, sv_arg(r, 3), sv, sizeof(sv));
  if (rc < 0) {
    answer(r, -1, rc);
    return;
  }
  if (psock_socketpair(domain, type, proto, &a, &b) < 0) {
    answer(r, -1, -sv_errno());
    return;
  }
  local[0] = psock_detach(a);
  local[1] = psock_detach(b);
  remote[0] = sv_addfd(r, local[0], cloexec);
  remote[1] = remote[0] < 0 ? remote[0] : sv_addfd(r, local[1], cloexec);
  rc = remote[1] < 0 ? remote[1] : sv_write(r, sv_arg(r, 3), remote, 8);
  close(local[0]);
  answer(r, local[1], rc);
}

/* ------------------------------------------------------------ bind */

void sv_bind(struct sv_req *r) {
  struct sockaddr_storage ss;
  socklen_t len = (socklen_t)sv_int(r, 2);
  char words[320];
  psock_address a;
  psock_sock s;
  int fd, family, rc;

  fd = take_socket(r, sv_int(r, 0), &family);
  if (fd < 0) {
    answer(r, -1, fd);
    return;
  }
  if (!sv_addressed(family)) {
    sv_local_call(r, fd, SYS_bind);
    return;
  }
  rc = sv_read_addr(r, sv_arg(r, 1), sv_int(r, 2), &ss);
  if (rc == 0)
    rc = kcheck_addr(KCHECK_BIND, family, 0, &ss, &len);
  if (rc == 0)
    rc = pc_sockaddr_to_address((struct sockaddr *)&ss, len, &a);
  if (rc == 0 && !sv_valid(r))
    rc = SV_NO_ANSWER;
  if (rc == 0) {
    sv_stack_sock(&s, fd, family);
    rc = pc_bind_via(&s, &a, !pc_fast_bind(family, &a)) < 0 ? -sv_errno() : 0;
    hint_address_words(family, &a, words, sizeof(words));
    sv_hint(rc < 0, "bind %s", words);
  }
  answer(r, fd, rc);
}

/* ------------------------------------------------------------ connect */

/* A blocking connect psockd started: the checked address, for the local
 * connect() that settles the socket's state once the attempt is over. */
struct connect_wait {
  struct sockaddr_storage ss;
  socklen_t len;
};

/*
 * The attempt is over: its error, or 0 after the local connect() that
 * moves the socket to "connected" (only that: the attempt is over, so it
 * reaches no address), as the kernel's own blocking connect leaves it.
 */
static long connect_done(struct sv_wait *w, void *arg) {
  struct connect_wait *c = arg;
  int fd = sv_wait_fd(w), err = 0;
  socklen_t len = sizeof(err);

  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return -errno;
  if (err) {
    connect(fd, (struct sockaddr *)&c->ss, c->len);
    return -err;
  }
  return connect(fd, (struct sockaddr *)&c->ss, c->len) < 0 ? -errno : 0;
}

/* psockd answered EINPROGRESS or EALREADY: a blocking socket waits. */
static long connect_park(struct sv_req *r, int fd, long rc,
                         const struct sockaddr_storage *ss, socklen_t len) {
  struct connect_wait *c;
  int fl = fcntl(fd, F_GETFL);

  if (fl < 0 || (fl & O_NONBLOCK) || (rc != -EINPROGRESS && rc != -EALREADY))
    return rc;
  c = malloc(sizeof(*c));
  if (!c)
    return -ENOMEM;
  c->ss = *ss;
  c->len = len;
  rc = sv_wait_add(r, &(struct sv_wait_spec){.fd = fd,
                                             .retry = connect_done,
                                             .arg = c,
                                             .timeout_result = -EINPROGRESS});
  return rc < 0 ? rc : SV_NO_ANSWER; /* parked: answered later */
}

/*
 * A free connect (fast.h), made here as psockd makes it: on the copy, the
 * open file made non-blocking for the attempt and restored (the flag is
 * the file's, shared with the caller, as psockd shares it), so that the
 * supervisor never waits in connect(); a blocking caller waits in
 * connect_park() as after psockd's attempt.
 */
static long connect_here(int fd, const struct sockaddr_storage *ss,
                         socklen_t len) {
  int fl = fcntl(fd, F_GETFL);
  long rc;

  if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
    return -errno;
  rc = connect(fd, (const struct sockaddr *)ss, len) < 0 ? -errno : 0;
  if (!(fl & O_NONBLOCK))
    fcntl(fd, F_SETFL, fl);
  return rc;
}

/* May the kernel run the caller's connect itself? Only where no task but
 * the caller can change which socket fd is, and any address the caller
 * could put in place of its copy meanwhile is free too (an inet6 datagram
 * socket also connects to an AF_INET address); not with --policy-hint,
 * which names every destination. */
static bool connect_continues(struct sv_req *r, int family) {
  return !sv_ctx()->hint &&
         (family != AF_INET6 ||
          pc_fast_free(PC_FAST_CONNECT, AF_INET, AF_INET)) &&
         sv_fdtable_private(r) && sv_valid(r);
}

/* Dissolve an association (AF_UNSPEC): no destination, nothing to
 * judge; the copy decided it, so the supervisor does it. */
static long connect_unspec(struct sv_req *r, int fd,
                           struct sockaddr_storage *ss, socklen_t len) {
  if (!sv_valid(r))
    return SV_NO_ANSWER;
  return connect(fd, (struct sockaddr *)ss, len) < 0 ? -errno : 0;
}

void sv_connect(struct sv_req *r) {
  struct sockaddr_storage ss;
  socklen_t len = (socklen_t)sv_int(r, 2);
  char words[320];
  psock_address a;
  psock_sock s;
  int fd, family, type = 0;
  bool attempted = false;
  long rc;

  fd = take_socket(r, sv_int(r, 0), &family);
  if (fd < 0) {
    answer(r, -1, fd);
    return;
  }
  if (!sv_addressed(family)) {
    sv_local_call(r, fd, SYS_connect);
    return;
  }
  rc = sv_read_addr(r, sv_arg(r, 1), sv_int(r, 2), &ss);
  if (rc == 0 && len < sizeof(sa_family_t))
    rc = -EINVAL;
  if (rc == 0 && ss.ss_family == AF_UNSPEC) {
    answer(r, fd, connect_unspec(r, fd, &ss, len));
    return;
  }
  if (rc == 0)
    rc = type = sv_sock_type(fd);
  if (rc >= 0)
    rc = kcheck_addr(KCHECK_CONNECT, family, type, &ss, &len);
  if (rc == 0)
    rc = pc_sockaddr_to_address((struct sockaddr *)&ss, len, &a);
  if (rc == 0 && !sv_valid(r))
    rc = SV_NO_ANSWER;
  if (rc == 0 && pc_fast_free(PC_FAST_CONNECT, family, a.family)) {
    if (connect_continues(r, family)) {
      close(fd);
      sv_reply_continue(r);
      return;
    }
    /* Whatever its outcome, a call the policy allows. */
    rc = connect_here(fd, &ss, len);
    attempted = true;
    hint_address_words(family, &a, words, sizeof(words));
    sv_hint(false, "connect %s", words);
  } else if (rc == 0) {
    sv_stack_sock(&s, fd, family);
    rc = pc_connect_via(&s, &a, true) < 0 ? -sv_errno() : 0;
    attempted = true;
    hint_address_words(family, &a, words, sizeof(words));
    sv_hint(rc < 0 && rc != -EINPROGRESS, "connect %s", words);
  }
  if (attempted && rc < 0) {
    rc = connect_park(r, fd, rc, &ss, len);
    if (rc == SV_NO_ANSWER)
      return; /* the wait has fd */
  }
  answer(r, fd, rc);
}

/* ------------------------------------------------------------ listen */

void sv_listen(struct sv_req *r) {
  int fd, family, backlog = sv_int(r, 1);
  char words[64];
  psock_sock s;
  long rc;

  fd = take_socket(r, sv_int(r, 0), &family);
  if (fd < 0) {
    answer(r, -1, fd);
    return;
  }
  if (!sv_routed(family)) {
    sv_local_call(r, fd, SYS_listen);
    return;
  }
  sv_stack_sock(&s, fd, family);
  /* The kernel reads a negative backlog as the largest. */
  rc = psock_listen(&s, backlog < 0 ? INT_MAX : backlog) < 0 ? -sv_errno() : 0;
  hint_address_words(family, NULL, words, sizeof(words));
  sv_hint(rc < 0, "listen %s", words);
  answer(r, fd, rc);
}

/* ------------------------------------------------------------ setsockopt */

void sv_setsockopt(struct sv_req *r) {
  int level = sv_int(r, 1), optname = sv_int(r, 2), optlen = sv_int(r, 4);
  const struct sockopt *o = sockopt_lookup(level, optname);
  unsigned char val[OPTVAL_MAX];
  char words[64];
  size_t n;
  psock_sock s;
  int fd, family;
  long rc;

  fd = take_socket(r, sv_int(r, 0), &family);
  if (fd < 0) {
    answer(r, -1, fd);
    return;
  }
  if (optlen < 0) {
    answer(r, fd, -EINVAL);
    return;
  }
  n = (size_t)optlen < sizeof(val) ? (size_t)optlen : sizeof(val);
  rc = sv_read(r, sv_arg(r, 3), val, n);
  if (rc == 0 && !sv_valid(r))
    rc = SV_NO_ANSWER;
  if (rc < 0) {
    answer(r, fd, rc);
    return;
  }
  /* Tried first on the caller's own socket, with the caller's rights
   * (the supervisor holds no capability that reaches a socket). */
  rc = setsockopt(fd, level, optname, n ? val : NULL, (socklen_t)n) < 0 ? -errno
                                                                        : 0;
  if (rc < 0 && sv_routed(family) && sockopt_refused_for_privilege(o, -rc)) {
    sv_stack_sock(&s, fd, family);
    rc = pc_setsockopt_daemon(&s, level, optname, n ? val : NULL, n) < 0
             ? -sv_errno()
             : 0;
    hint_address_words(family, NULL, words, sizeof(words));
    sv_hint(rc < 0, "setsockopt %s option=%s", words, o ? o->name : "any");
  }
  answer(r, fd, rc);
}

/* ------------------------------------------------------------ fcntl */

/* F_SETOWN_EX: whom the kernel signals for this file's I/O. Never the
 * supervisor. */
void sv_fcntl(struct sv_req *r) {
  struct f_owner_ex owner;
  long rc;
  int fd;

  if (sv_int(r, 1) != F_SETOWN_EX) {
    answer(r, -1, -EINVAL);
    return;
  }
  fd = sv_fd(r, sv_int(r, 0));
  if (fd < 0) {
    answer(r, -1, fd == -ESRCH ? SV_NO_ANSWER : fd);
    return;
  }
  rc = sv_read(r, sv_arg(r, 2), &owner, sizeof(owner));
  if (rc == 0 && owner.pid == sv_ctx()->self)
    rc = -EPERM;
  if (rc == 0 && !sv_valid(r))
    rc = SV_NO_ANSWER;
  if (rc == 0)
    rc = fcntl(fd, F_SETOWN_EX, &owner) < 0 ? -errno : 0;
  answer(r, fd, rc);
}

/* ------------------------------------------------------------ ioctl */

/* A NETLINK_ROUTE socket from psockd (of psockd's namespace), or -1 when
 * psockd refused it or could not be asked, as the preload asks for one. */
static int host_netlink(void) {
  psock_sock *s =
      psock_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int fd = s ? psock_detach(s) : -1;
  char words[96];

  hint_socket_words(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, words, sizeof(words));
  sv_hint(fd < 0, "socket %s", words);
  return fd;
}

/* Does fd name one of the caller's AF_UNIX sockets? Anything else (no
 * such fd, not a socket) is the kernel's to answer. */
static bool own_unix_socket(struct sv_req *r, int fd, bool *ret_gone) {
  int copy = sv_fd(r, fd);
  bool unix_socket = copy >= 0 && sv_sock_family(copy) == AF_UNIX;

  *ret_gone = copy == -ESRCH;
  if (copy >= 0)
    close(copy);
  return unix_socket;
}

void sv_ioctl(struct sv_req *r) {
  unsigned long cmd = (uint32_t)sv_arg(r, 1);
  struct ifreq ifr;
  bool gone;
  int nl;
  long rc;

  if (!own_unix_socket(r, sv_int(r, 0), &gone)) {
    if (!gone)
      sv_reply_continue(r);
    return;
  }
  /* The kernel reads the whole struct first (EFAULT). */
  rc = sv_read(r, sv_arg(r, 2), &ifr, sizeof(ifr));
  if (rc == 0 && !sv_valid(r))
    rc = SV_NO_ANSWER;
  if (rc < 0 && rc != -EFAULT && rc != SV_NO_ANSWER) {
    sv_reply_continue(r); /* unreadable: the program's own answer */
    return;
  }
  if (rc < 0) {
    answer(r, -1, rc);
    return;
  }
  nl = host_netlink();
  if (nl < 0) {
    sv_reply_continue(r); /* refused: the program's own namespace */
    return;
  }
  rc = ioctl(nl, cmd, &ifr) < 0 ? -errno : 0;
  if (rc == 0 && !sv_valid(r))
    rc = SV_NO_ANSWER;
  if (rc == 0)
    rc = sv_write(r, sv_arg(r, 2), &ifr, sizeof(ifr));
  answer(r, nl, rc);
}
