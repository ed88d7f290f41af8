/* SPDX-License-Identifier: MIT */
/*
 * seccomp_filter: the filter of psock-run's seccomp mode and the kernel
 * probe (see seccomp_filter.h). libseccomp builds the filter; it is loaded
 * with seccomp(2) directly, because libseccomp 2.5 cannot ask for
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.
 *
 * Every argument compared is an int to the kernel, so only the low 32
 * bits are compared (a program may leave anything in a register's upper
 * half: the kernel ignores it, and so must the filter).
 */
#include "seccomp_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sockopts.h"

#define LOW32 0xffffffffULL
/* Argument i, as the kernel reads an int, is v. */
#define ARG(i, v) SCMP_CMP((i), SCMP_CMP_MASKED_EQ, LOW32, (uint32_t)(v))

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* The families whose sockets psockd makes (as the preload routes them). */
static const int routed_families[] = {AF_INET, AF_INET6, AF_NETLINK, AF_PACKET,
                                      AF_TIPC};

/* One rule; a rule the filter already holds is fine. */
static int rule(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned n,
                const struct scmp_arg_cmp *cmp) {
  int r = seccomp_rule_add_exact_array(ctx, action, nr, n, cmp);

  return r == -EEXIST ? 0 : r;
}

#define RULE(ctx, action, name, ...)                                           \
  rule((ctx), (action), SCMP_SYS(name),                                        \
       sizeof((struct scmp_arg_cmp[]){__VA_ARGS__}) /                          \
           sizeof(struct scmp_arg_cmp),                                        \
       (struct scmp_arg_cmp[]){__VA_ARGS__})
#define RULE0(ctx, action, name) rule((ctx), (action), SCMP_SYS(name), 0, NULL)

/* What psockd decides goes to the supervisor. */
static int add_notified(scmp_filter_ctx ctx, const struct sf_config *cfg) {
  int r = 0;

  for (size_t i = 0; r == 0 && i < sizeof(routed_families) / sizeof(int); i++) {
    r = RULE(ctx, SCMP_ACT_NOTIFY, socket, ARG(0, routed_families[i]));
    if (r == 0)
      r = RULE(ctx, SCMP_ACT_NOTIFY, socketpair, ARG(0, routed_families[i]));
  }
  if (r == 0)
    r = RULE0(ctx, SCMP_ACT_NOTIFY, bind);
  if (r == 0)
    r = RULE0(ctx, SCMP_ACT_NOTIFY, connect);
  if (r == 0)
    r = RULE0(ctx, SCMP_ACT_NOTIFY, listen);
  /* The options that may need privilege: tried on the program's socket,
   * then asked of psockd, as the preload does. */
  for (size_t i = 0; r == 0 && i < sockopt_count(); i++) {
    const struct sockopt *o = sockopt_at(i);

    if (o->rule != SOCKOPT_FREE)
      r = RULE(ctx, SCMP_ACT_NOTIFY, setsockopt, ARG(1, o->level),
               ARG(2, o->optname));
  }
  /* Interface names and indexes, which the kernel answers for the
   * namespace of the socket they are asked on: libc asks on an AF_UNIX
   * socket of its own, in the program's namespace (sv_calls.h). */
  if (r == 0)
    r = RULE(ctx, SCMP_ACT_NOTIFY, ioctl, ARG(1, SIOCGIFINDEX));
  if (r == 0)
    r = RULE(ctx, SCMP_ACT_NOTIFY, ioctl, ARG(1, SIOCGIFNAME));
  /* Its owner is in memory: the supervisor reads it once. */
  if (r == 0)
    r = RULE(ctx, SCMP_ACT_NOTIFY, fcntl, ARG(1, F_SETOWN_EX));
  if (r == 0 && cfg->sendto) {
    r = RULE(ctx, SCMP_ACT_NOTIFY, sendto,
             SCMP_CMP(4, SCMP_CMP_NE, 0)); /* a destination pointer */
    if (r == 0)
      r = RULE0(ctx, SCMP_ACT_NOTIFY, sendmsg);
    if (r == 0)
      r = RULE0(ctx, SCMP_ACT_NOTIFY, sendmmsg);
  }
  return r;
}

