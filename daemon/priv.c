/* SPDX-License-Identifier: MIT */
/*
 * psockd-priv (psockd --role=priv): the only psockd process that keeps
 * CAP_NET_RAW, CAP_NET_BIND_SERVICE and CAP_NET_ADMIN.
 *
 * Trust boundary: requests come from workers, which parse untrusted client
 * input and so may be compromised. This process never parses anything of
 * variable shape: each packet must be exactly one struct priv_request with
 * exactly the fds its op takes, every field is checked against fixed lists
 * (priv_validate), and anything else ends that worker's channel. Policy is
 * the worker's job; what this process bounds is what any worker, honest or
 * not, can obtain: the list below and nothing more.
 *
 * The master hands it one channel per worker over the control socket (one
 * fd per packet) as workers are started.
 */
#include "privproto.h"

#include <errno.h>
#include <linux/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "privops.h"
#include "wire.h"

/* Families psockd-priv creates sockets for (those that need privilege). */
static const int allowed_families[] = {AF_INET, AF_INET6, AF_PACKET,
                                       AF_NETLINK};
static const int allowed_types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW,
                                    SOCK_SEQPACKET};

/* Options psockd-priv sets, with the exact value size each takes. */
static const struct {
  int level, optname;
  uint32_t min_len, max_len;
} allowed_options[] = {
    {SOL_SOCKET, SO_MARK, sizeof(int), sizeof(int)},
    {SOL_SOCKET, SO_PRIORITY, sizeof(int), sizeof(int)},
    {SOL_SOCKET, SO_RCVBUFFORCE, sizeof(int), sizeof(int)},
    {SOL_SOCKET, SO_SNDBUFFORCE, sizeof(int), sizeof(int)},
    {SOL_SOCKET, SO_DEBUG, sizeof(int), sizeof(int)},
    {SOL_SOCKET, SO_BINDTODEVICE, 0, IFNAMSIZ},
    {IPPROTO_IP, IP_TRANSPARENT, sizeof(int), sizeof(int)},
    {IPPROTO_IPV6, IPV6_TRANSPARENT, sizeof(int), sizeof(int)},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool in_list(const int *list, size_t n, int v) {
  for (size_t i = 0; i < n; i++)
    if (list[i] == v)
      return true;
  return false;
}

/* The family of socket fd; -ENOTSOCK for anything else. getsockopt()
 * itself refuses what is not a socket (ENOTSOCK, or EBADF), so it is the
 * one system call this check needs. */
static int fd_family(int fd) {
  int family;
  socklen_t len = sizeof(family);

  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
    return -ENOTSOCK;
  return family;
}

static int validate_socket(const struct priv_request *r, int fd) {
  int type = r->type & ~SOCK_NONBLOCK;

  if (fd >= 0 || r->len != 0)
    return -EPROTO;
  if (!in_list(allowed_families, N(allowed_families), r->family) ||
      !in_list(allowed_types, N(allowed_types), type))
    return -EPROTO;
  /* IP protocols are 8 bits; AF_PACKET takes a 16-bit ethertype. */
  if (r->proto < 0 || r->proto > (r->family == AF_PACKET ? 0xffff : 0xff))
    return -EPROTO;
  return 0;
}

static int validate_bind(const struct priv_request *r, int fd) {
  sa_family_t sa_family;
  int family = fd_family(fd);

  if (family < 0 || r->len < sizeof(sa_family_t))
    return -EPROTO;
  memcpy(&sa_family, r->data, sizeof(sa_family));
  if (sa_family != family)
    return -EPROTO;
  if (family == AF_INET && r->len == sizeof(struct sockaddr_in))
    return 0;
  if (family == AF_INET6 && r->len == sizeof(struct sockaddr_in6))
    return 0;
  return -EPROTO;
}

static int validate_setsockopt(const struct priv_request *r, int fd) {
  if (fd_family(fd) < 0)
    return -EPROTO;
  for (size_t i = 0; i < N(allowed_options); i++)
    if (allowed_options[i].level == r->level &&
        allowed_options[i].optname == r->optname)
      return r->len >= allowed_options[i].min_len &&
                     r->len <= allowed_options[i].max_len
                 ? 0
                 : -EPROTO;
  return -EPROTO;
}

int priv_validate(const struct priv_request *req, int fd) {
  if (req->len > PRIV_DATA_MAX)
    return -EPROTO;
  switch (req->op) {
  case PRIV_OP_SOCKET:
    return validate_socket(req, fd);
  case PRIV_OP_BIND:
    return validate_bind(req, fd);
  case PRIV_OP_SETSOCKOPT:
    return validate_setsockopt(req, fd);
  default:
    return -EPROTO;
  }
}

int priv_perform(const struct priv_request *req, int fd) {
  int r;

  switch (req->op) {
  case PRIV_OP_SOCKET:
    r = socket(req->family, req->type | SOCK_CLOEXEC, req->proto);
    break;
  case PRIV_OP_BIND:
    r = bind(fd, (const struct sockaddr *)req->data, req->len);
    break;
  case PRIV_OP_SETSOCKOPT:
    r = setsockopt(fd, req->level, req->optname, req->data, req->len);
    break;
  default:
    return -EPROTO;
  }
  return r < 0 ? -errno : r;
}

/* Serve one request on a worker channel. Returns -errno to end it. */
static int serve_channel(int ch) {
  struct priv_request req;
  struct priv_reply rep = {0};
  int fds[1] = {-1}, out = -1, r;
  size_t nfds = 0;
  ssize_t n;

  n = wire_recv_packet(ch, &req, sizeof(req), fds, 1, &nfds, MSG_DONTWAIT);
  if (n == -EAGAIN)
    return 0;
  if (n == 0)
    return -ECONNRESET;
  if (n < 0) {
    log_warn("unreadable request (%s): ending this worker's channel",
             strerror((int)-n));
    return (int)n;
  }
  /* Exactly one struct: a shorter or longer packet is malformed. */
  r = (size_t)n == sizeof(req) ? priv_validate(&req, nfds ? fds[0] : -1)
                               : -EPROTO;
  if (r < 0) {
    log_warn("malformed request (op %u, %zd bytes, %zu fds): "
             "ending this worker's channel",
             (size_t)n >= sizeof(uint32_t) ? req.op : 0, n, nfds);
    wire_close_fds(fds, nfds);
    return r;
  }
  r = priv_perform(&req, nfds ? fds[0] : -1);
  wire_close_fds(fds, nfds);
  if (req.op == PRIV_OP_SOCKET && r >= 0) {
    out = r;
    r = 0;
  }
  rep.result = r;
  r = wire_send_packet(ch, &rep, sizeof(rep), &out, out >= 0 ? 1 : 0, 0);
  if (out >= 0)
    close(out);
  return r;
}

static int add_channel(int epfd, int control) {
  int fds[1] = {-1};
  size_t nfds = 0;
  uint32_t id;
  struct epoll_event ev = {.events = EPOLLIN};
  ssize_t n;

  n = wire_recv_packet(control, &id, sizeof(id), fds, 1, &nfds, 0);
  if (n <= 0)
    return n == 0 ? -ECONNRESET : (int)n;
  if (n != sizeof(id) || nfds != 1) {
    wire_close_fds(fds, nfds);
    return -EPROTO;
  }
  ev.data.fd = fds[0];
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
    close(fds[0]);
    return -errno;
  }
  log_debug("serving worker %u", id);
  return 0;
}

int priv_main(int control_fd) {
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = control_fd};
  int epfd = epoll_create1(EPOLL_CLOEXEC), r = 0;

  if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, control_fd, &ev) < 0)
    return -errno;
  for (;;) {
    struct epoll_event evs[16];
    int n = epoll_wait(epfd, evs, 16, -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      r = -errno;
      break;
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == control_fd) {
        r = add_channel(epfd, control_fd);
        if (r < 0)
          goto out; /* the master is gone or confused: stop */
      } else if (serve_channel(fd) < 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
      }
    }
  }
out:
  close(epfd);
  return r == -ECONNRESET ? 0 : r;
}
