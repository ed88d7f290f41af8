/* SPDX-License-Identifier: MIT */
/*
 * sandbox: what each psockd role gives up at start, before it reads
 * anything from another process.
 *
 *   psockd-priv   runs as the service user, keeps exactly CAP_NET_RAW,
 *                 CAP_NET_BIND_SERVICE and CAP_NET_ADMIN (effective,
 *                 permitted and bounding set), no_new_privs.
 *   worker        runs as the service user with no capabilities at all,
 *                 no_new_privs, and a seccomp allow-list: a worker that
 *                 makes any other system call is killed (SIGSYS) and the
 *                 master starts a new one.
 *
 * Uses libcap-ng and libseccomp rather than raw prctl/BPF.
 *
 * Two ways in. Started as root (by hand, in tests), each role changes to
 * the service user and drops what it must not keep, bounding set
 * included. Started as the service user with the network capabilities in
 * its ambient set (the systemd unit: User=psockd, AmbientCapabilities=),
 * the master clears the ambient set for workers before exec, so a role
 * usually holds exactly what it should already; it then makes no capset()
 * call at all, which lets the unit's system call filter refuse capset()
 * and the rest of @privileged.
 */
#include "sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

int sandbox_resolve_user(const char *name, uid_t *ret_uid, gid_t *ret_gid) {
  const char *candidates[] = {name, "psockd", "nobody"};
  struct passwd pw, *res = NULL;
  char buf[4096];

  for (size_t i = name ? 0 : 1; i < 3; i++) {
    if (getpwnam_r(candidates[i], &pw, buf, sizeof(buf), &res) == 0 && res) {
      if (i == 2)
        log_warn("no 'psockd' user: workers run as nobody (create the "
                 "system user psockd to keep clients that run as nobody "
                 "from signalling psockd's workers)");
      *ret_uid = res->pw_uid;
      *ret_gid = res->pw_gid;
      return 0;
    }
    if (name && i == 0)
      return -ESRCH; /* an explicit --user must exist */
  }
  return -ESRCH;
}

static int change_id(uid_t uid, gid_t gid) {
  /* Supplementary groups go too: root's would survive setuid otherwise. */
  if (capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP) < 0)
    return -EPERM;
  return 0;
}

static int keep_only(const int *caps, size_t n) {
  capng_clear(CAPNG_SELECT_ALL);
  for (size_t i = 0; i < n; i++)
    if (capng_update(CAPNG_ADD,
                     CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
                     (unsigned)caps[i]) < 0)
      return -EINVAL;
  return 0;
}

/* True if the effective and permitted sets are both exactly want. */
static bool caps_are(uint64_t want) {
  struct __user_cap_header_struct hdr = {0};
  struct __user_cap_data_struct d[2];

  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  if (syscall(SYS_capget, &hdr, d) < 0)
    return false;
  return (d[0].effective | (uint64_t)d[1].effective << 32) == want &&
         (d[0].permitted | (uint64_t)d[1].permitted << 32) == want;
}

int sandbox_enter_priv(uid_t uid, gid_t gid) {
  static const int caps[] = {CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_NET_ADMIN};
  const uint64_t want = 1ULL << CAP_NET_RAW | 1ULL << CAP_NET_BIND_SERVICE |
                        1ULL << CAP_NET_ADMIN;
  bool root = getuid() == 0;

  /* Nothing to hand on: psockd-priv never executes anything. */
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (!root && caps_are(want))
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
  if (root) {
    /* capng_apply(BOUNDS) needs the process's own state loaded first. */
    capng_get_caps_process();
    if (keep_only(caps, 3) < 0 || capng_apply(CAPNG_SELECT_BOUNDS) < 0)
      return -EPERM;
  }
  if (keep_only(caps, 3) < 0)
    return -EINVAL;
  if (root && uid != 0 && change_id(uid, gid) < 0)
    return -EPERM;
  if (capng_apply(CAPNG_SELECT_BOTH) < 0)
    return -EPERM;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return -errno;
  return 0;
}

