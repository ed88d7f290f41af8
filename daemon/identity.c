/* SPDX-License-Identifier: MIT */
/*
 * identity: the kernel's view of a client (credentials, groups, a pidfd)
 * and the systemd unit it runs in, for policy.
 *
 * Trust boundary: the client chooses none of this, but it can race us: it
 * may exit and have its pid reused before we read /proc/PID/cgroup. The
 * pidfd (SO_PEERPIDFD) pins the original process; reading the file and
 * then finding that process still alive proves the file was its own. A
 * client that cannot be pinned down is refused (-ESRCH), never judged with
 * a missing unit, since that would let it slip past unit= deny rules.
 * Library code: never logs.
 */
#include "identity.h"

#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; older libc headers lack it */
#endif

/* Big enough for every hierarchy line of a cgroup v1 system. */
#define CGROUP_FILE_MAX 16384

static int peer_groups(int fd, struct identity *id) {
  socklen_t len = sizeof(id->groups);
  gid_t *all;
  int r = 0;

  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, id->groups, &len) == 0) {
    id->n_groups = len / sizeof(gid_t);
    return 0;
  }
  if (errno != ERANGE)
    return -errno;
  /* Too many to fit: the kernel copied nothing but told us the size. It
   * sorts the list, so keeping the first ones keeps the lowest gids. */
  all = malloc(len);
  if (!all)
    return -ENOMEM;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, all, &len) < 0) {
    r = -errno;
  } else {
    id->n_groups = len / sizeof(gid_t);
    if (id->n_groups > IDENTITY_MAX_GROUPS)
      id->n_groups = IDENTITY_MAX_GROUPS;
    memcpy(id->groups, all, id->n_groups * sizeof(gid_t));
  }
  free(all);
  return r;
}

/* The peer's pidfd into *ret (-1 if the kernel cannot give one); 0, -ESRCH
 * if the peer is gone, or -errno. */
static int peer_pidfd(int fd, int *ret) {
  socklen_t len = sizeof(int);
  int pidfd = -1;

  *ret = -1;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0) {
    *ret = pidfd;
    return 0;
  }
  switch (errno) {
  case ENOPROTOOPT: /* kernel before 6.5 */
  case ENODATA:     /* no peer process recorded for this socket */
    return 0;
  case EINVAL: /* the peer was reaped (ESRCH on newer kernels) */
  case ESRCH:
    return -ESRCH;
  default:
    return -errno;
  }
}

/* /proc/PID/cgroup into buf (NUL-terminated). -ESRCH if pid is gone. */
static int read_cgroup(pid_t pid, char *buf, size_t size) {
  char path[32];
  size_t len = 0;
  int fd;

  snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return errno == ENOENT ? -ESRCH : -errno;
  for (;;) {
    ssize_t n = read(fd, buf + len, size - 1 - len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || (len += (size_t)n) == size - 1) {
      int r = n < 0 ? -errno : n > 0 ? -EFBIG : 0;

      close(fd);
      buf[len] = '\0';
      return r;
    }
  }
}

/*
 * The path of the cgroup v2 line ("0::PATH", also present in hybrid mode),
 * else of systemd's own v1 hierarchy ("N:name=systemd:PATH"), or NULL.
 * The kernel refuses '\n' in cgroup names, so lines cannot be forged.
 */
static const char *cgroup_path(const char *text, size_t *ret_len) {
  const char *v1 = NULL;
  size_t v1_len = 0;

  for (const char *l = text; *l;) {
    const char *end = strchrnul(l, '\n');
    const char *c1 = memchr(l, ':', (size_t)(end - l));
    const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;

    if (c2 && c1 - l == 1 && l[0] == '0' && c2 == c1 + 1) {
      *ret_len = (size_t)(end - c2 - 1);
      return c2 + 1;
    }
    if (c2 && !v1 && c2 - c1 - 1 == 12 &&
        memcmp(c1 + 1, "name=systemd", 12) == 0) {
      v1 = c2 + 1;
      v1_len = (size_t)(end - v1);
    }
    l = *end ? end + 1 : end;
  }
  *ret_len = v1_len;
  return v1;
}

