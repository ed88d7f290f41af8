/* SPDX-License-Identifier: MIT */
/*
 * rpc_socket: handlers for the calls that create sockets or act on a
 * client's socket (socket, socketpair, fromfd, bind, connect, listen,
 * accept, getsockname, getpeername, shutdown, sendto); socket options are
 * in rpc_sockopt.c, create_connection in rpc_connection.c. The fd a call
 * carries is the worker's duplicate of the client's socket; the worker runs as
 * the client's uid, so what it creates belongs to the client.
 *
 * Each operation is tried with the worker's (the client's) own rights;
 * only what the kernel refuses for lack of privilege goes to psockd-priv,
 * and only if the policy allows it.
 *
 * Nothing here may block the event loop: sockets are switched to
 * non-blocking for the duration of connect/accept/sendto (O_NONBLOCK
 * belongs to the open file description the client shares, so it is put
 * back at once), and host names are resolved by the resolver.
 *
 * AF_UNIX: psockd never makes AF_UNIX sockets for clients other than root
 * (they make their own), binds and connects paths only for root (a path
 * names a file in psockd's mount namespace), and binds or connects an
 * abstract name only where a policy rule names it; abstract names live in
 * the network namespace of the socket, so that is done on a new socket made
 * here and sent back in place of the client's ("replaced").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "cleanup.h"
#include "log.h"
#include "privask.h"
#include "privproto.h"
#include "rpc.h"

/* The send flags psockd passes to the kernel; anything else (MSG_ZEROCOPY
 * above all: the kernel would send the worker's buffer later, after it was
 * reused for another request) is refused. */
#define SEND_FLAGS_ALLOWED                                                     \
  (MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_MORE | MSG_CONFIRM | MSG_NOSIGNAL | \
   MSG_DONTWAIT)

static Psock__V1__Empty empty_reply = PSOCK__V1__EMPTY__INIT;

static int client_fd(const struct rpc_call *call) {
  return call->fds_in[0];
}

