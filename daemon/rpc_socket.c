/* SPDX-License-Identifier: MIT */
/*
 * rpc_socket: handlers for the calls that create sockets or act on a
 * client's socket (socket, socketpair, fromfd, bind, connect, listen,
 * accept, setsockopt, getsockopt, getsockname, getpeername, shutdown,
 * sendto). The dispatcher has checked the fd count and that each passed fd
 * is a socket; the fd is psockd's own duplicate of the client's socket.
 *
 * Nothing here may block the event loop: sockets are switched to
 * non-blocking for the duration of connect/accept/sendto (the O_NONBLOCK
 * flag belongs to the open file description the client shares, so it is
 * put back at once), and host names are resolved on the lookup pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "authz.h"
#include "log.h"
#include "privops.h"
#include "rpc.h"
#include "worker.h"

/* The most bytes getsockopt(level, optname, buflen) returns (as CPython). */
#define GETSOCKOPT_MAX 1024

static Psock__V1__Empty empty_reply = PSOCK__V1__EMPTY__INIT;

static int client_fd(const struct rpc_call *call) {
  return call->fds_in[0];
}

static Psock__V1__SocketInfo *socket_info(struct rpc_call *call, int family,
                                          int type, int proto) {
  Psock__V1__SocketInfo *i =
      RPC_NEW(call, Psock__V1__SocketInfo, PSOCK__V1__SOCKET_INFO__INIT);
  if (i) {
    i->family = family;
    i->type = type;
    i->proto = proto;
  }
  return i;
}

/* SocketInfo of an existing socket, asked of the kernel. */
static Psock__V1__SocketInfo *socket_info_of(struct rpc_call *call, int fd) {
  int v[3] = {0};
  const int opts[3] = {SO_DOMAIN, SO_TYPE, SO_PROTOCOL};

  for (int i = 0; i < 3; i++) {
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, opts[i], &v[i], &len) < 0)
      return NULL;
  }
  return socket_info(call, v[0], v[1], v[2]);
}

/* Describe sa as an Address living in the call's arena. */
static Psock__V1__Address *
reply_address(struct rpc_call *call, const struct sockaddr *sa, socklen_t len) {
  struct addr_buf *b = rpc_alloc(call, sizeof(*b));
  Psock__V1__Address *a = NULL;

  if (!b || addr_from_sockaddr(sa, len, b, &a) < 0)
    return NULL;
  return a;
}

static Psock__V1__Address *name_of(struct rpc_call *call, int fd, bool peer) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
               : getsockname(fd, (struct sockaddr *)&ss, &len);
  return r < 0 ? NULL : reply_address(call, (struct sockaddr *)&ss, len);
}

/*
 * AF_UNIX paths name files in psockd's own mount namespace and would be
 * created with psockd's credentials. Clients bind and connect them
 * themselves (libpsock-client does so); through psockd only root may.
 */
static int refuse_unix_path(struct rpc_call *call,
                            const Psock__V1__Address *a) {
  if (a && a->addr_case == PSOCK__V1__ADDRESS__ADDR_UNIX_PATH &&
      call->conn->peer.uid != 0)
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EACCES,
                    "AF_UNIX paths are bound and connected by the client "
                    "itself, not by psockd");
  return 1;
}

/*
 * bind, connect, sendto: turn the request's address into call->sa (names
 * resolved in the socket's own family, off the event loop), then resume.
 */
static int with_address(struct rpc_call *call, const Psock__V1__Address *a,
                        int (*resume)(struct rpc_call *call)) {
  int family = call->fd_family; /* read by the dispatcher's check */
  int r;

  if (family < 0)
    return family;
  if ((r = refuse_unix_path(call, a)) <= 0)
    return r;
  r = rpc_address(call, a, family, resume);
  return r == 0 ? resume(call) : r;
}

/* Run op on fd with O_NONBLOCK set, then restore the client's flags. */
static int nonblocking(int fd, int (*op)(struct rpc_call *), struct rpc_call *c,
                       int *ret_err) {
  int flags = fcntl(fd, F_GETFL);
  int r;

  if (flags < 0)
    return -errno;
  if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return -errno;
  r = op(c);
  *ret_err = errno;
  if (!(flags & O_NONBLOCK))
    fcntl(fd, F_SETFL, flags);
  return r;
}

