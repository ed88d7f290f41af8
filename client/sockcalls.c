/* SPDX-License-Identifier: MIT */
/*
 * sockcalls: the socket calls that psockd performs: socket, socketpair,
 * fromfd (under PSOCK_ROUTE=daemon), create_connection, bind, connect,
 * connect_ex, listen, and setsockopt when the kernel refused it for lack of
 * privilege. Each builds one request, carries the socket's fd when the
 * call acts on one, and turns the reply into the seed's result.
 *
 * AF_UNIX is the program's own (route.h): its sockets and socketpairs are
 * made here with the kernel's own calls, its paths and abstract names
 * bound and connected on the fd, unless PSOCK_ROUTE=daemon says otherwise.
 * psockd binds or connects an abstract name in its own namespace on a new
 * socket and sends that back (BindReply / ConnectReply .replaced): it takes
 * the place of the program's socket, same fd number, same flags.
 *
 * psockd never waits for a connection: connect comes back "in progress"
 * and the waiting, in the socket's own mode, happens here.
 *
 * The fast paths (issue 16, fast.h): where the policy page says psockd
 * would allow every connect, bind or listen of an inet or inet6 socket of
 * this identity, the call is made on the fd here, as the local route
 * makes it (a host name in the address still resolved by psockd); a bind
 * the kernel refuses for lack of privilege then goes to psockd after all
 * (try first, then escalate, as setsockopt). A socket of a kind psockd
 * batches comes from the cache of sockets made before.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "address.h"
#include "cleanup.h"
#include "conn.h"
#include "deadline.h"
#include "error.h"
#include "fast.h"
#include "names.h"
#include "native.h"
#include "route.h"
#include "sock.h"
#include "sockcalls.h"
#include "sockopts.h"
#include "wire.h"

/* Address argument for a call: NULL is a ValueError, a malformed one an OS
 * error as the kernel would give. */
static int address_arg(const psock_address *a, struct addr_buf *buf,
                       Psock__V1__Address **ret) {
  if (!a)
    return pc_error_value("NULL address");
  return pc_address_to_proto(a, buf, ret);
}

/* ---------------------------------------------------- socket creation */

/* psockd refused the socket: if by its policy, and the program's own
 * kernel would have refused the arguments first, that is the error
 * (native.h). */
static void policy_or_native(bool pair, int family, int type, int proto) {
  int e;

  if (psock_last_error_kind() != PSOCK_ERR_POLICY)
    return;
  e = pc_native_refusal(pair, family, type, proto);
  if (e < 0)
    pc_record(e);
}

/* An AF_UNIX socket of the program's own, made as socket(2) would make it
 * (the raw system call: a preload shim's socket() is not ours to call). */
static psock_sock *socket_local(int family, int type, int proto) {
  int fd = wire_sys_socket(family, type, proto);

  if (fd < 0) {
    pc_record(fd);
    return NULL;
  }
  /* Close-on-exec exactly as asked: pc_sock_wrap() needs no fcntl(). */
  return pc_sock_wrap(fd, family, type, proto);
}

/* One socket from psockd: the fd, close-on-exec exactly as asked. */
static int socket_daemon(int family, int type, int proto, int *ret_fd) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketRequest sr = PSOCK__V1__SOCKET_REQUEST__INIT;

  /* The flags go to psockd with the type: SOCK_NONBLOCK must hold on the
   * open file description it creates. */
  sr.family = family;
  sr.type = type;
  sr.proto = proto;
  PC_REQUEST(req, SOCKET, socket, &sr);
  /* Received close-on-exec exactly when asked, as socket(2) makes it. */
  if (pc_call_fds(&req, NULL, 0, 1, NULL, ret_fd, (type & SOCK_CLOEXEC) != 0) <
      0)
    return -PC_ERECORDED;
  return 0;
}

