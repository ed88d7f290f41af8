/* SPDX-License-Identifier: MIT */
/*
 * sockcalls: the socket calls that psockd performs: socket, socketpair,
 * fromfd (under PSOCK_ROUTE=daemon), create_connection, bind, connect,
 * connect_ex, listen, setsockopt of privileged options and sendto under
 * PSOCK_ROUTE=daemon. Each builds one request, carries the socket's fd
 * when the call acts on one, and turns the reply into the seed's result.
 *
 * psockd never waits for a connection: connect comes back "in progress"
 * and the waiting, in the socket's own mode, happens here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* A request that carries s->fd and returns no fd: 0 or -PC_ERECORDED. */
static int call_on_sock(psock_sock *s, Psock__V1__Request *req,
                        Psock__V1__Response **ret_resp) {
  Psock__V1__Response *resp;
  int r = pc_call(req, &s->fd, 1, 0, &resp, NULL);

  if (r < 0)
    return r;
  if (ret_resp)
    *ret_resp = resp;
  else
    psock__v1__response__free_unpacked(resp, NULL);
  return 0;
}

/* Address argument for a call: NULL is a ValueError, a malformed one an OS
 * error as the kernel would give. */
static int address_arg(const psock_address *a, struct addr_buf *buf,
                       Psock__V1__Address **ret) {
  if (!a)
    return pc_error_value("NULL address");
  return pc_address_to_proto(a, buf, ret);
}

/*
 * An AF_UNIX path names a file in the caller's mount namespace, to be made
 * with the caller's credentials: the client binds and connects it itself
 * (psockd refuses it for all but root, who may send it there under
 * PSOCK_ROUTE=daemon).
 */
bool pc_unix_path_local(const psock_address *a) {
  if (!a || a->family != AF_UNIX || a->u.un.abstract)
    return false;
  return !(pc_route_daemon() && geteuid() == 0);
}

/* ---------------------------------------------------- socket creation */

PSOCK_EXPORT psock_sock *psock_socket(int family, int type, int proto) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketRequest sr = PSOCK__V1__SOCKET_REQUEST__INIT;
  Psock__V1__Response *resp;
  int fd;

  /* The flags go to psockd with the type: SOCK_NONBLOCK must hold on the
   * open file description it creates. */
  sr.family = family;
  sr.type = type;
  sr.proto = proto;
  PC_REQUEST(req, SOCKET, socket, &sr);
  /* Received close-on-exec exactly when asked, as socket(2) makes it. */
  if (pc_call_fds(&req, NULL, 0, 1, &resp, &fd, (type & SOCK_CLOEXEC) != 0) < 0)
    return NULL;
  psock__v1__response__free_unpacked(resp, NULL);
  return pc_sock_wrap(fd, family, type, proto);
}

PSOCK_EXPORT int psock_socketpair(int family, int type, int proto,
                                  psock_sock **ret_a, psock_sock **ret_b) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SocketpairRequest sp = PSOCK__V1__SOCKETPAIR_REQUEST__INIT;
  Psock__V1__Response *resp;
  psock_sock *a, *b;
  int fds[2];

  if (!ret_a || !ret_b)
    return pc_fail(pc_error_value("NULL result pointer"));
  sp.family = family ? family : AF_UNIX;
  sp.type = type;
  sp.proto = proto;
  PC_REQUEST(req, SOCKETPAIR, socketpair, &sp);
  if (pc_call(&req, NULL, 0, 2, &resp, fds) < 0)
    return -1;
  psock__v1__response__free_unpacked(resp, NULL);
  a = pc_sock_new(fds[0], sp.family, type, proto);
  if (!a) {
    close(fds[1]);
    return -1;
  }
  b = pc_sock_new(fds[1], sp.family, type, proto);
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

static int bind_local(psock_sock *s, const psock_address *address) {
  struct sockaddr_storage ss;
  socklen_t len;
  int r = pc_address_to_sockaddr(address, &ss, &len);

  if (r == 0 && bind(s->fd, (struct sockaddr *)&ss, len) < 0)
    r = -errno;
  return r;
}

