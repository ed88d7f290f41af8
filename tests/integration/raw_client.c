/* SPDX-License-Identifier: MIT */
/*
 * raw_client: the wire protocol by hand (see raw_client.h).
 */
#include "raw_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

/* Replies raw_closed() skips before it gives up on the close. */
#define RAW_CLOSE_SKIP 8

/* Pack req with this fd_count and send it with fds[0..nfds). */
static int send_packed(int fd, Psock__V1__Request *req, uint32_t fd_count,
                       const int *fds, size_t nfds, int flags) {
  static uint8_t buf[PSOCK_MAX_PACKET];
  ssize_t n;

  req->fd_count = fd_count;
  n = wire_pack(&req->base, buf, sizeof(buf));
  if (n < 0)
    return (int)n;
  return wire_send_packet(fd, buf, (size_t)n, fds, nfds, flags);
}

int raw_send(int fd, Psock__V1__Request *req, const int *fds, size_t nfds) {
  return send_packed(fd, req, (uint32_t)nfds, fds, nfds, 0);
}

int raw_send_count(int fd, Psock__V1__Request *req, uint32_t fd_count,
                   const int *fds, size_t nfds) {
  return send_packed(fd, req, fd_count, fds, nfds, 0);
}

int raw_send_nowait(int fd, Psock__V1__Request *req) {
  return send_packed(fd, req, 0, NULL, 0, MSG_DONTWAIT);
}