/* System calls a worker makes: event loop, sockets, NSS, malloc, threads. */
static const int worker_syscalls[] = {
    SCMP_SYS(accept4),
    SCMP_SYS(bind),
    SCMP_SYS(brk),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(close),
    SCMP_SYS(connect),
    SCMP_SYS(dup),
    SCMP_SYS(dup3),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(eventfd2),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(fcntl),
    SCMP_SYS(fstat),
    SCMP_SYS(futex),
    SCMP_SYS(getpeername),
    SCMP_SYS(getpid),
    SCMP_SYS(getrandom),
    SCMP_SYS(getsockname),
    SCMP_SYS(getsockopt),
    SCMP_SYS(gettid),
    SCMP_SYS(getuid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getgid),
    SCMP_SYS(getegid),
    SCMP_SYS(ioctl),
    SCMP_SYS(listen),
    SCMP_SYS(lseek),
    SCMP_SYS(madvise),
    SCMP_SYS(memfd_create),
    SCMP_SYS(mmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(mremap),
    SCMP_SYS(munmap),
    SCMP_SYS(nanosleep),
    SCMP_SYS(newfstatat),
    SCMP_SYS(openat),
    SCMP_SYS(pidfd_open),
    SCMP_SYS(pidfd_send_signal),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(pread64),
    SCMP_SYS(read),
    SCMP_SYS(readv),
    SCMP_SYS(recvfrom),
    SCMP_SYS(recvmmsg),
    SCMP_SYS(recvmsg),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sched_yield),
    SCMP_SYS(sendmmsg),
    SCMP_SYS(sendmsg),
    SCMP_SYS(sendto),
    SCMP_SYS(setsockopt),
    SCMP_SYS(shutdown),
    SCMP_SYS(signalfd4),
    SCMP_SYS(socket),
    SCMP_SYS(socketpair),
    SCMP_SYS(stat),
    SCMP_SYS(statx),
    SCMP_SYS(uname),
    SCMP_SYS(write),
    SCMP_SYS(writev),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(getdents64),
    SCMP_SYS(readlink),
    SCMP_SYS(sysinfo),
    SCMP_SYS(prctl),
#if defined(__SANITIZE_ADDRESS__)
    /* The sanitizer runtime's own needs (test builds only). */
    SCMP_SYS(open),
    SCMP_SYS(lstat),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(getrlimit),
    SCMP_SYS(prlimit64),
    SCMP_SYS(clone),
    SCMP_SYS(clone3),
    SCMP_SYS(wait4),
    SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(getppid),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(tgkill),
    SCMP_SYS(kill),
    SCMP_SYS(pipe2),
    SCMP_SYS(execve),
    SCMP_SYS(setpgid),
    /* LeakSanitizer lists /proc/self/task with open() and getdents(). */
    SCMP_SYS(getdents),
#endif
};

static int load_worker_filter(void) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  int r = 0;

  if (!ctx)
    return -ENOMEM;
  for (size_t i = 0; i < sizeof(worker_syscalls) / sizeof(int) && r == 0; i++)
    r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, worker_syscalls[i], 0);
  /* All threads (the lookup pool) get the same filter. */
  if (r == 0)
    r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (r == 0)
    r = seccomp_load(ctx);
  seccomp_release(ctx);
  return r;
}

int sandbox_enter_worker(uid_t uid, gid_t gid, bool seccomp) {
  bool root = getuid() == 0;
  int r;

  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  capng_clear(CAPNG_SELECT_ALL);
  if (root && capng_apply(CAPNG_SELECT_BOUNDS) < 0)
    return -EPERM;
  if (root && uid != 0 && change_id(uid, gid) < 0)
    return -EPERM;
  if ((root || !caps_are(0)) && capng_apply(CAPNG_SELECT_BOTH) < 0)
    return -EPERM;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return -errno;
  if (!seccomp)
    return 0;
  r = load_worker_filter();
  return r < 0 ? r : 0;
}