PSOCK_EXPORT psock_sock *psock_socket(int family, int type, int proto) {
  int fd, r;

  if (family == AF_UNIX && pc_unix_socket_local())
    return socket_local(family, type, proto);
  /* One made before it was asked for, where psockd batches the kind;
   * its mode (SOCK_NONBLOCK, the default timeout) is set as for any. */
  r = pc_fast_socket(family, type, proto, &fd);
  if (r == 0)
    r = socket_daemon(family, type, proto, &fd);
  if (r < 0) {
    pc_record(r);
    policy_or_native(false, family, type, proto);
    return NULL;
  }
  return pc_sock_wrap(fd, family, type, proto);
}

/* Two fds, each close-on-exec: socketpair(2) locally or through psockd. */
static int socketpair_fds(int family, int type, int proto, int fds[2]) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketpairRequest sp = PSOCK__V1__SOCKETPAIR_REQUEST__INIT;
  Psock__V1__Response *resp;

  /* The kernel pairs only AF_UNIX and AF_TIPC sockets; for any other
   * family its answer (EOPNOTSUPP, or the socket's own refusal: EPERM for
   * a raw one without CAP_NET_RAW) depends on the caller's rights alone,
   * so the caller's own kernel gives it. */
  if ((family == AF_UNIX && pc_unix_socket_local()) ||
      (family != AF_UNIX && family != AF_TIPC)) {
    if (syscall(SYS_socketpair, (long)family, (long)(type | SOCK_CLOEXEC),
                (long)proto, fds) < 0)
      return -errno;
    return 0;
  }
  sp.family = family;
  sp.type = type;
  sp.proto = proto;
  PC_REQUEST(req, SOCKETPAIR, socketpair, &sp);
  if (pc_call(&req, NULL, 0, 2, &resp, fds) < 0) {
    policy_or_native(true, family, type, proto);
    return -PC_ERECORDED;
  }
  psock__v1__response__free_unpacked(resp, NULL);
  return 0;
}

PSOCK_EXPORT int psock_socketpair(int family, int type, int proto,
                                  psock_sock **ret_a, psock_sock **ret_b) {
  _cleanup_close_ int fd1 = -1;
  psock_sock *a, *b;
  int fds[2], r;

  if (!ret_a || !ret_b)
    return pc_fail(pc_error_value("NULL result pointer"));
  if (!family)
    family = AF_UNIX;
  r = socketpair_fds(family, type, proto, fds);
  if (r < 0)
    return pc_fail(r);
  fd1 = fds[1];
  a = pc_sock_new(fds[0], family, type, proto);
  if (!a)
    return -1;
  b = pc_sock_new(TAKE_FD(fd1), family, type, proto);
  if (!b) {
    psock_close(a);
    return -1;
  }
  *ret_a = a;
  *ret_b = b;
  return 0;
}

static int fromfd_daemon(int fd, int family, int type, int proto) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__FromfdRequest ff = PSOCK__V1__FROMFD_REQUEST__INIT;
  Psock__V1__Response *resp;
  int nfd, r;

  ff.family = family;
  ff.type = type;
  ff.proto = proto;
  PC_REQUEST(req, FROMFD, fromfd, &ff);
  r = pc_call(&req, &fd, 1, 1, &resp, &nfd);
  if (r < 0)
    return r;
  psock__v1__response__free_unpacked(resp, NULL);
  return nfd;
}

PSOCK_EXPORT psock_sock *psock_fromfd(int fd, int family, int type, int proto) {
  int nfd;

  /* An fd that is not open is EBADF, as dup() says; checked before it
   * could be handed to sendmsg(). */
  if (fcntl(fd, F_GETFD) < 0) {
    pc_record(-errno);
    return NULL;
  }
  if (pc_route_daemon())
    nfd = fromfd_daemon(fd, family, type, proto);
  else if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
    nfd = -errno;
  if (nfd < 0) {
    pc_record(nfd);
    return NULL;
  }
  return pc_sock_new(nfd, family, type, proto);
}

/* ------------------------------------------------- calls on a socket */

/* Does call on s with address a go to psockd? Not an address of the
 * program's own AF_UNIX, nor a call the policy page makes free. */