/* ------------------------------------------------------------ creation */

static int authorize_socket(struct rpc_call *call, int family, int type,
                            int proto) {
  struct policy_query q = {
      .call = POLICY_SOCKET, .family = family, .type = type, .proto = proto};
  return rpc_authorize(call, &q);
}

int rpc_socket(struct rpc_call *call) {
  const Psock__V1__SocketRequest *q = call->req->socket;
  int flags = q->type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
  int type = q->type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  Psock__V1__SocketReply *r;
  int fd;

  if (!authorize_socket(call, q->family, type, q->proto))
    return 0;
  r = RPC_NEW(call, Psock__V1__SocketReply, PSOCK__V1__SOCKET_REPLY__INIT);
  if (!r || !(r->info = socket_info(call, q->family, type, q->proto)))
    return -ENOMEM;
  /* Close-on-exec is the receiver's per-fd choice; O_NONBLOCK travels. */
  fd = priv_socket(q->family, type | (flags & SOCK_NONBLOCK), q->proto);
  if (fd < 0)
    return fd;
  call->resp.socket = r;
  return rpc_add_fd(call, fd);
}

int rpc_socketpair(struct rpc_call *call) {
  const Psock__V1__SocketpairRequest *q = call->req->socketpair;
  int type = q->type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  int family = q->family ? q->family : AF_UNIX;
  Psock__V1__SocketpairReply *r;
  int fds[2], e;

  if (!authorize_socket(call, family, type, q->proto))
    return 0;
  r = RPC_NEW(call, Psock__V1__SocketpairReply,
              PSOCK__V1__SOCKETPAIR_REPLY__INIT);
  if (!r || !(r->info = socket_info(call, family, type, q->proto)))
    return -ENOMEM;
  e = priv_socketpair(family, type | (q->type & SOCK_NONBLOCK), q->proto, fds);
  if (e < 0)
    return e;
  rpc_add_fd(call, fds[0]);
  rpc_add_fd(call, fds[1]);
  call->resp.socketpair = r;
  return 0;
}

