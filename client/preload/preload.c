/* SPDX-License-Identifier: MIT */
/*
 * libpsock-preload: socket calls of an unmodified program, sent to psockd.
 *
 * Loaded with LD_PRELOAD (psock-run does it), this library stands in for
 * libc's socket, socketpair, bind, connect, listen and setsockopt (and, in
 * names.c, the name service). For the network families psockd serves
 * (inet, inet6, netlink, packet, tipc) each call goes to psockd through
 * libpsock-client, which performs it in its own network namespace under its
 * policy and hands the socket back; every other family, and everything on
 * the data path (read, write, send*, recv*, poll, accept, getsockopt, ...),
 * is the kernel's own, untouched. setsockopt is tried on the program's own
 * socket first and goes to psockd only when the kernel refused it for lack
 * of privilege (proto/sockopts.h says which refusal that is).
 *
 * AF_UNIX is the program's own: its sockets, socketpairs, paths and
 * abstract names are libc's, in the program's own namespaces. With
 * PSOCK_PRELOAD_UNIX=daemon an abstract name is bound or connected by
 * psockd in its namespace (where a policy rule names it), on a socket that
 * then replaces the program's (same fd number); only root with
 * PSOCK_ROUTE=daemon as well gets its AF_UNIX sockets from psockd.
 *
 * The contract is what the kernel would do: the same return value and
 * errno for the same arguments (the checks the kernel makes before it acts
 * are made here in the same order, bad pointers give EFAULT, not a crash),
 * SOCK_NONBLOCK and SOCK_CLOEXEC honoured, the new fd the lowest free
 * number (the kernel installs an fd that arrives with SCM_RIGHTS at the
 * lowest free number, as socket() would), connect() in the socket's own
 * mode. A refusal by psockd's policy is EACCES or EPERM as the policy says;
 * an unreachable or misbehaving psockd is EACCES, with one line on stderr
 * from the library the first time.
 *
 * Fast paths (issue 16): where psockd's policy page says psockd would
 * allow every connect, bind or listen of the socket's family (client/fast.h),
 * the library makes the call on the program's fd, as the kernel would
 * natively (a blocking connect blocks in the kernel, with its own
 * SO_SNDTIMEO and signal behaviour); a bind the kernel refuses for lack
 * of privilege goes to psockd after all. A socket may come from the
 * library's batch cache: at the lowest free number with the flags asked
 * for, as socket() gives it.
 *
 * No recursion: libpsock-client's plumbing uses raw system calls, and while
 * a thread is inside the library any interposed name it calls (its local
 * bind/connect of AF_UNIX paths, its local setsockopt) goes straight to
 * libc (shim_busy()).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "fast.h"
#include "hint.h"
#include "kcheck.h"
#include "route.h"
#include "shim.h"
#include "sock.h"
#include "sockcalls.h"
#include "sockopts.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* The type bits socket(2) accepts besides the type itself. */
#define SOCK_TYPE_BITS KCHECK_TYPE_BITS
/* Room for any privileged option's value (ints, an interface name): the
 * kernel reads no more of those. */
#define OPTVAL_MAX 64

/* ------------------------------------------------------------ hints */

/* ------------------------------------------------------------ routing */

/* The families whose sockets come from psockd (and whose listen and
 * privileged options psockd serves). AF_UNIX sockets are the program's own
 * but for root under PSOCK_ROUTE=daemon and PSOCK_PRELOAD_UNIX=daemon. */
static bool routed(int family) {
  switch (family) {
  case AF_INET:
  case AF_INET6:
  case AF_NETLINK:
  case AF_PACKET:
  case AF_TIPC:
    return true;
  case AF_UNIX:
    return shim_unix_via_daemon() && !pc_unix_socket_local();
  default:
    return false;
  }
}

/* The families whose addresses psockd binds and connects; a packet
 * socket's address (an interface of psockd's namespace) is bound by the
 * program itself, on the socket psockd made. Of AF_UNIX addresses only
 * abstract names, and only with PSOCK_PRELOAD_UNIX=daemon. */
static bool addressed(int family) {
  if (family == AF_UNIX)
    return shim_unix_via_daemon();
  return routed(family) && family != AF_PACKET;
}

/* The family of socket fd (>= 0), or -errno as bind() would say it. */
static int sock_family(int fd) {
  socklen_t len = sizeof(int);
  int family;

  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
    return -errno;
  return family;
}

static int sock_type(int fd) {
  socklen_t len = sizeof(int);
  int type;

  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
    return -errno;
  return type;
}

