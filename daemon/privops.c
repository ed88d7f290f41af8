/* SPDX-License-Identifier: MIT */
/*
 * privops: privileged operations as a worker asks for them.
 *
 * Each operation is first tried with the caller's own rights. Only when the
 * kernel refuses it for lack of privilege (EPERM/EACCES) and a channel to
 * psockd-priv is set is the same operation sent there, as one fixed-size
 * request (privproto.h). The request is validated here with the same
 * function psockd-priv uses, so an honest worker never sends one that would
 * end its channel; a request outside the list fails with the kernel's own
 * error. With no channel (single-process psockd, tests, fuzzing) the first
 * attempt is the only one.
 */
#include "privops.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privproto.h"
#include "wire.h"

static int priv_channel = -1;
static bool channel_lost;
/* The lookup pool's threads (create_connection) share the channel. */
static pthread_mutex_t channel_lock = PTHREAD_MUTEX_INITIALIZER;

void privops_set_channel(int fd) {
  priv_channel = fd;
}

bool privops_channel_lost(void) {
  return channel_lost;
}

static int channel_call(const struct priv_request *req, int fd_in,
                        int *ret_fd) {
  struct priv_reply rep;
  int fds[1] = {-1};
  size_t nfds = 0;
  ssize_t n;
  int r;

  pthread_mutex_lock(&channel_lock);
  r = wire_send_packet(priv_channel, req, sizeof(*req), &fd_in,
                       fd_in >= 0 ? 1 : 0, 0);
  if (r == 0) {
    n = wire_recv_packet(priv_channel, &rep, sizeof(rep), fds, 1, &nfds, 0);
    r = n == sizeof(rep) ? 0 : (n < 0 ? (int)n : -EPROTO);
  }
  if (r < 0 && !channel_lost) {
    /* Without psockd-priv this worker cannot do its job: it exits and the
     * master starts a new one with a new channel. */
    log_err("channel to psockd-priv lost: %s", strerror(-r));
    channel_lost = true;
  }
  pthread_mutex_unlock(&channel_lock);
  if (r < 0) {
    wire_close_fds(fds, nfds);
    return -EIO;
  }
  if (rep.result < 0 || !ret_fd) {
    wire_close_fds(fds, nfds);
    return rep.result;
  }
  if (nfds != 1)
    return -EIO;
  *ret_fd = fds[0];
  return 0;
}

/* Send req to psockd-priv if it may go there; else return own_err. */
static int escalate(const struct priv_request *req, int fd_in, int *ret_fd,
                    int own_err) {
  if (priv_channel < 0 || (own_err != -EPERM && own_err != -EACCES))
    return own_err;
  if (priv_validate(req, fd_in) < 0)
    return own_err;
  return channel_call(req, fd_in, ret_fd);
}

int priv_socket(int family, int type, int proto) {
  struct priv_request req = {
      .op = PRIV_OP_SOCKET, .family = family, .type = type, .proto = proto};
  int fd = socket(family, type | SOCK_CLOEXEC, proto);
  int r;

  if (fd >= 0)
    return fd;
  r = escalate(&req, -1, &fd, -errno);
  return r < 0 ? r : fd;
}

int priv_socketpair(int family, int type, int proto, int ret_fds[2]) {
  int fds[2];

  /* socketpair() needs no privilege for any family that supports it. */
  if (socketpair(family, type | SOCK_CLOEXEC, proto, fds) < 0)
    return -errno;
  ret_fds[0] = fds[0];
  ret_fds[1] = fds[1];
  return 0;
}

int priv_bind(int fd, const struct sockaddr *sa, socklen_t len) {
  struct priv_request req = {.op = PRIV_OP_BIND, .len = len};

  if (bind(fd, sa, len) == 0)
    return 0;
  if (len > PRIV_DATA_MAX)
    return -errno;
  if (len)
    memcpy(req.data, sa, len);
  return escalate(&req, fd, NULL, -errno);
}

int priv_setsockopt(int fd, int level, int optname, const void *val,
                    socklen_t len) {
  struct priv_request req = {
      .op = PRIV_OP_SETSOCKOPT, .level = level, .optname = optname, .len = len};

  if (setsockopt(fd, level, optname, val, len) == 0)
    return 0;
  if (len > PRIV_DATA_MAX)
    return -errno;
  if (len) /* an empty value may come with a NULL pointer */
    memcpy(req.data, val, len);
  return escalate(&req, fd, NULL, -errno);
}

bool priv_option_is_privileged(int level, int optname, const void *val,
                               socklen_t len) {
  int v = 0;

  if (val && len >= sizeof(int))
    memcpy(&v, val, sizeof(v));
  switch (level) {
  case SOL_SOCKET:
    switch (optname) {
    case SO_MARK:
    case SO_BINDTODEVICE:
    case SO_RCVBUFFORCE:
    case SO_SNDBUFFORCE:
    case SO_DEBUG:
      return true;
    case SO_PRIORITY:
      /* The kernel lets anyone set priorities 0..6. */
      return v < 0 || v > 6;
    default:
      return false;
    }
  case IPPROTO_IP:
    return optname == IP_TRANSPARENT;
  case IPPROTO_IPV6:
    return optname == IPV6_TRANSPARENT;
  default:
    return false;
  }
}