int rpc_fromfd(struct rpc_call *call) {
  Psock__V1__FromfdReply *r;
  int fd;

  r = RPC_NEW(call, Psock__V1__FromfdReply, PSOCK__V1__FROMFD_REPLY__INIT);
  if (!r || !(r->info = socket_info_of(call, client_fd(call))))
    return r ? -errno : -ENOMEM;
  fd = fcntl(client_fd(call), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  call->resp.fromfd = r;
  return rpc_add_fd(call, fd);
}

/* ---------------------------------------------------------- bind/connect */

static int bind_resume(struct rpc_call *call) {
  int fd = client_fd(call);
  Psock__V1__BindReply *r;
  int e;

  if (!rpc_authorize_addr(call, POLICY_BIND))
    return 0;
  r = RPC_NEW(call, Psock__V1__BindReply, PSOCK__V1__BIND_REPLY__INIT);
  if (!r)
    return -ENOMEM;
  /* Privileged ports: priv_bind asks psockd-priv if the kernel refuses. */
  e = priv_bind(fd, (struct sockaddr *)&call->sa, call->salen);
  if (e < 0)
    return e;
  r->bound = name_of(call, fd, false);
  if (!r->bound)
    return -errno ? -errno : -ENOMEM;
  call->resp.bind = r;
  return 0;
}

int rpc_bind(struct rpc_call *call) {
  return with_address(call, call->req->bind->address, bind_resume);
}

static int do_connect(struct rpc_call *call) {
  return connect(client_fd(call), (struct sockaddr *)&call->sa, call->salen);
}

static int connect_resume(struct rpc_call *call) {
  Psock__V1__ConnectReply *r;
  int rc, err = 0;

  if (!rpc_authorize_addr(call, POLICY_CONNECT))
    return 0;
  r = RPC_NEW(call, Psock__V1__ConnectReply, PSOCK__V1__CONNECT_REPLY__INIT);
  if (!r)
    return -ENOMEM;
  rc = nonblocking(client_fd(call), do_connect, call, &err);
  if (rc < 0 && err != EINPROGRESS)
    return -err;
  r->status = rc < 0 ? EINPROGRESS : 0;
  r->peer = reply_address(call, (struct sockaddr *)&call->sa, call->salen);
  if (!r->peer)
    return -ENOMEM;
  call->resp.connect = r;
  return 0;
}

int rpc_connect(struct rpc_call *call) {
  return with_address(call, call->req->connect->address, connect_resume);
}

/* ------------------------------------------------------- listen/accept */

int rpc_listen(struct rpc_call *call) {
  int backlog = call->req->listen->backlog;
  struct policy_query q = {.call = POLICY_LISTEN, .family = call->fd_family};

  if (!rpc_authorize(call, &q))
    return 0;
  /* The seed: "the minimum value is forced to 0". */
  if (listen(client_fd(call), backlog < 0 ? 0 : backlog) < 0)
    return -errno;
  call->resp.listen = &empty_reply;
  return 0;
}

static int do_accept(struct rpc_call *call) {
  call->salen = sizeof(call->sa);
  return accept4(client_fd(call), (struct sockaddr *)&call->sa, &call->salen,
                 SOCK_CLOEXEC);
}

int rpc_accept(struct rpc_call *call) {
  Psock__V1__AcceptReply *r;
  int fd, err = 0;

  r = RPC_NEW(call, Psock__V1__AcceptReply, PSOCK__V1__ACCEPT_REPLY__INIT);
  if (!r || !(r->info = socket_info_of(call, client_fd(call))))
    return r ? -errno : -ENOMEM;
  fd = nonblocking(client_fd(call), do_accept, call, &err);
  if (fd < 0)
    return -err;
  r->peer = reply_address(call, (struct sockaddr *)&call->sa, call->salen);
  if (!r->peer) {
    close(fd);
    return -ENOMEM;
  }
  call->resp.accept = r;
  return rpc_add_fd(call, fd);
}

/* --------------------------------------------------------- options */

/*
 * Options whose value holds a pointer (a struct sock_fprog) or an fd: the
 * kernel would read the filter from, or find the program in, psockd's own
 * address space and fd table, and EFAULT against EINVAL would tell a client
 * which of psockd's addresses are mapped (SO_GET_FILTER would even read a
 * filter made of psockd's memory back). A client sets these on its socket
 * itself.
 */
static bool option_value_is_callers(int level, int optname) {
  switch (level) {
  case SOL_SOCKET:
    return optname == SO_ATTACH_FILTER || optname == SO_ATTACH_BPF ||
           optname == SO_ATTACH_REUSEPORT_CBPF ||
           optname == SO_ATTACH_REUSEPORT_EBPF;
  case SOL_PACKET:
    return optname == PACKET_FANOUT_DATA;
  default:
    return false;
  }
}

int rpc_setsockopt(struct rpc_call *call) {
  const Psock__V1__SetsockoptRequest *q = call->req->setsockopt;
  const void *val;
  socklen_t len;
  int ival, fd = client_fd(call), e;

  if (q->value_case == PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_INT_VALUE) {
    if (q->int_value < INT32_MIN || q->int_value > INT32_MAX)
      return -EINVAL;
    ival = (int)q->int_value;
    val = &ival;
    len = sizeof(ival);
  } else if (q->value_case == PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_BUF_VALUE) {
    /* An empty value is a value (SO_BINDTODEVICE ""), but protobuf-c gives
     * it a NULL pointer, which memcpy() must not see. */
    val = q->buf_value.len ? q->buf_value.data : (const void *)"";
    len = (socklen_t)q->buf_value.len;
  } else {
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__PROTOCOL_ERROR, EINVAL,
                    "setsockopt without a value");
  }
  if (option_value_is_callers(q->level, q->optname)) {
    log_limited(LOG_NOTICE,
                "conn %" PRIu64 " (uid %u): setsockopt(%d, %d): the value "
                "would be read in psockd's memory: refused",
                call->conn->serial, call->conn->peer.uid, q->level, q->optname);
    return -EINVAL;
  }
  /* Options anyone may set need no decision: the client holds the fd. */
  if (priv_option_is_privileged(q->level, q->optname, val, len)) {
    struct policy_query pq = {.call = POLICY_SETSOCKOPT,
                              .family = call->fd_family,
                              .level = q->level,
                              .optname = q->optname};
    if (!rpc_authorize(call, &pq))
      return 0;
  }
  e = priv_setsockopt(fd, q->level, q->optname, val, len);
  if (e < 0)
    return e;
  call->resp.setsockopt = &empty_reply;
  return 0;
}