PSOCK_EXPORT int psock_bind(psock_sock *s, const psock_address *address) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__BindRequest b = PSOCK__V1__BIND_REQUEST__INIT;
  struct addr_buf buf;
  int r;

  r = pc_check_sock(s);
  if (r == 0)
    r = address_arg(address, &buf, &b.address);
  if (r == 0 && pc_unix_path_local(address)) {
    r = bind_local(s, address);
  } else if (r == 0) {
    PC_REQUEST(req, BIND, bind, &b);
    r = call_on_sock(s, &req, NULL);
  }
  return r < 0 ? pc_fail(r) : 0;
}

int pc_connect_finish(psock_sock *s) {
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
 * EINPROGRESS is waited for. */
static int connect_local(psock_sock *s, const psock_address *address) {
  struct sockaddr_storage ss;
  socklen_t len;
  int r = pc_address_to_sockaddr(address, &ss, &len);

  if (r == 0 && connect(s->fd, (struct sockaddr *)&ss, len) < 0)
    r = -errno;
  if (r == -EINPROGRESS && s->timeout != 0.0)
    r = pc_connect_finish(s);
  return r;
}

/* connect() in the socket's mode: 0, -errno, -PC_ETIMEOUT, -PC_ERECORDED. */
static int connect_sock(psock_sock *s, const psock_address *address) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__ConnectRequest c = PSOCK__V1__CONNECT_REQUEST__INIT;
  Psock__V1__Response *resp;
  struct addr_buf buf;
  int r, status;

  r = pc_check_sock(s);
  if (r == 0)
    r = address_arg(address, &buf, &c.address);
  if (r < 0)
    return r;
  if (pc_unix_path_local(address))
    return connect_local(s, address);
  PC_REQUEST(req, CONNECT, connect, &c);
  r = call_on_sock(s, &req, &resp);
  if (r < 0)
    return r;
  status = resp->connect ? resp->connect->status : -1;
  psock__v1__response__free_unpacked(resp, NULL);
  if (status == 0)
    return 0;
  if (status != EINPROGRESS)
    return pc_error(PSOCK_ERR_PROTOCOL, EPROTO, "psockd sent connect status %d",
                    status);
  if (s->timeout == 0.0)
    return -EINPROGRESS;
  return pc_connect_finish(s);
}

