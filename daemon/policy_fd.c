/* SPDX-License-Identifier: MIT */
/* Temporary: policy_load_fd() until the policy split lands. */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "policy.h"

int policy_load_fd(int fd, const char *name, FILE *errs, unsigned *ret_nerr,
                   struct policy **ret) {
  off_t size;
  void *text;
  int r;

  if (fd < 0)
    return policy_load_default(ret);
  size = lseek(fd, 0, SEEK_END);
  if (size < 0)
    return -errno;
  text = size ? mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0)
              : (void *)"";
  if (text == MAP_FAILED)
    return -errno;
  r = policy_load_string(name, text, (size_t)size, errs, ret_nerr, ret);
  if (size)
    munmap(text, (size_t)size);
  return r;
}