/* A psock_sock on the stack for an fd the program holds. */
static void stack_sock(psock_sock *s, int fd, int family) {
  memset(s, 0, sizeof(*s));
  s->fd = fd;
  s->family = family;
  s->type = 0;
  s->proto = 0;
  /* psockd never waits; the shim does, in the fd's own mode. */
  s->timeout = 0.0;
}

static int fail(int err) {
  errno = err;
  return -1;
}

/*
 * errno after psockd could not give a socket (a policy refusal of a call
 * the kernel would have refused for its arguments is already the
 * kernel's errno: the library asked, native.h): if the process is out of
 * fds the kernel would have said so (the fd could not be passed to us).
 */
static int socket_errno(void) {
  int err = shim_errno(), probe;

  if (psock_last_error_kind() != PSOCK_ERR_PROTOCOL)
    return err;
  probe = shim_real()->socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0 && (errno == EMFILE || errno == ENFILE))
    return errno;
  if (probe >= 0)
    close(probe);
  return err;
}

/* ------------------------------------------------------------ socket */

SHIM_EXPORT int socket(int domain, int type, int protocol) {
  const struct shim_real *r = shim_real();
  psock_sock *s;
  int fd, err;

  if (shim_busy() || !routed(domain))
    return r->socket(domain, type, protocol);
  /* The kernel's first check, before the family is looked at. */
  if ((type & ~SOCK_TYPE_BITS) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
    return fail(EINVAL);
  /* The kernel makes the obsolete inet SOCK_PACKET a packet socket
   * (__sock_create()): so does the shim, and psockd judges it as one. */
  if (domain == AF_INET && (type & SOCK_TYPE_BITS) == SOCK_PACKET)
    domain = AF_PACKET;
  shim_enter();
  /* The fd arrives at the lowest free number (SCM_RIGHTS installs it as
   * socket() would) and close-on-exec only with SOCK_CLOEXEC. */
  s = psock_socket(domain, type, protocol);
  fd = s ? psock_detach(s) : -1;
  err = fd < 0 ? socket_errno() : 0;
  if (shim_hint_enabled()) {
    char words[96];

    hint_socket_words(domain, type, protocol, words, sizeof(words));
    shim_hint_print(fd < 0, "socket %s", words);
  }
  shim_leave();
  return fd < 0 ? fail(err) : fd;
}

/*
 * The kernel pairs unix and tipc sockets only: for inet, inet6, netlink
 * and packet socketpair() can only fail, with EOPNOTSUPP or with the
 * error of making the first socket, and the program's own kernel gives
 * that answer for the program's own privileges as the host's would.
 */
static bool paired_by_psockd(int family) {
  return routed(family) && (family == AF_TIPC || family == AF_UNIX);
}

SHIM_EXPORT int socketpair(int domain, int type, int protocol, int sv[2]) {
  const struct shim_real *r = shim_real();
  psock_sock *a = NULL, *b = NULL;
  int fds[2], rc, err = 0;

  if (shim_busy() || !paired_by_psockd(domain))
    return r->socketpair(domain, type, protocol, sv);
  if ((type & ~SOCK_TYPE_BITS) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
    return fail(EINVAL);
  shim_enter();
  rc = psock_socketpair(domain, type, protocol, &a, &b);
  if (rc < 0)
    err = socket_errno();
  shim_leave();
  if (rc < 0)
    return fail(err);
  fds[0] = psock_detach(a);
  fds[1] = psock_detach(b);
  /* As the kernel: created, then a bad sv is EFAULT and both are gone. */
  if (shim_copy_to_user(sv, fds, sizeof(fds)) < 0) {
    close(fds[0]);
    close(fds[1]);
    return fail(EFAULT);
  }
  return 0;
}

/* ------------------------------------------------------- addresses */

/*
 * The caller's sockaddr into ss, as move_addr_to_kernel() takes it: a
 * length above sockaddr_storage is EINVAL, an unreadable pointer EFAULT;
 * length 0 reads nothing.
 */
static int fetch_addr(const struct sockaddr *addr, socklen_t len,
                      struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (len > sizeof(*ss))
    return -EINVAL;
  return shim_copy_from_user(ss, addr, len);
}

/* ------------------------------------------------------------ bind */

SHIM_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  const struct shim_real *r = shim_real();
  struct sockaddr_storage ss;
  psock_address a;
  psock_sock s;
  char words[320];
  int family, rc, err = 0;

  if (shim_busy())
    return r->bind(fd, addr, len);
  family = sock_family(fd);
  if (family < 0)
    return fail(-family);
  if (!addressed(family))
    return r->bind(fd, addr, len);
  rc = fetch_addr(addr, len, &ss);
  if (rc == 0 && family == AF_UNIX && !kcheck_unix_abstract(&ss, len))
    return r->bind(fd, addr, len);
  if (rc == 0)
    rc = kcheck_addr(KCHECK_BIND, family, 0, &ss, &len);
  if (rc == 0)
    rc = pc_sockaddr_to_address((struct sockaddr *)&ss, len, &a);
  if (rc < 0)
    return fail(-rc);
  stack_sock(&s, fd, family);
  shim_enter();
  rc = pc_bind_via(&s, &a, !pc_fast_bind(family, &a));
  if (rc < 0)
    err = shim_errno();
  if (shim_hint_enabled()) {
    hint_address_words(family, &a, words, sizeof(words));
    shim_hint_print(rc < 0, "bind %s", words);
  }
  shim_leave();
  return rc < 0 ? fail(err) : 0;
}

/* ------------------------------------------------------------ connect */

/* Would the kernel restart a connect() a signal interrupted? Only if every
 * caught signal has SA_RESTART (we cannot tell which one came). */
static bool signals_restart(void) {
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;

    if (sigaction(sig, NULL, &sa) < 0)
      continue;
    if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
      continue;
    if (!(sa.sa_flags & SA_RESTART))
      return false;
  }
  return true;
}

