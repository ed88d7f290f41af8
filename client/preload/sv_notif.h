/* SPDX-License-Identifier: MIT */
/*
 * sv_notif: one stopped system call of the program, as psock-run's seccomp
 * supervisor sees it (a seccomp user notification), and what may be done
 * with it: read and write the caller's memory once (process_vm_readv and
 * _writev), take one of its fds (pidfd_getfd), check that the call is
 * still waiting (SECCOMP_IOCTL_NOTIF_ID_VALID), and answer it: with a
 * value or an errno, with a new fd installed in the caller
 * (SECCOMP_IOCTL_NOTIF_ADDFD, atomically with the answer), or by letting
 * the kernel run it (SECCOMP_USER_NOTIF_FLAG_CONTINUE, which sv_calls.c
 * uses only where nothing it checked can change before the kernel runs
 * the call).
 *
 * Trust boundary: everything here comes from the program. A notification
 * names a thread by number; the thread is alive and the number still its
 * own exactly while the notification is valid, so every fact read through
 * the number (memory, /proc, the pidfd opened from it) counts only once
 * sv_valid() has said yes after it was read.
 */
#pragma once

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a handler returns for "nothing to send": the call is answered
 * already, waits (sv_wait.h), or is gone. Never an errno. */
#define SV_NO_ANSWER (-100000L)

struct sv_req {
  struct seccomp_notif n; /* id, the thread (n.pid), the call (n.data) */
  int listener;
  int pidfd; /* the calling thread's, opened on first need; -1 */
};

/*
 * Receive the next notification from listener into *r. 0, or -errno:
 * -ENOENT when the call was gone before it could be read (a signal, the
 * thread's death), which is no error.
 */
int sv_recv(int listener, struct sv_req *r);

/* Release what r holds (its pidfd). */
void sv_req_done(struct sv_req *r);

/* Argument i as the kernel reads an int (the register's low half). */
static inline int sv_int(const struct sv_req *r, int i) {
  return (int)(uint32_t)r->n.data.args[i];
}

static inline uint64_t sv_arg(const struct sv_req *r, int i) {
  return r->n.data.args[i];
}

/*
 * Copy len bytes at the caller's address addr into buf, as the kernel's
 * copy_from_user() would: 0, -EFAULT for memory it cannot read (addr 0
 * with len > 0 included), -ESRCH when the caller is gone, -EPERM when the
 * caller cannot be read (it made itself not dumpable and the supervisor
 * holds no CAP_SYS_PTRACE over it). len 0 reads nothing.
 */
int sv_read(const struct sv_req *r, uint64_t addr, void *buf, size_t len);

/* Write len bytes of buf at the caller's addr (copy_to_user()). As
 * sv_read(). */
int sv_write(const struct sv_req *r, uint64_t addr, const void *buf,
             size_t len);

/* Is the call still waiting for its answer? */
bool sv_valid(const struct sv_req *r);

/*
 * A copy (close-on-exec) of the caller's fd number fd, referring to the
 * same open file: >= 0, or -EBADF (no such fd), -ESRCH, -EPERM, -EMFILE.
 */
int sv_fd(struct sv_req *r, int fd);

/* Answer: val >= 0 is the call's return value, val < 0 is -errno. 0, or
 * -ENOENT when the call is gone (interrupted, its thread killed). */
int sv_reply(const struct sv_req *r, long val);

/* Let the kernel run the call as it is. 0 or -ENOENT. */
int sv_reply_continue(const struct sv_req *r);

/*
 * Install fd in the caller at its lowest free number, close-on-exec if
 * cloexec, and make that number the call's return value, in one step
 * (SECCOMP_ADDFD_FLAG_SEND). Returns the number, or -errno (-EMFILE when
 * the caller has no free fd; the call is then still unanswered).
 */
int sv_reply_fd(const struct sv_req *r, int fd, bool cloexec);

/* Install fd in the caller without answering (socketpair's two). The
 * number, or -errno. */
int sv_addfd(const struct sv_req *r, int fd, bool cloexec);

/* What /proc/TID/status says of a thread (and its process). */
struct sv_task {
  pid_t tgid;
  unsigned threads;
  mode_t umask;
  uid_t euid;
  gid_t egid;
  uint64_t sig_pending, shared_pending, blocked, caught;
};

/* Read it for thread tid. 0 or -errno. */
int sv_task(pid_t tid, struct sv_task *ret);

/*
 * Can no task but the caller change the caller's fd table until it
 * returns? True when its process has one thread (the filter refuses a
 * clone that shares the table otherwise). Counts only once sv_valid()
 * said yes after it.
 */
bool sv_fdtable_private(const struct sv_req *r);
