/* SPDX-License-Identifier: MIT */
/*
 * util: see util.h. Trust boundary: none; every function is pure.
 */
#include "util.h"

#include <errno.h>
#include <string.h>

int pc_copy_str(const char *src, char *buf, size_t len) {
  size_t n = strlen(src);

  if (!buf)
    return -EFAULT;
  if (n >= len)
    return -ERANGE;
  memcpy(buf, src, n + 1);
  return 0;
}
