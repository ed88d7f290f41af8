/* SPDX-License-Identifier: MIT */
/*
 * control: the policy file as the master hands it to workers and
 * psockd-priv: a sealed memfd, so that each reads exactly the bytes the
 * master checked, even if the file changes meanwhile.
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

static int seal(int mfd) {
  return fcntl(mfd, F_ADD_SEALS,
               F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0
             ? -errno
             : 0;
}

int control_sealed_memfd(const void *data, size_t len) {
  int mfd = memfd_create("psockd-policy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  const char *p = data;
  int r = 0;

  if (mfd < 0)
    return -errno;
  while (len > 0 && r == 0) {
    ssize_t n = write(mfd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      r = n < 0 ? -errno : -EIO;
    else {
      p += n;
      len -= (size_t)n;
    }
  }
  if (r == 0)
    r = seal(mfd);
  if (r < 0) {
    close(mfd);
    return r;
  }
  return mfd;
}

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
  if (r == 0)
    r = seal(mfd);
out:
  close(in);
  if (r < 0) {
    if (mfd >= 0)
      close(mfd);
    return r;
  }
  return mfd;
}