static bool is_root(const struct rpc_call *call) {
  return call->conn && call->conn->peer.uid == 0;
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

static int sock_int(int fd, int opt) {
  int v = 0;
  socklen_t len = sizeof(v);

  return getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0 ? -errno : v;
}

/* SocketInfo of an existing socket, asked of the kernel. */
static Psock__V1__SocketInfo *socket_info_of(struct rpc_call *call, int fd) {
  int d = sock_int(fd, SO_DOMAIN), t = sock_int(fd, SO_TYPE),
      p = sock_int(fd, SO_PROTOCOL);

  return d < 0 || t < 0 || p < 0 ? NULL : socket_info(call, d, t, p);
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

/* Run op on fd with O_NONBLOCK set, then restore the client's flags.
 * Returns op's result; -errno of op's failure in *ret_err. */
static int nonblocking(int fd, int (*op)(struct rpc_call *, void *),
                       struct rpc_call *c, void *arg, int *ret_err) {
  int flags = fcntl(fd, F_GETFL);
  int r;

  if (flags < 0)
    return -errno;
  if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return -errno;
  r = op(c, arg);
  *ret_err = r < 0 ? -errno : 0;
  if (!(flags & O_NONBLOCK))
    fcntl(fd, F_SETFL, flags);
  return r;
}

static enum rpc_outcome refuse_unix(struct rpc_call *call, const char *what) {
  return rpc_fail(call, PSOCK__V1__ERROR__KIND__POLICY_DENIED, EPERM,
                  "%s: AF_UNIX is the client's own (it makes, binds and "
                  "connects them itself)",
                  what);
}

/* ------------------------------------------------------------ creation */

static bool allowed_socket(struct rpc_call *call, int family, int type,
                           int proto) {
  struct policy_query q = {
      .call = POLICY_SOCKET, .family = family, .type = type, .proto = proto};
  return rpc_allowed(call, &q);
}

/* ICMP datagram ("ping") sockets are the kernel's to allow, by group. */
static enum rpc_outcome ping_refused(struct rpc_call *call, int family) {
  const struct identity *who = &call->conn->peer;

  log_limited(LOG_WARNING,
              "uid %u gid %u: the kernel refuses ICMP datagram sockets to "
              "this group: net.ipv%c.ping_group_range does not admit it",
              who->uid, who->gid, family == AF_INET6 ? '6' : '4');
  return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EACCES,
                  "ICMP datagram sockets: net.ipv4.ping_group_range on the "
                  "psockd host does not admit gid %u (Debian with systemd "
                  "sets \"0 2147483647\")",
                  who->gid);
}

static bool is_ping(int family, int type, int proto) {
  return type == SOCK_DGRAM &&
         ((family == AF_INET && proto == IPPROTO_ICMP) ||
          (family == AF_INET6 && proto == IPPROTO_ICMPV6));
}

/*
 * The kernel's first checks of socket(2) (net/socket.c, __sock_create()),
 * made before any question of privilege and before a protocol module is
 * loaded: a family or type out of range. Their errno is what a program
 * expects, not the policy's refusal. Anything further (a protocol the
 * family lacks) would mean asking the kernel, which may load a module for
 * it: the policy answers, and the client's library asks its own kernel.
 */
static int kernel_first_check(int family, int type_and_flags) {
  int type = type_and_flags & 0xf; /* the kernel's SOCK_TYPE_MASK */

  if ((type_and_flags & ~0xf) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
    return -EINVAL;
  if (family < 0 || family >= AF_MAX)
    return -EAFNOSUPPORT;
  if (type > SOCK_PACKET) /* the kernel's SOCK_MAX - 1 */
    return -EINVAL;
  return 0;
}

/* The kernel's own rewrite (net/socket.c): an AF_INET SOCK_PACKET socket
 * is a packet socket, so it is judged and made as one. */
static int kernel_family(int family, int type) {
  return family == AF_INET && type == SOCK_PACKET ? AF_PACKET : family;
}

/*
 * A batch (SocketRequest.batch, issue 16): up to batch more sockets of the
 * kind, at most PSOCK_MAX_REPLY_FDS - 1, when the kind is one the
 * identity's policy page lists in its batch bits (a TCP or UDP kind the
 * policy allows outright, and never with --audit-allow: no audit record
 * is written for them). Each is a socket of its own, made as the first:
 * O_NONBLOCK exactly when the request asked SOCK_NONBLOCK, close-on-exec
 * the receiver's choice. Another kind gets its one socket, which is no
 * error; a socket that cannot be made (EMFILE) ends the batch early.
 */
static void add_batch(struct rpc_call *call, int family, int type, int flags,
                      int proto, uint32_t batch) {
  uint32_t n =
      batch < PSOCK_MAX_REPLY_FDS - 1 ? batch : PSOCK_MAX_REPLY_FDS - 1;

  if (!rpc_batchable(call, family, type, proto))
    return;
  while (n-- > 0) {
    int fd = socket(family, type | flags | SOCK_CLOEXEC, proto);

    if (fd < 0 || rpc_add_fd(call, fd) < 0)
      return;
  }
}

enum rpc_outcome rpc_socket(struct rpc_call *call) {
  const Psock__V1__SocketRequest *q = call->req->socket;
  int nonblock = q->type & SOCK_NONBLOCK;
  int type = q->type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  int family = kernel_family(q->family, type);
  Psock__V1__SocketReply *r;
  int fd;

  if ((fd = kernel_first_check(q->family, q->type)) < 0)
    return rpc_errno(call, fd);
  if (family == AF_UNIX && !is_root(call))
    return refuse_unix(call, "socket");
  if (!allowed_socket(call, family, type, q->proto))
    return rpc_refuse(call);
  r = RPC_NEW(call, Psock__V1__SocketReply, PSOCK__V1__SOCKET_REPLY__INIT);
  if (!r || !(r->info = socket_info(call, q->family, type, q->proto)))
    return rpc_errno(call, -ENOMEM);
  /* Close-on-exec is the receiver's per-fd choice; O_NONBLOCK travels. */
  fd = socket(family, type | nonblock | SOCK_CLOEXEC, q->proto);
  if (fd < 0 && errno == EACCES && is_ping(family, type, q->proto))
    return ping_refused(call, family);
  if (fd < 0)
    fd = privask_socket(family, type | nonblock, q->proto, -errno);
  if (fd < 0)
    return rpc_errno(call, fd);
  call->resp.socket = r;
  if (rpc_add_fd(call, fd) < 0)
    return rpc_errno(call, -EMSGSIZE);
  if (q->has_batch && q->batch > 0)
    add_batch(call, family, type, nonblock, q->proto, q->batch);
  return RPC_REPLIED;
}

enum rpc_outcome rpc_socketpair(struct rpc_call *call) {
  const Psock__V1__SocketpairRequest *q = call->req->socketpair;
  int type = q->type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  int family = q->family ? q->family : AF_UNIX;
  Psock__V1__SocketpairReply *r;
  int fds[2], r0;

  if ((r0 = kernel_first_check(family, q->type)) < 0)
    return rpc_errno(call, r0);
  if (family == AF_UNIX && !is_root(call))
    return refuse_unix(call, "socketpair");
  if (!allowed_socket(call, family, type, q->proto))
    return rpc_refuse(call);
  r = RPC_NEW(call, Psock__V1__SocketpairReply,
              PSOCK__V1__SOCKETPAIR_REPLY__INIT);
  if (!r || !(r->info = socket_info(call, family, type, q->proto)))
    return rpc_errno(call, -ENOMEM);
  /* socketpair() needs no privilege for any family that supports it. */
  if (socketpair(family, type | (q->type & SOCK_NONBLOCK) | SOCK_CLOEXEC,
                 q->proto, fds) < 0)
    return rpc_errno(call, -errno);
  rpc_add_fd(call, fds[0]);
  rpc_add_fd(call, fds[1]);
  call->resp.socketpair = r;
  return RPC_REPLIED;
}

enum rpc_outcome rpc_fromfd(struct rpc_call *call) {
  Psock__V1__FromfdReply *r;
  int fd;

  r = RPC_NEW(call, Psock__V1__FromfdReply, PSOCK__V1__FROMFD_REPLY__INIT);
  if (!r)
    return rpc_errno(call, -ENOMEM);
  if (!(r->info = socket_info_of(call, client_fd(call))))
    return rpc_errno(call, -errno);
  fd = fcntl(client_fd(call), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return rpc_errno(call, -errno);
  call->resp.fromfd = r;
  return rpc_add_fd(call, fd) < 0 ? rpc_errno(call, -EMSGSIZE) : RPC_REPLIED;
}

/* ------------------------------------------- AF_UNIX abstract names */

static bool allowed_addr(struct rpc_call *call, enum policy_call pc,
                         const struct rpc_sockaddr *sa) {
  /* The socket's family, as psockd.policy(5) says: an inet6 UDP socket
   * may send to an IPv4 address, and is judged as inet6 all the same. */
  struct policy_query q = {.call = pc,
                           .family = call->fd_family,
                           .addr = (const struct sockaddr *)&sa->sa,
                           .addrlen = sa->len};
  return rpc_allowed(call, &q);
}

static int unix_op(int fd, bool do_bind, const struct rpc_sockaddr *sa) {
  const struct sockaddr *s = (const struct sockaddr *)&sa->sa;

  return (do_bind ? bind(fd, s, sa->len) : connect(fd, s, sa->len)) < 0 ? -errno
                                                                        : 0;
}

/*
 * Bind or connect an abstract name in psockd's network namespace: on a new
 * socket of the client's type, sent back in place of the client's. The
 * policy must name the address (addr=@NAME).
 */
static enum rpc_outcome abstract_op(struct rpc_call *call, bool do_bind,
                                    const struct rpc_sockaddr *sa) {
  int type = sock_int(client_fd(call), SO_TYPE);
  _cleanup_close_ int fd = -1;
  int r;

  if (!allowed_addr(call, do_bind ? POLICY_BIND : POLICY_CONNECT, sa))
    return rpc_refuse(call);
  if (type < 0)
    return rpc_errno(call, type);
  fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return rpc_errno(call, -errno);
  r = unix_op(fd, do_bind, sa);
  if (r < 0)
    return rpc_errno(call, r);
  /* The client puts back its own file status flags. */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if (do_bind) {
    Psock__V1__BindReply *b =
        RPC_NEW(call, Psock__V1__BindReply, PSOCK__V1__BIND_REPLY__INIT);
    if (!b || !(b->bound = name_of(call, fd, false)))
      return rpc_errno(call, -ENOMEM);
    b->has_replaced = b->replaced = true;
    call->resp.bind = b;
  } else {
    Psock__V1__ConnectReply *c =
        RPC_NEW(call, Psock__V1__ConnectReply, PSOCK__V1__CONNECT_REPLY__INIT);
    if (!c ||
        !(c->peer = reply_address(call, (struct sockaddr *)&sa->sa, sa->len)))
      return rpc_errno(call, -ENOMEM);
    c->has_replaced = c->replaced = true;
    call->resp.connect = c;
  }
  return rpc_add_fd(call, TAKE_FD(fd)) < 0 ? rpc_errno(call, -EMSGSIZE)
                                           : RPC_REPLIED;
}

/*
 * The AF_UNIX cases of bind and connect. Returns 1 when it answered (the
 * outcome in *ret), 0 to go on with the common path (root's paths and
 * every other family).
 */
static int unix_address(struct rpc_call *call, const Psock__V1__Address *a,
                        bool do_bind, enum rpc_outcome *ret) {
  struct rpc_sockaddr sa;

  if (!a)
    return 0;
  if (a->addr_case == PSOCK__V1__ADDRESS__ADDR_UNIX_PATH) {
    if (is_root(call))
      return 0;
    *ret = refuse_unix(call, do_bind ? "bind" : "connect");
    return 1;
  }
  if (a->addr_case != PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT)
    return 0;
  if (call->fd_family != AF_UNIX) {
    *ret = rpc_errno(call, -EAFNOSUPPORT);
    return 1;
  }
  if (addr_to_sockaddr(a, &sa.sa, &sa.len) < 0) {
    *ret = rpc_errno(call, -EINVAL);
    return 1;
  }
  *ret = abstract_op(call, do_bind, &sa);
  return 1;
}

/* ---------------------------------------------------------- bind/connect */

static enum rpc_outcome bind_then(struct rpc_call *call,
                                  const struct rpc_sockaddr *sa) {
  const struct sockaddr *s = (const struct sockaddr *)&sa->sa;
  int fd = client_fd(call);
  Psock__V1__BindReply *r;
  int e = 0;

  if (!allowed_addr(call, POLICY_BIND, sa))
    return rpc_refuse(call);
  r = RPC_NEW(call, Psock__V1__BindReply, PSOCK__V1__BIND_REPLY__INIT);
  if (!r)
    return rpc_errno(call, -ENOMEM);
  /* A privileged port: the kernel refuses the client, psockd-priv may
   * not (it judges the policy again). */
  if (bind(fd, s, sa->len) < 0)
    e = privask_bind(fd, s, sa->len, -errno);
  if (e < 0)
    return rpc_errno(call, e);
  r->bound = name_of(call, fd, false);
  if (!r->bound)
    return rpc_errno(call, -ENOMEM);
  call->resp.bind = r;
  return RPC_REPLIED;
}

enum rpc_outcome rpc_bind(struct rpc_call *call) {
  const Psock__V1__Address *a = call->req->bind->address;
  enum rpc_outcome out;

  if (unix_address(call, a, true, &out))
    return out;
  return rpc_with_address(call, a, call->fd_family, bind_then);
}

static int do_connect(struct rpc_call *call, void *arg) {
  const struct rpc_sockaddr *sa = arg;

  return connect(client_fd(call), (const struct sockaddr *)&sa->sa, sa->len);
}

static enum rpc_outcome connect_then(struct rpc_call *call,
                                     const struct rpc_sockaddr *sa) {
  Psock__V1__ConnectReply *r;
  int rc, e = 0;

  if (!allowed_addr(call, POLICY_CONNECT, sa))
    return rpc_refuse(call);
  r = RPC_NEW(call, Psock__V1__ConnectReply, PSOCK__V1__CONNECT_REPLY__INIT);
  if (!r)
    return rpc_errno(call, -ENOMEM);
  rc = nonblocking(client_fd(call), do_connect, call, (void *)sa, &e);
  if (rc < 0 && e != -EINPROGRESS)
    return rpc_errno(call, e);
  r->status = rc < 0 ? EINPROGRESS : 0;
  r->peer = reply_address(call, (const struct sockaddr *)&sa->sa, sa->len);
  if (!r->peer)
    return rpc_errno(call, -ENOMEM);
  call->resp.connect = r;
  return RPC_REPLIED;
}

enum rpc_outcome rpc_connect(struct rpc_call *call) {
  const Psock__V1__Address *a = call->req->connect->address;
  enum rpc_outcome out;

  if (unix_address(call, a, false, &out))
    return out;
  return rpc_with_address(call, a, call->fd_family, connect_then);
}

/* ------------------------------------------------------- listen/accept */

enum rpc_outcome rpc_listen(struct rpc_call *call) {
  int backlog = call->req->listen->backlog;
  struct policy_query q = {.call = POLICY_LISTEN, .family = call->fd_family};

  if (!rpc_allowed(call, &q))
    return rpc_refuse(call);
  /* The seed: "the minimum value is forced to 0". */
  if (listen(client_fd(call), backlog < 0 ? 0 : backlog) < 0)
    return rpc_errno(call, -errno);
  call->resp.listen = &empty_reply;
  return RPC_REPLIED;
}

static int do_accept(struct rpc_call *call, void *arg) {
  struct rpc_sockaddr *sa = arg;

  sa->len = sizeof(sa->sa);
  return accept4(client_fd(call), (struct sockaddr *)&sa->sa, &sa->len,
                 SOCK_CLOEXEC);
}

enum rpc_outcome rpc_accept(struct rpc_call *call) {
  Psock__V1__AcceptReply *r;
  struct rpc_sockaddr sa;
  int fd, e = 0;

  r = RPC_NEW(call, Psock__V1__AcceptReply, PSOCK__V1__ACCEPT_REPLY__INIT);
  if (!r)
    return rpc_errno(call, -ENOMEM);
  if (!(r->info = socket_info_of(call, client_fd(call))))
    return rpc_errno(call, -errno);
  fd = nonblocking(client_fd(call), do_accept, call, &sa, &e);
  if (fd < 0)
    return rpc_errno(call, e);
  /* From here the reply owns fd (closed through the closer on failure:
   * it inherited the listener's SO_LINGER). */
  if (rpc_add_fd(call, fd) < 0)
    return rpc_errno(call, -EMSGSIZE);
  r->peer = reply_address(call, (struct sockaddr *)&sa.sa, sa.len);
  if (!r->peer)
    return rpc_errno(call, -ENOMEM);
  call->resp.accept = r;
  return RPC_REPLIED;
}

/* ---------------------------------------------------- names, shutdown */

static enum rpc_outcome address_reply(struct rpc_call *call, bool peer,
                                      Psock__V1__AddressReply **slot) {
  Psock__V1__AddressReply *r =
      RPC_NEW(call, Psock__V1__AddressReply, PSOCK__V1__ADDRESS_REPLY__INIT);

  if (!r)
    return rpc_errno(call, -ENOMEM);
  errno = 0;
  r->address = name_of(call, client_fd(call), peer);
  if (!r->address)
    return rpc_errno(call, errno ? -errno : -ENOMEM);
  *slot = r;
  return RPC_REPLIED;
}

enum rpc_outcome rpc_getsockname(struct rpc_call *call) {
  return address_reply(call, false, &call->resp.getsockname);
}

enum rpc_outcome rpc_getpeername(struct rpc_call *call) {
  return address_reply(call, true, &call->resp.getpeername);
}

enum rpc_outcome rpc_shutdown(struct rpc_call *call) {
  if (shutdown(client_fd(call), call->req->shutdown->how) < 0)
    return rpc_errno(call, -errno);
  call->resp.shutdown = &empty_reply;
  return RPC_REPLIED;
}

/* ----------------------------------------------------------- sendto */

static enum rpc_outcome sendto_then(struct rpc_call *call,
                                    const struct rpc_sockaddr *sa) {
  const Psock__V1__SendtoRequest *q = call->req->sendto;
  Psock__V1__SendtoReply *r;
  ssize_t n;

  if (!allowed_addr(call, POLICY_SENDTO, sa))
    return rpc_refuse(call);
  r = RPC_NEW(call, Psock__V1__SendtoReply, PSOCK__V1__SENDTO_REPLY__INIT);
  if (!r)
    return rpc_errno(call, -ENOMEM);
  /* Never wait for buffer space here: the client retries on EAGAIN. */
  n = sendto(client_fd(call), q->data.data, q->data.len,
             q->flags | MSG_DONTWAIT | MSG_NOSIGNAL,
             (const struct sockaddr *)&sa->sa, sa->len);
  if (n < 0)
    return rpc_errno(call, -errno);
  r->sent = (uint64_t)n;
  call->resp.sendto = r;
  return RPC_REPLIED;
}

enum rpc_outcome rpc_sendto(struct rpc_call *call) {
  const Psock__V1__SendtoRequest *q = call->req->sendto;
  const Psock__V1__Address *a = q->address;

  if (q->flags & ~SEND_FLAGS_ALLOWED) {
    log_limited(LOG_NOTICE,
                "conn %" PRIu64 " (uid %u): sendto flags 0x%x refused",
                call->conn->serial, call->conn->peer.uid,
                (unsigned)(q->flags & ~SEND_FLAGS_ALLOWED));
    return rpc_fail(call, PSOCK__V1__ERROR__KIND__OS_ERROR, EINVAL,
                    "send flags 0x%x are not passed by psockd",
                    (unsigned)(q->flags & ~SEND_FLAGS_ALLOWED));
  }
  if (a && a->addr_case == PSOCK__V1__ADDRESS__ADDR_UNIX_PATH && !is_root(call))
    return refuse_unix(call, "sendto");
  return rpc_with_address(call, a, call->fd_family, sendto_then);
}