static bool via_daemon(enum pc_fast_call call, const psock_sock *s,
                       const psock_address *a) {
  if (pc_unix_address_local(a))
    return false;
  if (!s || !a)
    return true;
  if (call == PC_FAST_BIND)
    return !pc_fast_bind(s->family, a);
  return !pc_fast_free(call, s->family, a->family);
}

/*
 * BindReply / ConnectReply .replaced: psockd made the call on a socket of
 * its own network namespace and sent that socket back; it takes the place
 * of s->fd (the same number, with the fd's FD_CLOEXEC and the file's
 * O_NONBLOCK as they were), and the copy received is closed.
 */
static int take_replacement(psock_sock *s, int nfd) {
  _cleanup_close_ int fd = nfd;
  int fdfl, fl, nfl;

  fdfl = fcntl(s->fd, F_GETFD);
  fl = fcntl(s->fd, F_GETFL);
  nfl = fcntl(fd, F_GETFL);
  if (fdfl < 0 || fl < 0 || nfl < 0)
    return -errno;
  /* On the received file before dup3(): both numbers share it. */
  if ((nfl & O_NONBLOCK) != (fl & O_NONBLOCK) &&
      fcntl(fd, F_SETFL, (nfl & ~O_NONBLOCK) | (fl & O_NONBLOCK)) < 0)
    return -errno;
  if (dup3(fd, s->fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
    return -errno;
  return 0;
}

/* The fds of a bind/connect reply: one exactly when it says replaced. */
static int replace_if(psock_sock *s, bool replaced, int *fds, size_t nfds) {
  if (nfds != (replaced ? 1u : 0u)) {
    wire_close_fds(fds, nfds);
    return pc_error(PSOCK_ERR_PROTOCOL, EPROTO,
                    "psockd sent %zu fds with a reply that says replaced=%s",
                    nfds, replaced ? "true" : "false");
  }
  return replaced ? take_replacement(s, fds[0]) : 0;
}

/* The local calls' sockaddr: host names resolved through psockd. */
static int bind_local(psock_sock *s, const psock_address *address) {
  struct sockaddr_storage ss;
  socklen_t len;
  int r = pc_resolve_sockaddr(address, &ss, &len);

  if (r == 0 && bind(s->fd, (struct sockaddr *)&ss, len) < 0)
    r = -errno;
  return r;
}

static int bind_daemon(psock_sock *s, Psock__V1__Address *pa) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__BindRequest b = PSOCK__V1__BIND_REQUEST__INIT;
  _cleanup_(pc_response_freep) Psock__V1__Response *resp = NULL;
  int fds[PSOCK_MAX_FDS];
  size_t nfds = 0;
  bool replaced;

  b.address = pa;
  PC_REQUEST(req, BIND, bind, &b);
  if (pc_call_upto(&req, &s->fd, 1, 1, &resp, fds, &nfds) < 0)
    return -PC_ERECORDED;
  replaced = resp->bind && resp->bind->has_replaced && resp->bind->replaced;
  return replace_if(s, replaced, fds, nfds);
}

/* A local bind of an inet port the kernel keeps from the program for
 * lack of privilege (EACCES; EPERM too, as psockd's own bind escalates
 * both): psockd may grant it. */
static bool bind_escalates(const psock_sock *s, int r) {
  return (r == -EACCES || r == -EPERM) &&
         (s->family == AF_INET || s->family == AF_INET6);
}

int pc_bind_via(psock_sock *s, const psock_address *address, bool daemon) {
  Psock__V1__Address *pa;
  struct addr_buf buf;
  int r;

  r = pc_check_sock(s);
  if (r == 0)
    r = address_arg(address, &buf, &pa);
  if (r < 0)
    return pc_fail(r);
  if (!daemon) {
    r = bind_local(s, address);
    daemon = bind_escalates(s, r);
  }
  if (daemon)
    r = bind_daemon(s, pa);
  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_bind(psock_sock *s, const psock_address *address) {
  return pc_bind_via(s, address, via_daemon(PC_FAST_BIND, s, address));
}

static int connect_finish(psock_sock *s) {
  struct pc_deadline d;
  socklen_t len = sizeof(int);
  int err = 0, r;

  pc_deadline_init(&d, s->timeout);
  r = pc_wait_fd(s->fd, POLLOUT, &d);
  if (r < 0)
    return r;
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return -errno;
  return err ? -err : 0;
}

/* connect(2) on the fd in the socket's mode, as CPython does it: only
 * EINPROGRESS is waited for. A signal that stops a blocking inet connect
 * leaves the attempt running (CPython waits for it then): waited for as
 * after psockd's attempt, so that the fast path (fast.h) answers as the
 * daemon route would. */
static int connect_local(psock_sock *s, const psock_address *address) {
  struct sockaddr_storage ss;
  socklen_t len;
  int r = pc_resolve_sockaddr(address, &ss, &len);

  if (r == 0 && connect(s->fd, (struct sockaddr *)&ss, len) < 0)
    r = -errno;
  if (r == -EINTR && s->timeout < 0.0 &&
      (s->family == AF_INET || s->family == AF_INET6))
    r = -EINPROGRESS;
  if (r == -EINPROGRESS && s->timeout != 0.0)
    r = connect_finish(s);
  return r;
}

/* psockd's connect: its status, the socket replaced if it says so. */
static int connect_daemon(psock_sock *s, Psock__V1__Address *pa) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__ConnectRequest c = PSOCK__V1__CONNECT_REQUEST__INIT;
  _cleanup_(pc_response_freep) Psock__V1__Response *resp = NULL;
  int fds[PSOCK_MAX_FDS], status, r;
  size_t nfds = 0;
  bool replaced;

  c.address = pa;
  PC_REQUEST(req, CONNECT, connect, &c);
  if (pc_call_upto(&req, &s->fd, 1, 1, &resp, fds, &nfds) < 0)
    return -PC_ERECORDED;
  status = resp->connect ? resp->connect->status : -1;
  replaced =
      resp->connect && resp->connect->has_replaced && resp->connect->replaced;
  r = replace_if(s, replaced, fds, nfds);
  if (r < 0 || status == 0)
    return r;
  if (status != EINPROGRESS)
    return pc_error(PSOCK_ERR_PROTOCOL, EPROTO, "psockd sent connect status %d",
                    status);
  if (s->timeout == 0.0)
    return -EINPROGRESS;
  return connect_finish(s);
}

/* connect() in the socket's mode: 0, -errno, -PC_ETIMEOUT, -PC_ERECORDED. */
static int connect_sock(psock_sock *s, const psock_address *address,
                        bool daemon) {
  Psock__V1__Address *pa;
  struct addr_buf buf;
  int r;

  r = pc_check_sock(s);
  if (r == 0)
    r = address_arg(address, &buf, &pa);
  if (r < 0)
    return r;
  return daemon ? connect_daemon(s, pa) : connect_local(s, address);
}

int pc_connect_via(psock_sock *s, const psock_address *address, bool daemon) {
  int r = connect_sock(s, address, daemon);

  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_connect(psock_sock *s, const psock_address *address) {
  return pc_connect_via(s, address, via_daemon(PC_FAST_CONNECT, s, address));
}

PSOCK_EXPORT int psock_connect_ex(psock_sock *s, const psock_address *address) {
  struct pc_error_state saved;
  int r, code;

  pc_error_save(&saved);
  r = connect_sock(s, address, via_daemon(PC_FAST_CONNECT, s, address));
  if (r == -PC_ERECORDED) {
    /* Only the connect's own OS errors become a return value. */
    if (psock_last_error_kind() != PSOCK_ERR_OS)
      return -1;
    code = psock_last_error_code();
    pc_error_restore(&saved);
    return code;
  }
  /* A timeout is EWOULDBLOCK, as CPython's connect_ex returns it. */
  return r == -PC_ETIMEOUT ? EWOULDBLOCK : -r;
}

PSOCK_EXPORT int psock_listen(psock_sock *s, int backlog) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__ListenRequest l = PSOCK__V1__LISTEN_REQUEST__INIT;
  int r = pc_check_sock(s);

  /* Seed: "the minimum value is forced to 0". */
  l.backlog = backlog < 0 ? 0 : backlog;
  if (r == 0 && ((s->family == AF_UNIX && pc_unix_listen_local()) ||
                 pc_fast_free(PC_FAST_LISTEN, s->family, s->family))) {
    /* The program's own socket, in its own namespace; or one psockd
     * would let listen anyway (fast.h). */
    if (listen(s->fd, l.backlog) < 0)
      r = -errno;
  } else if (r == 0) {
    PC_REQUEST(req, LISTEN, listen, &l);
    r = pc_sock_call(s, &req, NULL);
  }
  return r < 0 ? pc_fail(r) : 0;
}

/* ------------------------------------------------------- setsockopt */

/* Ask psockd to set an option: an int (ival) or a buffer. */
static int setsockopt_daemon(psock_sock *s, int level, int optname,
                             const int *ival, const void *buf, size_t len) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SetsockoptRequest so = PSOCK__V1__SETSOCKOPT_REQUEST__INIT;

  so.level = level;
  so.optname = optname;
  if (ival) {
    so.value_case = PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_INT_VALUE;
    so.int_value = *ival;
  } else {
    so.value_case = PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_BUF_VALUE;
    so.buf_value.data = (uint8_t *)buf;
    so.buf_value.len = len;
  }
  PC_REQUEST(req, SETSOCKOPT, setsockopt, &so);
  return pc_sock_call(s, &req, NULL);
}