/* What would go around the filter or the supervisor's checks. */
static int add_refused(scmp_filter_ctx ctx) {
  const uint32_t enosys = SCMP_ACT_ERRNO(ENOSYS), eperm = SCMP_ACT_ERRNO(EPERM);
  int r;

  /* A ring performs socket, connect, bind, listen, sendmsg without the
   * system calls; a ring made elsewhere and passed in is useless too. */
  r = RULE0(ctx, enosys, io_uring_setup);
  if (r == 0)
    r = RULE0(ctx, enosys, io_uring_enter);
  if (r == 0)
    r = RULE0(ctx, enosys, io_uring_register);
  /* The supervisor lets an AF_UNIX call through only when no other task
   * can change the caller's fd table meanwhile: one thread, and no clone
   * that shares the table without being a thread. clone3's flags are in
   * memory: ENOSYS, and libc falls back to clone. */
  if (r == 0)
    r = RULE0(ctx, enosys, clone3);
  if (r == 0)
    r = RULE(ctx, eperm, clone,
             SCMP_CMP(0, SCMP_CMP_MASKED_EQ, CLONE_FILES | CLONE_THREAD,
                      CLONE_FILES));
  return r;
}

/* Signals and process controls aimed at the supervisor (same uid, so the
 * kernel would allow them). */
static int add_hands_off(scmp_filter_ctx ctx, pid_t s) {
  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  int r;

  r = RULE(ctx, eperm, kill, ARG(0, s));
  if (r == 0)
    r = RULE(ctx, eperm, kill, ARG(0, -s)); /* its process group */
  if (r == 0)
    r = RULE(ctx, eperm, kill, ARG(0, -1)); /* everyone we may signal */
  if (r == 0)
    r = RULE(ctx, eperm, tkill, ARG(0, s));
  if (r == 0)
    r = RULE(ctx, eperm, tgkill, ARG(0, s));
  if (r == 0)
    r = RULE(ctx, eperm, rt_sigqueueinfo, ARG(0, s));
  if (r == 0)
    r = RULE(ctx, eperm, rt_tgsigqueueinfo, ARG(0, s));
  if (r == 0)
    r = RULE(ctx, eperm, pidfd_open, ARG(0, s));
  /* A /proc/PID directory is a pidfd too, and which process it names is
   * not in the arguments. */
  if (r == 0)
    r = RULE0(ctx, SCMP_ACT_ERRNO(ENOSYS), pidfd_send_signal);
  if (r == 0)
    r = RULE(ctx, eperm, fcntl, ARG(1, F_SETOWN), ARG(2, s));
  if (r == 0)
    r = RULE(ctx, eperm, fcntl, ARG(1, F_SETOWN), ARG(2, -s));
  if (r == 0)
    r = RULE(ctx, eperm, setpgid, ARG(1, s));
  if (r == 0)
    r = RULE(ctx, eperm, prlimit64, ARG(0, s));
  if (r == 0)
    r = RULE(ctx, eperm, setpriority, ARG(0, PRIO_PROCESS), ARG(1, s));
  if (r == 0)
    r = RULE(ctx, eperm, setpriority, ARG(0, PRIO_PGRP), ARG(1, s));
  if (r == 0)
    r = RULE(ctx, eperm, ioprio_set, ARG(1, s)); /* a process or group */
  if (r == 0)
    r = RULE(ctx, eperm, sched_setaffinity, ARG(0, s));
  if (r == 0)
    r = RULE(ctx, eperm, sched_setparam, ARG(0, s));
  if (r == 0)
    r = RULE(ctx, eperm, sched_setscheduler, ARG(0, s));
  if (r == 0)
    r = RULE(ctx, eperm, sched_setattr, ARG(0, s));
  return r;
}

/* The filter as BPF, in *ret (free it). 0 or -errno. */
static int build(const struct sf_config *cfg, struct sock_fprog *ret) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  struct sock_filter *prog = NULL;
  off_t size = 0;
  int fd = -1, r;

  if (!ctx)
    return -ENOMEM;
  r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (r == 0)
    r = add_notified(ctx, cfg);
  if (r == 0)
    r = add_refused(ctx);
  if (r == 0)
    r = add_hands_off(ctx, cfg->supervisor);
  if (r == 0) {
    fd = memfd_create("psock-filter", MFD_CLOEXEC);
    r = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
  }
  if (r == 0) {
    size = lseek(fd, 0, SEEK_END);
    prog = size > 0 ? malloc((size_t)size) : NULL;
    if (!prog || pread(fd, prog, (size_t)size, 0) != size)
      r = -ENOMEM;
  }
  if (fd >= 0)
    close(fd);
  seccomp_release(ctx);
  if (r < 0) {
    free(prog);
    return r;
  }
  ret->len = (unsigned short)((size_t)size / sizeof(*prog));
  ret->filter = prog;
  return 0;
}

