/* SPDX-License-Identifier: MIT */
/*
 * native: the program's own kernel asked what it would answer (see
 * native.h). System calls are made raw: a preload shim's socket() is not
 * ours to call.
 */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

bool pc_seccomp_filtered(void) {
  char buf[4096], *p;
  ssize_t n;
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return true;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return true;
  buf[n] = '\0';
  p = strstr(buf, "\nSeccomp:");
  return !p || strtol(p + 9, NULL, 10) != 0;
}

int pc_native_refusal(bool pair, int family, int type, int proto) {
  int sv[2] = {-1, -1};
  long rc;

  if (pc_seccomp_filtered())
    return 0;
  rc = pair ? syscall(SYS_socketpair, (long)family, (long)(type | SOCK_CLOEXEC),
                      (long)proto, sv)
            : (sv[0] = (int)syscall(SYS_socket, (long)family,
                                    (long)(type | SOCK_CLOEXEC), (long)proto));
  if (rc >= 0) {
    close(sv[0]);
    if (pair)
      close(sv[1]);
    return 0;
  }
  switch (errno) {
  case EINVAL:
  case EPROTONOSUPPORT:
  case ESOCKTNOSUPPORT:
  case EPROTOTYPE:
  case EAFNOSUPPORT:
    return -errno;
  case EOPNOTSUPP:
    return pair ? -errno : 0;
  default:
    return 0;
  }
}