PSOCK_EXPORT int psock_connect(psock_sock *s, const psock_address *address) {
  int r = connect_sock(s, address);

  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_connect_ex(psock_sock *s, const psock_address *address) {
  struct pc_error_state saved;
  int r, code;

  pc_error_save(&saved);
  r = connect_sock(s, address);
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

  if (r == 0) {
    /* Seed: "the minimum value is forced to 0". */
    l.backlog = backlog < 0 ? 0 : backlog;
    PC_REQUEST(req, LISTEN, listen, &l);
    r = call_on_sock(s, &req, NULL);
  }
  return r < 0 ? pc_fail(r) : 0;
}

/* ------------------------------------------------------- setsockopt */

/*
 * Options the kernel reserves for CAP_NET_ADMIN / CAP_NET_RAW: psockd sets
 * them when policy allows. An entry with a range is unprivileged for int
 * values inside it (SO_PRIORITY 0..6 needs no capability).
 */
static const struct priv_opt {
  int level;
  int optname;
  bool ranged;
  int lo, hi;
} priv_opts[] = {
    {SOL_SOCKET, SO_MARK, false, 0, 0},
    {SOL_SOCKET, SO_BINDTODEVICE, false, 0, 0},
    {SOL_SOCKET, SO_PRIORITY, true, 0, 6},
    /* Turning SO_DEBUG on needs CAP_NET_ADMIN; off does not. */
    {SOL_SOCKET, SO_DEBUG, true, 0, 0},
    {SOL_SOCKET, SO_RCVBUFFORCE, false, 0, 0},
    {SOL_SOCKET, SO_SNDBUFFORCE, false, 0, 0},
    {SOL_IP, IP_TRANSPARENT, false, 0, 0},
    {SOL_IPV6, IPV6_TRANSPARENT, false, 0, 0},
};

/* ival is the int value, or NULL when the buffer holds none. */
bool pc_option_privileged(int level, int optname, const int *ival) {
  for (size_t i = 0; i < sizeof(priv_opts) / sizeof(priv_opts[0]); i++) {
    const struct priv_opt *o = &priv_opts[i];

    if (o->level != level || o->optname != optname)
      continue;
    if (!o->ranged)
      return true;
    /* No int value: the kernel will refuse it, no privilege needed. */
    return ival && (*ival < o->lo || *ival > o->hi);
  }
  return false;
}

int pc_daemon_setsockopt(psock_sock *s, int level, int optname, const int *ival,
                         const void *buf, size_t len) {
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
  return call_on_sock(s, &req, NULL);
}

PSOCK_EXPORT int psock_setsockopt(psock_sock *s, int level, int optname,
                                  int value) {
  int r = pc_check_sock(s);

  if (r == 0 &&
      (pc_route_daemon() || pc_option_privileged(level, optname, &value)))
    r = pc_daemon_setsockopt(s, level, optname, &value, NULL, 0);
  else if (r == 0 &&
           setsockopt(s->fd, level, optname, &value, sizeof(value)) < 0)
    r = -errno;
  return r < 0 ? pc_fail(r) : 0;
}

PSOCK_EXPORT int psock_setsockopt_buf(psock_sock *s, int level, int optname,
                                      const void *buf, size_t len) {
  int ival, r = pc_check_sock(s);
  bool has_int = len >= sizeof(int) && buf;

  if (r == 0 && !buf && len)
    r = -EFAULT; /* what setsockopt(2) says of a bad pointer */
  if (r == 0 && len > INT_MAX)
    r = -EINVAL;
  if (has_int)
    memcpy(&ival, buf, sizeof(ival));
  if (r == 0 && (pc_route_daemon() ||
                 pc_option_privileged(level, optname, has_int ? &ival : NULL)))
    r = pc_daemon_setsockopt(s, level, optname, NULL, buf, len);
  else if (r == 0 && setsockopt(s->fd, level, optname, buf, (socklen_t)len) < 0)
    r = -errno;
  return r < 0 ? pc_fail(r) : 0;
}

/* ----------------------------------------------------------- sendto */

/* The most data one sendto request carries: the packet less ample room for
 * the rest of the request (an address is at most a few hundred bytes). */
#define SENDTO_DATA_MAX (PSOCK_MAX_PACKET - 1024)

struct sendto_ctx {
  Psock__V1__Request req;
  Psock__V1__SendtoRequest st;
  struct addr_buf buf;
};

/* psockd's "not ready" is waited out here, as for a local sendto. */
static ssize_t sendto_daemon(psock_sock *s, void *p) {
  struct sendto_ctx *c = p;
  Psock__V1__Response *resp;
  struct pc_error_state saved;
  ssize_t n;

  pc_error_save(&saved);
  if (call_on_sock(s, &c->req, &resp) < 0)
    return pc_error_again(&saved);
  if (!resp->sendto || resp->sendto->sent > c->st.data.len)
    n = pc_error(PSOCK_ERR_PROTOCOL, EPROTO, "psockd sent a bad byte count");
  else
    n = (ssize_t)resp->sendto->sent;
  psock__v1__response__free_unpacked(resp, NULL);
  return n;
}

ssize_t pc_daemon_sendto(psock_sock *s, const void *buf, size_t len, int flags,
                         const psock_address *address) {
  struct sendto_ctx c = {.req = PSOCK__V1__REQUEST__INIT,
                         .st = PSOCK__V1__SENDTO_REQUEST__INIT};
  int r;

  if (!buf && len)
    return -EFAULT;
  r = address_arg(address, &c.buf, &c.st.address);
  if (r < 0)
    return r;
  /* A stream takes part of the data, as send(2) may; a datagram goes whole
   * or fails (EMSGSIZE). */
  if (s->type == SOCK_STREAM && len > SENDTO_DATA_MAX)
    len = SENDTO_DATA_MAX;
  c.st.data.data = (uint8_t *)buf;
  c.st.data.len = len;
  c.st.flags = flags;
  PC_REQUEST(c.req, SENDTO, sendto, &c.st);
  return pc_sock_io(s, POLLOUT, sendto_daemon, &c, true);
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