int rpc_getsockopt(struct rpc_call *call) {
  const Psock__V1__GetsockoptRequest *q = call->req->getsockopt;
  Psock__V1__GetsockoptReply *r;
  socklen_t len;

  r = RPC_NEW(call, Psock__V1__GetsockoptReply,
              PSOCK__V1__GETSOCKOPT_REPLY__INIT);
  if (!r)
    return -ENOMEM;
  if (!q->has_buflen) {
    int v = 0;
    len = sizeof(v);
    if (getsockopt(client_fd(call), q->level, q->optname, &v, &len) < 0)
      return -errno;
    r->value_case = PSOCK__V1__GETSOCKOPT_REPLY__VALUE_INT_VALUE;
    r->int_value = v;
  } else {
    if (q->buflen == 0 || q->buflen > GETSOCKOPT_MAX)
      return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL,
                      "getsockopt buflen out of range");
    r->buf_value.data = rpc_alloc(call, q->buflen);
    if (!r->buf_value.data)
      return -ENOMEM;
    len = q->buflen;
    if (getsockopt(client_fd(call), q->level, q->optname, r->buf_value.data,
                   &len) < 0)
      return -errno;
    r->value_case = PSOCK__V1__GETSOCKOPT_REPLY__VALUE_BUF_VALUE;
    r->buf_value.len = len;
  }
  call->resp.getsockopt = r;
  return 0;
}

/* ---------------------------------------------------- names, shutdown */

static int address_reply(struct rpc_call *call, bool peer,
                         Psock__V1__AddressReply **slot) {
  Psock__V1__AddressReply *r =
      RPC_NEW(call, Psock__V1__AddressReply, PSOCK__V1__ADDRESS_REPLY__INIT);

  if (!r)
    return -ENOMEM;
  errno = 0;
  r->address = name_of(call, client_fd(call), peer);
  if (!r->address)
    return errno ? -errno : -ENOMEM;
  *slot = r;
  return 0;
}

int rpc_getsockname(struct rpc_call *call) {
  return address_reply(call, false, &call->resp.getsockname);
}

int rpc_getpeername(struct rpc_call *call) {
  return address_reply(call, true, &call->resp.getpeername);
}

int rpc_shutdown(struct rpc_call *call) {
  if (shutdown(client_fd(call), call->req->shutdown->how) < 0)
    return -errno;
  call->resp.shutdown = &empty_reply;
  return 0;
}

/* ----------------------------------------------------------- sendto */

static int sendto_resume(struct rpc_call *call) {
  const Psock__V1__SendtoRequest *q = call->req->sendto;
  Psock__V1__SendtoReply *r;
  ssize_t n;

  if (!rpc_authorize_addr(call, POLICY_SENDTO))
    return 0;
  r = RPC_NEW(call, Psock__V1__SendtoReply, PSOCK__V1__SENDTO_REPLY__INIT);
  if (!r)
    return -ENOMEM;
  /* Never wait for buffer space here: the client retries on EAGAIN. */
  n = sendto(client_fd(call), q->data.data, q->data.len,
             q->flags | MSG_DONTWAIT | MSG_NOSIGNAL,
             (struct sockaddr *)&call->sa, call->salen);
  if (n < 0)
    return -errno;
  r->sent = (uint64_t)n;
  call->resp.sendto = r;
  return 0;
}

int rpc_sendto(struct rpc_call *call) {
  return with_address(call, call->req->sendto->address, sendto_resume);
}
