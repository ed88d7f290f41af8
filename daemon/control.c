/* SPDX-License-Identifier: MIT */
/*
 * control: helpers for the master <-> worker control channel. The policy
 * travels as a sealed memfd so a worker reads exactly the bytes the master
 * checked, even if the file changes meanwhile.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

/* Policy files are small; a huge one is a mistake, not a policy. */
#define POLICY_MAX_BYTES (1024 * 1024)

int control_policy_memfd(const char *path) {
  char buf[8192];
  size_t total = 0;
  int in, mfd, r = 0;

  in = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (in < 0)
    return -errno;
  mfd = memfd_create("psockd-policy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) {
    r = -errno;
    goto out;
  }
  for (;;) {
    ssize_t n = read(in, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      r = n < 0 ? -errno : 0;
      break;
    }
    total += (size_t)n;
    if (total > POLICY_MAX_BYTES) {
      r = -EFBIG;
      break;
    }
    if (write(mfd, buf, (size_t)n) != n) {
      r = -EIO;
      break;
    }
  }
  if (r == 0 &&
      fcntl(mfd, F_ADD_SEALS,
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
    r = -errno;
out:
  close(in);
  if (r < 0) {
    if (mfd >= 0)
      close(mfd);
    return r;
  }
  return mfd;
}

void control_request_stats(int ctl) {
  struct ctl_msg msg = {.type = CTL_STATS};

  if (ctl >= 0)
    wire_send_packet(ctl, &msg, sizeof(msg), NULL, 0, MSG_DONTWAIT);
}
