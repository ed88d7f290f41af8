/* SPDX-License-Identifier: MIT */
/*
 * policy_load: where policy text comes from. A file by path (psockctl,
 * psockd --check-config), a sealed memfd (the master reads the file once
 * into one and hands the same bytes to every worker: each calls
 * policy_load_fd()), or the built-in default policy, which is parsed from
 * its text like any file so that "default policy:N" is line N.
 *
 * Trust boundary: the text is the administrator's; a memfd comes from the
 * master over the control channel. A memfd that is not sealed against
 * writing and shrinking is copied before parsing, so nobody can change the
 * bytes under the parser or cut the mapping short (SIGBUS). Pipes and
 * character devices (psockd --policy <(...), /dev/null) are read to their
 * end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_internal.h"

/*
 * The built-in default policy: what an unprivileged user of the host may
 * do by themselves, plus ICMP echo through ping sockets, and everything
 * for root. One rule per line and nothing else, so that "default
 * policy:N" is both line N and rule N; psockd.policy(5) and
 * docs/policy.md explain each line.
 */
const char pol_default_text[] =
    "allow uid=0 all family=any type=any proto=any addr=any,@* port=any "
    "option=any\n"
    "allow anyone socket family=inet,inet6 type=stream "
    "proto=0,tcp,sctp,mptcp\n"
    "allow anyone socket family=inet,inet6 type=dgram proto=0,udp,udplite\n"
    "allow anyone socket family=inet,inet6 type=seqpacket proto=0,sctp\n"
    "allow anyone socket family=inet type=dgram proto=icmp\n"
    "allow anyone socket family=inet6 type=dgram proto=icmpv6\n"
    "allow anyone socket family=netlink type=raw,dgram "
    "proto=route,sock_diag\n"
    "allow anyone connect,sendto family=inet,inet6,netlink addr=any "
    "port=any\n"
    "allow anyone bind family=inet,inet6,netlink addr=any "
    "port=0,1024-65535\n"
    "allow anyone listen family=inet,inet6\n"
    "allow anyone lookup,reverse\n";

int policy_load_default(struct policy **ret) {
  return policy_load_string("default policy", pol_default_text,
                            sizeof(pol_default_text) - 1, NULL, NULL, ret);
}

/* Read fd into a buffer, a regular file from offset 0, anything else
 * from where it is to its end: 0 with *ret_buf (caller frees) and
 * *ret_len, or -errno, -EFBIG. */
static int read_all(int fd, bool regular, char **ret_buf, size_t *ret_len) {
  /* One byte more than allowed tells a full file from a too large one. */
  char *buf = malloc(POL_MAX_FILE + 1);
  size_t len = 0;

  if (!buf)
    return -ENOMEM;
  while (len < POL_MAX_FILE + 1) {
    size_t room = POL_MAX_FILE + 1 - len;
    ssize_t n = regular ? pread(fd, buf + len, room, (off_t)len)
                        : read(fd, buf + len, room);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int r = -errno;

      free(buf);
      return r;
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  if (len > POL_MAX_FILE) {
    free(buf);
    return -EFBIG;
  }
  *ret_buf = buf;
  *ret_len = len;
  return 0;
}

int policy_load_file(const char *path, FILE *errs, unsigned *ret_nerrors,
                     struct policy **ret) {
  int fd, r;

  if (ret_nerrors)
    *ret_nerrors = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return -errno;
  r = policy_load_fd(fd, path, errs, ret_nerrors, ret);
  close(fd);
  return r;
}

static bool sealed(int fd) {
  int seals = fcntl(fd, F_GET_SEALS);

  return seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SHRINK)) ==
                           (F_SEAL_WRITE | F_SEAL_SHRINK);
}

int policy_load_fd(int fd, const char *name, FILE *errs, unsigned *ret_nerrors,
                   struct policy **ret) {
  struct stat st;
  char *buf = NULL;
  size_t len = 0;
  void *map;
  int r;

  if (ret_nerrors)
    *ret_nerrors = 0;
  if (fd < 0)
    return policy_load_default(ret);
  if (fstat(fd, &st) < 0)
    return -errno;
  if (S_ISDIR(st.st_mode))
    return -EISDIR;
  if (S_ISREG(st.st_mode) && st.st_size > (off_t)POL_MAX_FILE)
    return -EFBIG;
  if (S_ISREG(st.st_mode) && st.st_size > 0 && sealed(fd)) {
    /* The seals hold the size and the bytes still: map them. */
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
      return -errno;
    r = policy_load_string(name, map, (size_t)st.st_size, errs, ret_nerrors,
                           ret);
    munmap(map, (size_t)st.st_size);
    return r;
  }
  r = read_all(fd, S_ISREG(st.st_mode), &buf, &len);
  if (r < 0)
    return r;
  r = policy_load_string(name, buf, len, errs, ret_nerrors, ret);
  free(buf);
  return r;
}
