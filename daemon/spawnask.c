/* SPDX-License-Identifier: MIT */
/*
 * spawnask: the master's requests to psockd-spawn and its reports back.
 *
 * Trust boundary: psockd-spawn is started by the master and reads only
 * from it; its reports are fixed-size and checked for size.
 */
#include "spawnask.h"

#include <errno.h>
#include <sys/socket.h>

#include "wire.h"

int spawnask_start(int spawn_fd, uint32_t worker_id, const struct identity *who,
                   int ctl_fd, int priv_fd) {
  struct spawn_request req = {
      .type = SPAWN_START, .worker_id = worker_id, .identity = *who};
  int fds[2] = {ctl_fd, priv_fd};

  return wire_send_packet(spawn_fd, &req, sizeof(req), fds, 2, MSG_DONTWAIT);
}

int spawnask_kill(int spawn_fd, uint32_t worker_id, int signo) {
  struct spawn_request req = {
      .type = SPAWN_KILL, .worker_id = worker_id, .signo = signo};

  return wire_send_packet(spawn_fd, &req, sizeof(req), NULL, 0, MSG_DONTWAIT);
}

int spawnask_report(int spawn_fd, struct spawn_report *ret) {
  size_t nfds = 0;
  ssize_t n = wire_recv_packet(spawn_fd, ret, sizeof(*ret), NULL, 0, &nfds,
                               MSG_DONTWAIT);

  if (n == 0)
    return -ECONNRESET;
  if (n < 0)
    return (int)n;
  if (n != sizeof(*ret) ||
      (ret->type != SPAWN_STARTED && ret->type != SPAWN_EXITED))
    return -EPROTO;
  return 0;
}