static bool ends_with(const char *s, size_t len, const char *suffix) {
  size_t n = strlen(suffix);

  return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static bool is_unit(const char *s, size_t len) {
  return ends_with(s, len, ".service") || ends_with(s, len, ".scope") ||
         ends_with(s, len, ".socket");
}

/*
 * The next path component of path[*pos..len) that is not a slice, with
 * systemd's escaping (a leading '_') undone. Returns its length (0 at the
 * end) or -EINVAL for "." or "..": a path outside our cgroup namespace,
 * whose unit we cannot tell.
 */
static int next_unit(const char *path, size_t len, size_t *pos,
                     const char **ret) {
  while (*pos < len) {
    const char *c = path + *pos, *slash = memchr(c, '/', len - *pos);
    size_t n = slash ? (size_t)(slash - c) : len - *pos;

    *pos += n + 1;
    if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
      return -EINVAL;
    if (n == 0 || ends_with(c, n, ".slice"))
      continue;
    if (c[0] == '_') {
      c++;
      n--;
    }
    *ret = c;
    return (int)n;
  }
  return 0;
}

static int unit_from_path(const char *path, size_t len, char *out,
                          size_t outlen) {
  const char *sys = NULL, *user = NULL;
  size_t pos = 0;
  int nsys, nuser = 0;

  out[0] = '\0';
  nsys = next_unit(path, len, &pos, &sys);
  if (nsys < 0)
    return nsys;
  if (nsys == 0 || !is_unit(sys, (size_t)nsys))
    return 0;
  /* Inside a user manager, the user's own unit (user-controlled, so it
   * stays qualified by its manager). */
  if (strncmp(sys, "user@", 5) == 0 && ends_with(sys, (size_t)nsys, ".service"))
    nuser = next_unit(path, len, &pos, &user);
  if (nuser < 0)
    return nuser;
  if (nuser > 0 && !is_unit(user, (size_t)nuser))
    nuser = 0;
  if ((size_t)nsys + (nuser ? (size_t)nuser + 1 : 0) >= outlen)
    return -ENAMETOOLONG;
  snprintf(out, outlen, "%.*s%s%.*s", nsys, sys, nuser ? "/" : "", nuser,
           nuser ? user : "");
  return 0;
}

int identity_unit_from_cgroup(const char *text, char *out, size_t outlen) {
  const char *path;
  size_t len;
  int r;

  if (outlen == 0)
    return -ENAMETOOLONG;
  out[0] = '\0';
  path = cgroup_path(text, &len);
  if (!path || len == 0 || path[0] != '/')
    return -EINVAL;
  r = unit_from_path(path + 1, len - 1, out, outlen);
  if (r < 0)
    out[0] = '\0';
  return r;
}

/* The unit of a visible peer, read through its pidfd (see the top). */
static int peer_unit(int fd, struct identity *id) {
  _cleanup_close_ int pidfd = -1;
  _cleanup_free_ char *text = NULL;
  int r;

  r = peer_pidfd(fd, &pidfd);
  if (r < 0)
    return r;
  text = malloc(CGROUP_FILE_MAX);
  if (!text)
    return -ENOMEM;
  r = read_cgroup(id->pid, text, CGROUP_FILE_MAX);
  /* An empty file: no cgroup hierarchy is mounted, so there is no unit to
   * know (a unit= rule then matches nobody). */
  if (r == 0 && text[strspn(text, " \n")] != '\0')
    r = identity_unit_from_cgroup(text, id->unit, sizeof(id->unit));
  /* Alive after the read: the pid was not reused during it. EPERM (an
   * unprivileged caller) also means the process exists. */
  if (r == 0 && pidfd >= 0 &&
      syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno == ESRCH)
    r = -ESRCH;
  return r;
}

int identity_from_socket(int fd, struct identity *ret) {
  struct identity id = {0};
  struct ucred cred;
  socklen_t len = sizeof(cred);
  int r;

  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    return -errno;
  id.uid = cred.uid;
  id.gid = cred.gid;
  id.pid = cred.pid;
  r = peer_groups(fd, &id);
  if (r < 0)
    return r;
  /* A peer in a pid namespace psockd cannot see has pid 0: its unit is
   * unknown, which must never widen what it may do. */
  if (id.pid <= 0)
    id.unit_unknown = 1;
  else if ((r = peer_unit(fd, &id)) < 0)
    return r;
  *ret = id;
  return 0;
}

bool identity_same_subject(const struct identity *a, const struct identity *b) {
  return a->uid == b->uid && a->gid == b->gid && a->n_groups == b->n_groups &&
         memcmp(a->groups, b->groups, a->n_groups * sizeof(a->groups[0])) ==
             0 &&
         a->unit_unknown == b->unit_unknown && strcmp(a->unit, b->unit) == 0;
}

void identity_sanitize(struct identity *id) {
  if (id->n_groups > IDENTITY_MAX_GROUPS)
    id->n_groups = IDENTITY_MAX_GROUPS;
  id->unit[sizeof(id->unit) - 1] = '\0';
  id->unit_unknown = id->unit_unknown ? 1 : 0;
}

void identity_format(const struct identity *id, char *buf, size_t len) {
  snprintf(buf, len, "uid %u gid %u pid %d unit %s", id->uid, id->gid, id->pid,
           id->unit_unknown ? "(unknown)"
           : id->unit[0]    ? id->unit
                            : "-");
}

void identity_to_subject(const struct identity *id,
                         struct policy_subject *ret) {
  ret->uid = id->uid;
  ret->gid = id->gid;
  ret->groups = (const gid_t *)id->groups;
  ret->n_groups = id->n_groups;
  ret->unit = id->unit[0] ? id->unit : NULL;
  ret->unit_unknown = id->unit_unknown != 0;
}
