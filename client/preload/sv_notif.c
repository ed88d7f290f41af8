/* SPDX-License-Identifier: MIT */
/*
 * sv_notif: a stopped system call of the program and the answers to it
 * (see sv_notif.h).
 */
#include "sv_notif.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

int sv_recv(int listener, struct sv_req *r) {
  memset(r, 0, sizeof(*r));
  r->listener = listener;
  r->pidfd = -1;
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &r->n) < 0)
    return -errno;
  return 0;
}

void sv_req_done(struct sv_req *r) {
  if (r->pidfd >= 0)
    close(r->pidfd);
  r->pidfd = -1;
}

static int copy(const struct sv_req *r, uint64_t addr, void *buf, size_t len,
                bool to_caller) {
  struct iovec local = {.iov_base = buf, .iov_len = len};
  struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
  ssize_t n;

  if (len == 0)
    return 0;
  if (addr == 0)
    return -EFAULT;
  n = to_caller ? process_vm_writev((pid_t)r->n.pid, &local, 1, &remote, 1, 0)
                : process_vm_readv((pid_t)r->n.pid, &local, 1, &remote, 1, 0);
  if (n == (ssize_t)len)
    return 0;
  if (n >= 0 || errno == EFAULT)
    return -EFAULT;
  return -errno;
}

int sv_read(const struct sv_req *r, uint64_t addr, void *buf, size_t len) {
  return copy(r, addr, buf, len, false);
}

int sv_write(const struct sv_req *r, uint64_t addr, const void *buf,
             size_t len) {
  return copy(r, addr, (void *)buf, len, true);
}

bool sv_valid(const struct sv_req *r) {
  __u64 id = r->n.id;

  return ioctl(r->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* The calling thread's pidfd: its own fd table, even where it unshared
 * it (PIDFD_THREAD, Linux 6.9), else its process's. */
static int pidfd(struct sv_req *r) {
  struct sv_task t;

  if (r->pidfd >= 0)
    return r->pidfd;
  r->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)r->n.pid, PIDFD_THREAD);
  if (r->pidfd < 0 && errno == EINVAL && sv_task((pid_t)r->n.pid, &t) == 0)
    r->pidfd = (int)syscall(SYS_pidfd_open, t.tgid, 0);
  return r->pidfd < 0 ? -errno : r->pidfd;
}

int sv_fd(struct sv_req *r, int fd) {
  int p = pidfd(r), got;

  if (p < 0)
    return p;
  if (fd < 0)
    return -EBADF;
  got = (int)syscall(SYS_pidfd_getfd, p, fd, 0);
  return got < 0 ? -errno : got;
}

int sv_reply(const struct sv_req *r, long val) {
  struct seccomp_notif_resp resp = {.id = r->n.id};

  if (val < 0)
    resp.error = (__s32)val;
  else
    resp.val = val;
  return ioctl(r->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 ? -errno : 0;
}

int sv_reply_continue(const struct sv_req *r) {
  struct seccomp_notif_resp resp = {.id = r->n.id,
                                    .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};

  return ioctl(r->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 ? -errno : 0;
}

static int addfd(const struct sv_req *r, int fd, bool cloexec, bool send) {
  struct seccomp_notif_addfd a = {
      .id = r->n.id,
      .flags = send ? SECCOMP_ADDFD_FLAG_SEND : 0,
      .srcfd = (__u32)fd,
      .newfd_flags = cloexec ? O_CLOEXEC : 0,
  };
  int n = ioctl(r->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a);

  return n < 0 ? -errno : n;
}

int sv_reply_fd(const struct sv_req *r, int fd, bool cloexec) {
  return addfd(r, fd, cloexec, true);
}

int sv_addfd(const struct sv_req *r, int fd, bool cloexec) {
  return addfd(r, fd, cloexec, false);
}

/* "Name:\tV" with V hex (masks) or decimal; the first number. */
static uint64_t field(const char *text, const char *name, int base) {
  const char *p = strstr(text, name);

  if (!p)
    return 0;
  return strtoull(p + strlen(name), NULL, base);
}

int sv_task(pid_t tid, struct sv_task *ret) {
  char path[64], buf[4096];
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return n < 0 ? -errno : -ESRCH;
  buf[n] = '\0';
  ret->tgid = (pid_t)field(buf, "\nTgid:", 10);
  ret->threads = (unsigned)field(buf, "\nThreads:", 10);
  ret->umask = (mode_t)field(buf, "\nUmask:", 8);
  /* "Uid:\treal\teffective\tsaved\tfs": the second. */
  {
    const char *u = strstr(buf, "\nUid:"), *g = strstr(buf, "\nGid:");
    char *end;

    ret->euid = (uid_t)-1;
    ret->egid = (gid_t)-1;
    if (u) {
      strtoul(u + 5, &end, 10);
      ret->euid = (uid_t)strtoul(end, NULL, 10);
    }
    if (g) {
      strtoul(g + 5, &end, 10);
      ret->egid = (gid_t)strtoul(end, NULL, 10);
    }
  }
  ret->sig_pending = field(buf, "\nSigPnd:", 16);
  ret->shared_pending = field(buf, "\nShdPnd:", 16);
  ret->blocked = field(buf, "\nSigBlk:", 16);
  ret->caught = field(buf, "\nSigCgt:", 16);
  return 0;
}

bool sv_fdtable_private(const struct sv_req *r) {
  struct stat st;
  char path[64];

  /* /proc/TID/task has as many links as the thread group has threads,
   * plus two: one stat() instead of generating /proc/TID/status. */
  snprintf(path, sizeof(path), "/proc/%d/task", (int)r->n.pid);
  return stat(path, &st) == 0 && st.st_nlink == 3;
}
