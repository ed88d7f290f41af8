/* SPDX-License-Identifier: MIT */
/*
 * privask: a worker's requests to psockd-priv (see privask.h).
 *
 * The exchange is synchronous: psockd-priv performs three short,
 * non-blocking operations, and serves every worker in turn. Its answer is
 * awaited for at most PRIV_TIMEOUT_S (SO_RCVTIMEO): a psockd-priv that does
 * not answer is treated as gone, and the worker stops.
 *
 * Trust boundary: what comes back is a fixed-size reply and at most one
 * fd, from a more privileged process.
 */
#include "privask.h"

#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "privproto.h"
#include "wire.h"

#define PRIV_TIMEOUT_S 5

static int channel = -1;
static bool lost;

void privask_set_channel(int fd) {
  struct timeval tv = {.tv_sec = PRIV_TIMEOUT_S};

  channel = fd;
  if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
    log_warn("psockd-priv channel: SO_RCVTIMEO: %m");
}

bool privask_channel_lost(void) {
  return lost;
}

static int fd_family(int fd) {
  int family;
  socklen_t len = sizeof(family);

  if (fd < 0)
    return -1;
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0 ? -1 : family;
}

static int exchange(const struct priv_request *req, int fd_in, int *ret_fd) {
  struct priv_reply rep;
  int fds[1] = {-1};
  size_t nfds = 0;
  ssize_t n;
  int r;

  r = wire_send_packet(channel, req, sizeof(*req), &fd_in, fd_in >= 0 ? 1 : 0,
                       0);
  if (r == 0) {
    n = wire_recv_packet(channel, &rep, sizeof(rep), fds, 1, &nfds, 0);
    r = n == sizeof(rep) ? 0 : n < 0 ? (int)n : -EPROTO;
  }
  if (r < 0) {
    wire_close_fds(fds, nfds);
    if (!lost)
      log_err("channel to psockd-priv lost: %s", strerror(-r));
    lost = true;
    return -EIO;
  }
  rep.rule[sizeof(rep.rule) - 1] = '\0';
  if (rep.rule[0])
    log_notice("psockd-priv refused op %u: denied by policy (%s)", req->op,
               rep.rule);
  if (rep.result < 0 || !ret_fd) {
    wire_close_fds(fds, nfds);
    return rep.result;
  }
  if (nfds != 1)
    return -EIO;
  *ret_fd = fds[0];
  return 0;
}

/* Ask if the request is one psockd-priv serves; else own_err stands. */
static int ask(const struct priv_request *req, int fd_in, int *ret_fd,
               int own_err) {
  if (channel < 0 || lost || (own_err != -EPERM && own_err != -EACCES) ||
      privproto_validate(req, fd_family(fd_in)) < 0)
    return own_err;
  return exchange(req, fd_in, ret_fd);
}

int privask_socket(int family, int type, int proto, int own_err) {
  struct priv_request req = {
      .op = PRIV_OP_SOCKET, .family = family, .type = type, .proto = proto};
  int fd = -1, r;

  r = ask(&req, -1, &fd, own_err);
  return r < 0 ? r : fd;
}

int privask_bind(int fd, const struct sockaddr *sa, socklen_t len,
                 int own_err) {
  struct priv_request req = {.op = PRIV_OP_BIND, .len = len};

  if (len > PRIV_DATA_MAX)
    return own_err;
  if (len)
    memcpy(req.data, sa, len);
  return ask(&req, fd, NULL, own_err);
}

int privask_setsockopt(int fd, int level, int optname, const void *val,
                       socklen_t len, int own_err) {
  struct priv_request req = {
      .op = PRIV_OP_SETSOCKOPT, .level = level, .optname = optname, .len = len};

  if (len > PRIV_DATA_MAX)
    return own_err;
  if (len) /* an empty value may come with a NULL pointer */
    memcpy(req.data, val, len);
  return ask(&req, fd, NULL, own_err);
}