int sf_install(const struct sf_config *cfg, bool *ret_killable) {
  struct sock_fprog prog;
  int fd, r;

  r = build(cfg, &prog);
  if (r < 0)
    return r;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    free(prog.filter);
    return -errno;
  }
  *ret_killable = true;
  fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                    SECCOMP_FILTER_FLAG_NEW_LISTENER |
                        SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                    &prog);
  if (fd < 0 && errno == EINVAL) {
    *ret_killable = false;
    fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                      SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  }
  r = fd < 0 ? -errno : fd;
  free(prog.filter);
  return r;
}

/* ------------------------------------------------------------ probe */

/* The probe's thread: notified at getppid(), whose answer is an fd. */
struct probe {
  int pipe[2]; /* the thread tells the listener's number (or -errno) */
  long answer;
};

static void *probe_thread(void *p) {
  struct probe *pr = p;
  struct sock_filter insns[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof(insns) / sizeof(insns[0]),
                            .filter = insns};
  int fd = -EINVAL;

  /* Both are this thread's own: the caller's other threads never see
   * them, and they end with the thread. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    fd = -errno;
  else
    fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                      SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (fd < 0)
    fd = -errno;
  if (write(pr->pipe[1], &fd, sizeof(fd)) != sizeof(fd) || fd < 0)
    return NULL;
  pr->answer = syscall(SYS_getppid);
  if (pr->answer >= 0)
    close((int)pr->answer);
  return NULL;
}

/* Answer the probe thread's notification with a new fd. */
static int probe_answer(int listener, char *why, size_t len) {
  struct seccomp_notif n;
  struct seccomp_notif_addfd add = {.flags = SECCOMP_ADDFD_FLAG_SEND};
  int src = eventfd(0, EFD_CLOEXEC), pidfd, got, r = 0;

  memset(&n, 0, sizeof(n));
  if (src < 0 || ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0) {
    r = -errno;
    snprintf(why, len, "cannot receive a seccomp notification: %s",
             strerror(errno));
  } else {
    add.id = n.id;
    add.srcfd = (unsigned)src;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0) {
      struct seccomp_notif_resp resp = {.id = n.id, .error = -ENOSYS};

      r = -errno;
      snprintf(why, len,
               "SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND "
               "(Linux 5.14): %s",
               strerror(errno));
      ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
  }
  if (src >= 0)
    close(src);
  if (r < 0)
    return r;
  pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  got = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, listener, 0);
  if (got < 0) {
    r = -errno;
    snprintf(why, len, "pidfd_getfd (Linux 5.6): %s", strerror(errno));
  }
  if (got >= 0)
    close(got);
  if (pidfd >= 0)
    close(pidfd);
  return r;
}

int sf_probe(char *why, size_t len) {
  struct probe pr = {.answer = -1};
  pthread_t t;
  int listener = -1, r;

  if (pipe2(pr.pipe, O_CLOEXEC) < 0)
    return -errno;
  r = pthread_create(&t, NULL, probe_thread, &pr);
  if (r != 0) {
    close(pr.pipe[0]);
    close(pr.pipe[1]);
    snprintf(why, len, "cannot start a thread: %s", strerror(r));
    return -r;
  }
  if (read(pr.pipe[0], &listener, sizeof(listener)) != sizeof(listener))
    listener = -EIO;
  if (listener < 0) {
    r = listener;
    snprintf(why, len,
             "seccomp user notification (SECCOMP_FILTER_FLAG_NEW_LISTENER, "
             "Linux 5.0): %s",
             strerror(-listener));
  } else {
    r = probe_answer(listener, why, len);
    /* Unanswered, the thread's getppid() now fails (ENOSYS): it ends. */
    close(listener);
  }
  pthread_join(t, NULL);
  close(pr.pipe[0]);
  close(pr.pipe[1]);
  return r;
}