/* Milliseconds left until *at, for poll(). */
static int ms_until(const struct timespec *at) {
  struct timespec now;
  long long ms;

  clock_gettime(CLOCK_MONOTONIC, &now);
  ms = (at->tv_sec - now.tv_sec) * 1000LL +
       (at->tv_nsec - now.tv_nsec + 999999) / 1000000;
  if (ms < 0)
    return 0;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

/*
 * A blocking connect() as the kernel does it, after psockd started it:
 * wait for the outcome; SO_SNDTIMEO bounds the wait (and then it is
 * EINPROGRESS); a signal is EINTR unless the kernel would restart.
 *
 * Then the socket's state is settled as the kernel's own blocking connect
 * leaves it (connected, so that the next connect() is EISCONN; or
 * unconnected after a failure): a connect() on a socket whose connection
 * attempt is over only moves that state and never reaches the address,
 * so libc's does it on the same address.
 */
static int connect_wait(int fd, const struct sockaddr *sa, socklen_t salen) {
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  struct timeval tv = {0};
  struct timespec at = {0};
  socklen_t len = sizeof(tv);
  bool bounded;
  int err = 0, n;

  if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) < 0)
    return -1;
  bounded = tv.tv_sec > 0 || tv.tv_usec > 0;
  if (bounded) {
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += tv.tv_sec;
    at.tv_nsec += tv.tv_usec * 1000L;
    if (at.tv_nsec >= 1000000000L) {
      at.tv_sec++;
      at.tv_nsec -= 1000000000L;
    }
  }
  for (;;) {
    n = poll(&p, 1, bounded ? ms_until(&at) : -1);
    if (n > 0)
      break;
    if (n == 0)
      return fail(EINPROGRESS);
    if (errno != EINTR)
      return -1;
    /* With a send timeout the kernel never restarts (sock_intr_errno). */
    if (bounded || !signals_restart())
      return fail(EINTR);
  }
  len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return -1;
  if (err) {
    shim_real()->connect(fd, sa, salen);
    return fail(err);
  }
  return shim_real()->connect(fd, sa, salen);
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  const struct shim_real *r = shim_real();
  struct sockaddr_storage ss;
  psock_address a;
  psock_sock s;
  char words[320];
  int family, type = 0, fl, rc, err = 0;
  bool fast;

  if (shim_busy())
    return r->connect(fd, addr, len);
  family = sock_family(fd);
  if (family < 0)
    return fail(-family);
  if (!addressed(family))
    return r->connect(fd, addr, len);
  rc = fetch_addr(addr, len, &ss);
  if (rc < 0)
    return fail(-rc);
  if (len < sizeof(sa_family_t))
    return fail(EINVAL);
  /* AF_UNSPEC dissolves an association: no destination, no policy. Unix
   * paths are the caller's files. */
  if (ss.ss_family == AF_UNSPEC ||
      (family == AF_UNIX && !kcheck_unix_abstract(&ss, len)))
    return r->connect(fd, addr, len);
  type = sock_type(fd);
  if (type < 0)
    return fail(-type);
  rc = kcheck_addr(KCHECK_CONNECT, family, type, &ss, &len);
  if (rc == 0)
    rc = pc_sockaddr_to_address((struct sockaddr *)&ss, len, &a);
  if (rc < 0)
    return fail(-rc);
  fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return -1;
  stack_sock(&s, fd, family);
  shim_enter();
  /* Free: the kernel's own connect on the fd, in its own mode. */
  fast = pc_fast_free(PC_FAST_CONNECT, family, a.family);
  rc = pc_connect_via(&s, &a, !fast);
  if (rc < 0)
    err = shim_errno();
  if (shim_hint_enabled()) {
    hint_address_words(family, &a, words, sizeof(words));
    shim_hint_print(rc < 0, "connect %s", words);
  }
  shim_leave();
  if (rc == 0)
    return 0;
  /* psockd started it without waiting; a blocking socket waits here. */
  if (fast || err != EINPROGRESS || (fl & O_NONBLOCK))
    return fail(err);
  return connect_wait(fd, (struct sockaddr *)&ss, len);
}