/*
 * Try first, then escalate (issue 14): the kernel sets the option on the
 * program's own socket, and psockd is asked only when the kernel refused
 * it for lack of privilege as the shared option table (proto/sockopts.h)
 * describes that refusal. The program then sees psockd's answer;
 * otherwise the kernel's own. PSOCK_ROUTE=daemon sends every option to
 * psockd.
 */
static int setsockopt_route(psock_sock *s, int level, int optname,
                            const int *ival, const void *buf, size_t len) {
  const void *val = ival ? (const void *)ival : buf;
  socklen_t vlen = ival ? sizeof(*ival) : (socklen_t)len;
  int err;

  if (pc_route_daemon())
    return setsockopt_daemon(s, level, optname, ival, buf, len);
  if (setsockopt(s->fd, level, optname, val, vlen) == 0)
    return 0;
  err = errno;
  if (!sockopt_refused_for_privilege(sockopt_lookup(level, optname), err))
    return -err;
  return setsockopt_daemon(s, level, optname, ival, buf, len);
}

int pc_setsockopt_daemon(psock_sock *s, int level, int optname, const void *buf,
                         size_t len) {
  int r = pc_check_sock(s);

  if (r == 0)
    r = setsockopt_daemon(s, level, optname, NULL, buf, len);
  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_setsockopt(psock_sock *s, int level, int optname,
                                  int value) {
  int r = pc_check_sock(s);

  if (r == 0)
    r = setsockopt_route(s, level, optname, &value, NULL, 0);
  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_setsockopt_buf(psock_sock *s, int level, int optname,
                                      const void *buf, size_t len) {
  int r = pc_check_sock(s);

  if (r == 0 && !buf && len)
    r = -EFAULT; /* what setsockopt(2) says of a bad pointer */
  if (r == 0 && len > INT_MAX)
    r = -EINVAL;
  if (r == 0)
    r = setsockopt_route(s, level, optname, NULL, buf, len);
  return r < 0 ? pc_fail(r) : 0;
}

/* ------------------------------------------------- create_connection */

static psock_sock *try_connect(const psock_addrinfo *ai, double timeout,
                               const psock_address *source) {
  psock_address src;
  psock_sock *s;

  s = psock_socket(ai->family, ai->socktype, ai->proto);
  if (!s)
    return NULL;
  if (source) {
    /* The seed's (host, port) source binds in whichever family this
     * attempt uses; a host of the other family fails this attempt only. */
    src = *source;
    src.family = ai->family;
  }
  if (psock_settimeout(s, timeout) == 0 &&
      (!source || psock_bind(s, &src) == 0) &&
      psock_connect(s, &ai->address) == 0)
    return s;
  /* Keep the connect's error, not one close() could add. */
  close(psock_detach(s));
  return NULL;
}

static psock_sock *create_connection_daemon(const psock_address *address,
                                            double timeout,
                                            const psock_address *source) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__CreateConnectionRequest cc =
      PSOCK__V1__CREATE_CONNECTION_REQUEST__INIT;
  Psock__V1__Response *resp;
  Psock__V1__SocketInfo *info;
  int fd, family = address->family, type = SOCK_STREAM, proto = 0, r;
  psock_sock *s;

  cc.host = (char *)address->u.in.host;
  cc.port = address->u.in.port;
  if (timeout != PSOCK_TIMEOUT_NONE) {
    cc.has_timeout_ms = true;
    cc.timeout_ms = timeout * 1000.0 >= (double)UINT32_MAX
                        ? UINT32_MAX
                        : (uint32_t)(timeout * 1000.0 + 0.999);
  }
  if (source) {
    cc.source_host = (char *)source->u.in.host;
    cc.has_source_port = true;
    cc.source_port = source->u.in.port;
  }
  PC_REQUEST(req, CREATE_CONNECTION, create_connection, &cc);
  if (pc_call(&req, NULL, 0, 1, &resp, &fd) < 0)
    return NULL;
  info = resp->create_connection ? resp->create_connection->info : NULL;
  if (info) {
    family = info->family;
    type = info->type;
    proto = info->proto;
  }
  psock__v1__response__free_unpacked(resp, NULL);
  s = pc_sock_new(fd, family, type & ~PC_SOCK_FLAGS, proto);
  if (s && (r = pc_sock_set_timeout(s, timeout)) < 0) {
    psock_close(s);
    pc_record(r);
    return NULL;
  }
  return s;
}

static int check_inet(const psock_address *a, const char *what) {
  if (a->family != AF_INET && a->family != AF_INET6)
    return pc_error_value("%s must be an AF_INET or AF_INET6 address", what);
  if (!memchr(a->u.in.host, '\0', sizeof(a->u.in.host)))
    return pc_error_value("%s host is not terminated", what);
  return 0;
}

PSOCK_EXPORT psock_sock *psock_create_connection(const psock_address *address,
                                                 double timeout,
                                                 const psock_address *source) {
  struct pc_error_state saved;
  psock_addrinfo *list = NULL;
  psock_sock *s = NULL;
  char port[8];
  int r;

  r = address ? check_inet(address, "address") : pc_error_value("NULL address");
  if (r == 0 && source)
    r = check_inet(source, "source_address");
  if (r == 0 && !pc_timeout_ok(timeout))
    r = pc_error_value("Timeout value out of range");
  if (r < 0) {
    pc_record(r);
    return NULL;
  }
  if (timeout == PSOCK_TIMEOUT_NONE)
    timeout = psock_getdefaulttimeout();
  if (pc_route_daemon())
    return create_connection_daemon(address, timeout, source);
  snprintf(port, sizeof(port), "%u", address->u.in.port);
  pc_error_save(&saved);
  if (psock_getaddrinfo(address->u.in.host, port, AF_UNSPEC, SOCK_STREAM, 0, 0,
                        &list) < 0)
    return NULL;
  for (const psock_addrinfo *ai = list; ai && !s; ai = ai->next)
    s = try_connect(ai, timeout, source);
  if (!list)
    pc_error(PSOCK_ERR_GAI, EAI_NONAME, "getaddrinfo returns an empty list");
  psock_freeaddrinfo(list);
  /*
   * Policy that restricts destinations may grant connected sockets only:
   * then psockd does the connect itself (and checks the destination).
   */
  if (!s && psock_last_error_kind() == PSOCK_ERR_POLICY)
    s = create_connection_daemon(address, timeout, source);
  /* Failed attempts before the one that worked are not the caller's. */
  if (s)
    pc_error_restore(&saved);
  return s;
}
