/* SPDX-License-Identifier: MIT */
/*
 * sv_local: the program's own bind, connect and listen (see sv_local.h).
 */
#include "sv_local.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

int sv_read_addr(const struct sv_req *r, uint64_t addr, int len,
                 struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (len < 0 || (size_t)len > sizeof(*ss))
    return -EINVAL;
  return sv_read(r, addr, ss, (size_t)len);
}

/* Do /proc/TID/NAME and /proc/self/NAME name the same object? */
static int same_object(pid_t tid, const char *name) {
  struct stat a, b;
  char path[64];

  snprintf(path, sizeof(path), "/proc/%d/%s", (int)tid, name);
  if (stat(path, &a) < 0)
    return -errno;
  snprintf(path, sizeof(path), "/proc/self/%s", name);
  if (stat(path, &b) < 0)
    return -errno;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The caller's / is the supervisor's, in the same mount namespace. */
static int same_root(pid_t tid) {
  int r = same_object(tid, "ns/mnt");

  return r == 1 ? same_object(tid, "root") : r;
}

static int enter_cwd(pid_t tid) {
  char path[64];
  int dir, r = 0;

  snprintf(path, sizeof(path), "/proc/%d/cwd", (int)tid);
  dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 || fchdir(dir) < 0)
    r = -errno;
  if (dir >= 0)
    close(dir);
  return r;
}

int sv_local_enter(const struct sv_req *r, struct sockaddr_storage *ss,
                   socklen_t *len) {
  struct sockaddr_un *un = (struct sockaddr_un *)ss;
  size_t off = offsetof(struct sockaddr_un, sun_path), n;
  pid_t tid = (pid_t)r->n.pid;
  char path[sizeof(un->sun_path) + 1], moved[sizeof(un->sun_path) + 64];
  int same;

  if (ss->ss_family != AF_UNIX)
    return 0;
  if (*len <= off || un->sun_path[0] == '\0') {
    /* An abstract name or an autobind: the network namespace's. */
    same = same_object(tid, "ns/net");
    return same == 1 ? 0 : same < 0 ? same : -EACCES;
  }
  n = strnlen(un->sun_path, *len - off);
  memcpy(path, un->sun_path, n);
  path[n] = '\0';
  if (path[0] != '/')
    return enter_cwd(tid);
  same = same_root(tid);
  if (same != 0)
    return same < 0 ? same : 0;
  snprintf(moved, sizeof(moved), "/proc/%d/root%s", (int)tid, path);
  if (strlen(moved) >= sizeof(un->sun_path))
    return -ENAMETOOLONG;
  memset(un->sun_path, 0, sizeof(un->sun_path));
  memcpy(un->sun_path, moved, strlen(moved));
  *len = (socklen_t)(off + strlen(moved) + 1);
  return 0;
}

void sv_local_leave(void) {
  (void)!chdir("/");
}

int sv_local_addr(const struct sv_req *r, int fd, int nr,
                  struct sockaddr_storage *ss, socklen_t len) {
  struct sv_task t;
  mode_t old = 0;
  bool masked = false;
  int rc;

  rc = sv_local_enter(r, ss, &len);
  if (rc < 0)
    return rc;
  if (nr == SYS_bind && ss->ss_family == AF_UNIX &&
      sv_task((pid_t)r->n.pid, &t) == 0) {
    old = umask(t.umask);
    masked = true;
  }
  rc = nr == SYS_bind ? bind(fd, (struct sockaddr *)ss, len)
                      : connect(fd, (struct sockaddr *)ss, len);
  rc = rc < 0 ? -errno : 0;
  if (masked)
    umask(old);
  sv_local_leave();
  return rc;
}

void sv_local_call(struct sv_req *r, int fd, int nr) {
  struct sockaddr_storage ss;
  long rc;

  /* Only which socket fd is was checked: the kernel may run it. */
  if (sv_fdtable_private(r) && sv_valid(r)) {
    close(fd);
    sv_reply_continue(r);
    return;
  }
  if (nr == SYS_listen) {
    if (!sv_valid(r))
      rc = SV_NO_ANSWER;
    else
      rc = listen(fd, sv_int(r, 1)) < 0 ? -errno : 0;
  } else {
    rc = sv_read_addr(r, sv_arg(r, 1), sv_int(r, 2), &ss);
    if (rc == 0 && !sv_valid(r))
      rc = SV_NO_ANSWER;
    if (rc == 0)
      rc = sv_local_addr(r, fd, nr, &ss, (socklen_t)sv_int(r, 2));
  }
  close(fd);
  if (rc != SV_NO_ANSWER)
    sv_reply(r, rc);
}