/* ------------------------------------------------------------ listen */

SHIM_EXPORT int listen(int fd, int backlog) {
  const struct shim_real *r = shim_real();
  char fb[16];
  psock_sock s;
  int family, rc, err = 0;

  if (shim_busy())
    return r->listen(fd, backlog);
  family = sock_family(fd);
  if (family < 0)
    return fail(-family);
  if (!routed(family))
    return r->listen(fd, backlog);
  stack_sock(&s, fd, family);
  shim_enter();
  /* The kernel reads a negative backlog as a huge one (then somaxconn);
   * the library would make it 0. */
  rc = psock_listen(&s, backlog < 0 ? INT_MAX : backlog);
  if (rc < 0)
    err = shim_errno();
  shim_hint(rc < 0, "listen family=%s", hint_family(family, fb, sizeof(fb)));
  shim_leave();
  return rc < 0 ? fail(err) : 0;
}

/* ------------------------------------------------------------ setsockopt */

/*
 * Ask psockd to set an option on fd, a socket of a routed family: the
 * program's value copied as the kernel would read it (a bad pointer is
 * EFAULT). daemon_first: PSOCK_ROUTE=daemon, psockd sets the options that
 * may need privilege without the kernel trying first. Returns 0, -1 with
 * errno, or 1 if psockd is not to be asked after all.
 */
static int setsockopt_psockd(int fd, int family, int level, int optname,
                             const void *optval, socklen_t optlen,
                             bool daemon_first) {
  const struct sockopt *o = sockopt_lookup(level, optname);
  unsigned char val[OPTVAL_MAX];
  size_t n = optlen < sizeof(val) ? optlen : sizeof(val);
  int rc, err = 0;
  char fb[16];
  psock_sock s;

  if (shim_copy_from_user(val, optval, n) < 0)
    return fail(EFAULT);
  if (daemon_first && !sockopt_may_need_privilege(o, n ? val : NULL, n))
    return 1;
  stack_sock(&s, fd, family);
  shim_enter();
  rc = pc_setsockopt_daemon(&s, level, optname, n ? val : NULL, n);
  if (rc < 0)
    err = shim_errno();
  shim_hint(rc < 0, "setsockopt family=%s option=%s",
            hint_family(family, fb, sizeof(fb)), o ? o->name : "any");
  shim_leave();
  return rc < 0 ? fail(err) : 0;
}

SHIM_EXPORT int setsockopt(int fd, int level, int optname, const void *optval,
                           socklen_t optlen) {
  const struct shim_real *r = shim_real();
  bool daemon_first = pc_route_daemon();
  int family, rc, err;

  if (shim_busy() || (int)optlen < 0)
    return r->setsockopt(fd, level, optname, optval, optlen);
  /* Try first: the kernel decides on the program's own socket, and its
   * answer is the program's unless it refused for lack of privilege. */
  if (!daemon_first) {
    rc = r->setsockopt(fd, level, optname, optval, optlen);
    if (rc == 0 ||
        !sockopt_refused_for_privilege(sockopt_lookup(level, optname), errno))
      return rc;
  }
  err = errno;
  family = sock_family(fd);
  if (family < 0 && !daemon_first)
    return fail(err);
  if (family < 0)
    return fail(-family);
  if (!routed(family))
    return daemon_first ? r->setsockopt(fd, level, optname, optval, optlen)
                        : fail(err);
  /* Then escalate: psockd sets it where its policy allows. */
  rc = setsockopt_psockd(fd, family, level, optname, optval, optlen,
                         daemon_first);
  if (rc == 1)
    return r->setsockopt(fd, level, optname, optval, optlen);
  return rc;
}

/* For tools and benchmarks: is the shim loaded in this process? */
SHIM_EXPORT const char *psock_preload_version(void) {
  return PSOCK_VERSION;
}