int raw_sendmsg(int fd, const void *buf, size_t len, const int *fds,
                size_t nfds) {
  union {
    char buf[CMSG_SPACE(8 * sizeof(int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

  if (nfds > 8)
    return -EINVAL;
  if (nfds) {
    struct cmsghdr *c;

    memset(&u, 0, sizeof(u));
    msg.msg_control = u.buf;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
  }
  return sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

Psock__V1__Response *raw_recv(int fd, int timeout_ms, int *fds, size_t max_fds,
                              size_t *ret_nfds) {
  static uint8_t buf[PSOCK_MAX_PACKET];
  struct pollfd p = {.fd = fd, .events = POLLIN};
  Psock__V1__Response *r;
  int got[PSOCK_MAX_FDS];
  size_t n_got = 0;
  ssize_t n;

  if (ret_nfds)
    *ret_nfds = 0;
  if (poll(&p, 1, timeout_ms) == 0) {
    errno = ETIMEDOUT;
    return NULL;
  }
  n = wire_recv_packet(fd, buf, sizeof(buf), got, PSOCK_MAX_FDS, &n_got,
                       MSG_DONTWAIT);
  if (n <= 0) {
    errno = n == 0 || n == -ECONNRESET ? 0 : (int)-n;
    return NULL;
  }
  r = psock__v1__response__unpack(NULL, (size_t)n, buf);
  if (!r || r->fd_count != n_got) {
    wire_close_fds(got, n_got);
    if (r)
      psock__v1__response__free_unpacked(r, NULL);
    errno = r ? EPROTO : EBADMSG;
    return NULL;
  }
  for (size_t i = 0; i < n_got; i++) {
    if (fds && i < max_fds)
      fds[i] = got[i];
    else
      close(got[i]);
  }
  if (ret_nfds)
    *ret_nfds = n_got < max_fds ? n_got : max_fds;
  return r;
}

Psock__V1__Response *raw_call(int fd, Psock__V1__Request *req, const int *fds,
                              size_t nfds, int *ret_fds, size_t max_fds,
                              size_t *ret_nfds) {
  Psock__V1__Response *r;
  int e = raw_send(fd, req, fds, nfds);

  if (e < 0) {
    errno = -e;
    return NULL;
  }
  r = raw_recv(fd, RAW_REPLY_TIMEOUT_MS, ret_fds, max_fds, ret_nfds);
  if (r && r->id != req->id) {
    fprintf(stderr, "raw_call: reply id %llu, expected %llu\n",
            (unsigned long long)r->id, (unsigned long long)req->id);
    psock__v1__response__free_unpacked(r, NULL);
    errno = EPROTO;
    return NULL;
  }
  return r;
}

int raw_open(void) {
  const char *path = getenv("PSOCK_SOCKET");
  int fd = path ? wire_connect_path(path) : -EINVAL;

  if (fd < 0) {
    errno = -fd;
    return -1;
  }
  return fd;
}

Psock__V1__Response *raw_hello(int fd, uint32_t version) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__Hello h = PSOCK__V1__HELLO__INIT;

  h.protocol_version = version;
  req.id = 1;
  req.call_case = PSOCK__V1__REQUEST__CALL_HELLO;
  req.hello = &h;
  return raw_call(fd, &req, NULL, 0, NULL, 0, NULL);
}

int raw_connect(void) {
  Psock__V1__Response *r;
  int fd = raw_open();
  bool ok;

  if (fd < 0)
    return -1;
  r = raw_hello(fd, PSOCK_PROTOCOL_VERSION);
  ok = r && r->result_case == PSOCK__V1__RESPONSE__RESULT_HELLO &&
       r->hello->protocol_version == PSOCK_PROTOCOL_VERSION;
  if (r)
    psock__v1__response__free_unpacked(r, NULL);
  if (!ok) {
    close(fd);
    errno = EPROTO;
    return -1;
  }
  return fd;
}

bool raw_closed(int fd) {
  for (int i = 0; i < RAW_CLOSE_SKIP; i++) {
    Psock__V1__Response *r = raw_recv(fd, RAW_REPLY_TIMEOUT_MS, NULL, 0, NULL);

    if (!r)
      return errno == 0;
    psock__v1__response__free_unpacked(r, NULL);
  }
  return false;
}

bool raw_served(int fd, uint64_t id) {
  struct raw_socket_req q;
  Psock__V1__Response *r;
  size_t nfds = 0;
  int got = -1;
  bool ok;

  raw_socket_request(&q, id, AF_INET, SOCK_STREAM, 0);
  r = raw_call(fd, &q.req, NULL, 0, &got, 1, &nfds);
  ok = r && r->result_case == PSOCK__V1__RESPONSE__RESULT_SOCKET &&
       r->fd_count == 1;
  if (nfds)
    close(got);
  if (r)
    psock__v1__response__free_unpacked(r, NULL);
  return ok;
}

bool raw_is_error(const Psock__V1__Response *r, int kind, int code) {
  if (!r || r->result_case != PSOCK__V1__RESPONSE__RESULT_ERROR) {
    fprintf(stderr, "expected error kind %d code %d, got %s\n", kind, code,
            r ? "a result" : "no reply");
    return false;
  }
  if ((int)r->error->kind != kind || r->error->code != code) {
    fprintf(stderr, "expected error kind %d code %d, got %d %d (%s)\n", kind,
            code, (int)r->error->kind, r->error->code, r->error->message);
    return false;
  }
  return r->error->message && r->error->message[0];
}

const char *raw_error_message(const Psock__V1__Response *r) {
  return r && r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR &&
                 r->error->message
             ? r->error->message
             : "";
}

bool raw_is_result(const Psock__V1__Response *r, int result_case) {
  if (r && (int)r->result_case == result_case)
    return true;
  fprintf(stderr, "expected result %d, got %s (%s)\n", result_case,
          r ? "another" : "no reply",
          r ? raw_error_message(r) : strerror(errno));
  return false;
}

Psock__V1__Response *raw_call_fd(int conn, Psock__V1__Request *req, int fd,
                                 int *ret_fd, size_t *ret_nfds) {
  static uint64_t id = 5000;
  Psock__V1__Response *r;
  int got = -1;
  size_t n = 0;

  req->id = ++id;
  r = raw_call(conn, req, &fd, fd >= 0 ? 1 : 0, &got, 1, &n);
  if (ret_nfds) {
    *ret_nfds = n;
    if (n && ret_fd)
      *ret_fd = got;
  } else if (n) {
    close(got);
  }
  return r;
}

Psock__V1__Response *raw_abstract_call(int conn, int fd, bool do_bind,
                                       const char *name, int *ret_fd,
                                       size_t *ret_nfds) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__ConnectRequest c = PSOCK__V1__CONNECT_REQUEST__INIT;
  Psock__V1__BindRequest b = PSOCK__V1__BIND_REQUEST__INIT;
  struct raw_address a;

  raw_abstract_address(&a, name);
  if (do_bind) {
    b.address = &a.a;
    req.call_case = PSOCK__V1__REQUEST__CALL_BIND;
    req.bind = &b;
  } else {
    c.address = &a.a;
    req.call_case = PSOCK__V1__REQUEST__CALL_CONNECT;
    req.connect = &c;
  }
  return raw_call_fd(conn, &req, fd, ret_fd, ret_nfds);
}

Psock__V1__Response *raw_sendto(int conn, int fd, const char *data, int flags,
                                const char *host, uint32_t port) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SendtoRequest s = PSOCK__V1__SENDTO_REQUEST__INIT;
  struct raw_address a;

  raw_inet_address(&a, host, port);
  s.data.data = (uint8_t *)data;
  s.data.len = strlen(data);
  s.flags = flags;
  s.address = &a.a;
  req.call_case = PSOCK__V1__REQUEST__CALL_SENDTO;
  req.sendto = &s;
  return raw_call_fd(conn, &req, fd, NULL, NULL);
}

Psock__V1__Response *raw_getsockopt(int conn, int fd, int level, int optname,
                                    uint32_t buflen) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__GetsockoptRequest g = PSOCK__V1__GETSOCKOPT_REQUEST__INIT;

  g.level = level;
  g.optname = optname;
  g.has_buflen = buflen != 0;
  g.buflen = buflen;
  req.call_case = PSOCK__V1__REQUEST__CALL_GETSOCKOPT;
  req.getsockopt = &g;
  return raw_call_fd(conn, &req, fd, NULL, NULL);
}

Psock__V1__Response *raw_setsockopt(int conn, int fd, int level, int optname,
                                    const void *buf, size_t len, int v) {
  Psock__V1__Request req = PSOCK__V1__REQUEST__INIT;
  Psock__V1__SetsockoptRequest s = PSOCK__V1__SETSOCKOPT_REQUEST__INIT;

  s.level = level;
  s.optname = optname;
  if (buf) {
    s.value_case = PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_BUF_VALUE;
    s.buf_value.data = (uint8_t *)buf;
    s.buf_value.len = len;
  } else {
    s.value_case = PSOCK__V1__SETSOCKOPT_REQUEST__VALUE_INT_VALUE;
    s.int_value = v;
  }
  req.call_case = PSOCK__V1__REQUEST__CALL_SETSOCKOPT;
  req.setsockopt = &s;
  return raw_call_fd(conn, &req, fd, NULL, NULL);
}

void raw_socket_request(struct raw_socket_req *r, uint64_t id, int family,
                        int type, int proto) {
  r->req = (Psock__V1__Request)PSOCK__V1__REQUEST__INIT;
  r->s = (Psock__V1__SocketRequest)PSOCK__V1__SOCKET_REQUEST__INIT;
  r->s.family = family;
  r->s.type = type;
  r->s.proto = proto;
  r->req.id = id;
  r->req.call_case = PSOCK__V1__REQUEST__CALL_SOCKET;
  r->req.socket = &r->s;
}

void raw_gai_request(struct raw_gai_req *r, uint64_t id, const char *host) {
  r->req = (Psock__V1__Request)PSOCK__V1__REQUEST__INIT;
  r->g = (Psock__V1__GetaddrinfoRequest)PSOCK__V1__GETADDRINFO_REQUEST__INIT;
  r->g.host = (char *)host;
  r->req.id = id;
  r->req.call_case = PSOCK__V1__REQUEST__CALL_GETADDRINFO;
  r->req.getaddrinfo = &r->g;
}

int raw_socket(int fd, int family, int type, int proto, int *ret_kind,
               int *ret_code) {
  static uint64_t id = 1000;
  struct raw_socket_req q;
  Psock__V1__Response *r;
  size_t nfds = 0;
  int got = -1;

  raw_socket_request(&q, ++id, family, type, proto);
  r = raw_call(fd, &q.req, NULL, 0, &got, 1, &nfds);
  *ret_kind = 0;
  *ret_code = r ? 0 : errno;
  if (r && r->result_case == PSOCK__V1__RESPONSE__RESULT_ERROR) {
    *ret_kind = (int)r->error->kind;
    *ret_code = r->error->code;
  }
  if (r)
    psock__v1__response__free_unpacked(r, NULL);
  return nfds == 1 ? got : -1;
}

void raw_abstract_address(struct raw_address *r, const char *name) {
  r->a = (Psock__V1__Address)PSOCK__V1__ADDRESS__INIT;
  r->a.addr_case = PSOCK__V1__ADDRESS__ADDR_UNIX_ABSTRACT;
  r->a.unix_abstract.data = (uint8_t *)name;
  r->a.unix_abstract.len = strlen(name);
}

void raw_inet_address(struct raw_address *r, const char *host, uint32_t port) {
  r->a = (Psock__V1__Address)PSOCK__V1__ADDRESS__INIT;
  r->in = (Psock__V1__InetAddress)PSOCK__V1__INET_ADDRESS__INIT;
  r->in.host = (char *)host;
  r->in.port = port;
  r->a.addr_case = PSOCK__V1__ADDRESS__ADDR_INET;
  r->a.inet = &r->in;
}
