/* SPDX-License-Identifier: MIT */
/*
 * sandbox: what each psockd role gives up at start, before it reads
 * anything from another process.
 *
 *   psockd-priv   the service user; exactly CAP_NET_RAW,
 *                 CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_CHOWN;
 *                 no_new_privs; an allow-list (no open(): with CAP_CHOWN
 *                 it may only fchown() the sockets it makes).
 *   psockd-spawn  the service user; exactly CAP_SETUID, CAP_SETGID,
 *                 CAP_KILL; no_new_privs; a deny-list its children keep.
 *   worker        the client's uid, gid and groups; no capabilities;
 *                 no_new_privs; not dumpable; an allow-list.
 *   resolver      as the worker, but a deny-list (NSS modules) and no
 *                 writing to files.
 *
 * Uses libcap-ng and libseccomp rather than raw prctl/BPF.
 *
 * Two ways in. Started as root (by hand, in tests), psockd-priv and
 * psockd-spawn change to the service user and drop what they must not
 * keep, bounding set included. Started as the service user with their
 * capabilities in the ambient set (the systemd unit), each drops the ones
 * that are not its own.
 */
#include "sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

/* systemd's range for DynamicUser= (docs/UIDS-GIDS.md). */
#define DYNAMIC_UID_MIN 61184u
#define DYNAMIC_UID_MAX 65519u

/* ------------------------------------------------------------ the user */

/*
 * Take uid u the way systemd's DynamicUser= allocator does: an flock on
 * dir/<uid>, held as long as the returned fd stays open (see systemd's
 * src/core/dynamic-user.c, pick_uid()). 0 when taken, -EBUSY when someone
 * holds it, else -errno.
 */
static int lock_uid(const char *dir, uid_t u, int *ret_fd) {
  char path[PATH_MAX];
  struct stat st;
  int fd;

  snprintf(path, sizeof(path), "%s/%u", dir, (unsigned)u);
  for (;;) {
    fd = open(path, O_CREAT | O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
      return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
      int e = errno;
      close(fd);
      return e == EWOULDBLOCK ? -EBUSY : -e;
    }
    /* Unlinked between our open and our lock by its last holder: again. */
    if (fstat(fd, &st) == 0 && st.st_nlink > 0)
      break;
    close(fd);
  }
  if (ftruncate(fd, 0) < 0 || write(fd, "psockd\n", 7) != 7)
    log_warn("%s: cannot write the holder's name: %m", path);
  *ret_fd = fd;
  return 0;
}

const char *sandbox_dynamic_uid_dir(void) {
  /* Where systemd runs, its allocator's own directory, so that it will not
   * hand our uid to a service; elsewhere one of ours, so that two psockd
   * instances never share one. */
  return access("/run/systemd/system", F_OK) == 0 ? "/run/systemd/dynamic-uid"
                                                  : "/run/psockd-dynamic-uid";
}

int sandbox_claim_dynamic_uid(const char *dir, uid_t *ret_uid,
                              int *ret_lock_fd) {
  const unsigned span = DYNAMIC_UID_MAX - DYNAMIC_UID_MIN + 1;
  unsigned start = 0;

  if (mkdir(dir, 0755) < 0 && errno != EEXIST)
    return -errno;
  for (const char *p = "psockd"; *p; p++)
    start = start * 31 + (unsigned char)*p;
  for (unsigned i = 0; i < span; i++) {
    uid_t u = DYNAMIC_UID_MIN + (start + i) % span;
    int fd = -1, r;

    if (getpwuid(u) || getgrgid((gid_t)u))
      continue;
    r = lock_uid(dir, u, &fd);
    if (r == -EBUSY)
      continue;
    if (r < 0)
      return r;
    /* Taken by an account added since the check above: give it back. */
    if (getpwuid(u) || getgrgid((gid_t)u)) {
      sandbox_release_dynamic_uid(dir, u, fd);
      continue;
    }
    *ret_uid = u;
    *ret_lock_fd = fd;
    return 0;
  }
  return -ESRCH;
}

void sandbox_release_dynamic_uid(const char *dir, uid_t u, int lock_fd) {
  char path[PATH_MAX];

  if (lock_fd < 0)
    return;
  /* Unlink while still holding the lock, as systemd does. */
  snprintf(path, sizeof(path), "%s/%u", dir, (unsigned)u);
  unlink(path);
  close(lock_fd);
}

/* A numeric --user: the uid the master claimed for the roles. */
static int numeric_user(const char *name, uid_t *ret_uid, gid_t *ret_gid) {
  char *end;
  unsigned long v;
  struct passwd *pw;

  errno = 0;
  v = strtoul(name, &end, 10);
  if (errno || end == name || *end || v > UINT32_MAX - 1)
    return -ESRCH;
  pw = getpwuid((uid_t)v);
  *ret_uid = (uid_t)v;
  *ret_gid = pw ? pw->pw_gid : (gid_t)v;
  return 0;
}

int sandbox_service_user(const char *name, uid_t *ret_uid, gid_t *ret_gid) {
  struct passwd *pw = getpwnam(name ? name : "psockd");
  int r;

  if (!pw && !name)
    return -ENOENT; /* no psockd: the caller claims a dynamic uid */
  if (pw) {
    *ret_uid = pw->pw_uid;
    *ret_gid = pw->pw_gid;
  } else if ((r = numeric_user(name, ret_uid, ret_gid)) < 0) {
    return r; /* an explicit --user must exist */
  }
  /* A client can be root or nobody: the roles must never share a uid
   * with a client, or that client could signal them. */
  if (*ret_uid == 0 || *ret_uid == 65534) {
    log_err("user %s (uid %u) cannot run psockd's roles: clients can "
            "have that uid",
            name ? name : "psockd", (unsigned)*ret_uid);
    return -EINVAL;
  }
  return 0;
}

/* ------------------------------------------------------- capabilities */

static int keep_only(const int *caps, size_t n) {
  capng_clear(CAPNG_SELECT_ALL);
  for (size_t i = 0; i < n; i++)
    if (capng_update(CAPNG_ADD,
                     CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
                     (unsigned)caps[i]) < 0)
      return -EINVAL;
  return 0;
}

static uint64_t cap_mask(const int *caps, size_t n) {
  uint64_t m = 0;
  for (size_t i = 0; i < n; i++)
    m |= 1ULL << caps[i];
  return m;
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

/* Become uid/gid with exactly caps (effective = permitted = bounding when
 * started as root); no ambient set, no_new_privs, not dumpable. */
static int enter_role(uid_t uid, gid_t gid, const int *caps, size_t n) {
  bool root = getuid() == 0;

  /* Nothing to hand on: these roles never execute anything. */
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (root) {
    /* capng_apply(BOUNDS) needs the process's own state loaded first. */
    capng_get_caps_process();
    if (keep_only(caps, n) < 0 || capng_apply(CAPNG_SELECT_BOUNDS) < 0)
      return -EPERM;
    if (keep_only(caps, n) < 0 ||
        capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP) < 0 ||
        capng_apply(CAPNG_SELECT_BOTH) < 0)
      return -EPERM;
  } else if (!caps_are(cap_mask(caps, n))) {
    /* Under the unit: drop the capabilities that are another role's. */
    if (keep_only(caps, n) < 0 || capng_apply(CAPNG_SELECT_CAPS) < 0)
      return -EPERM;
  }
  if (!caps_are(cap_mask(caps, n)))
    return -EPERM;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
      prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    return -errno;
  return 0;
}

int sandbox_master_hand_on_only(void) {
  struct __user_cap_header_struct hdr = {.version =
                                             _LINUX_CAPABILITY_VERSION_3};
  struct __user_cap_data_struct d[2];

  /* Root started by hand: the roles drop to their own when they start. */
  if (getuid() == 0)
    return 0;
  if (syscall(SYS_capget, &hdr, d) < 0)
    return -errno;
  d[0].effective = d[1].effective = 0;
  return syscall(SYS_capset, &hdr, d) < 0 ? -errno : 0;
}

int sandbox_enter_priv(uid_t uid, gid_t gid) {
  static const int caps[] = {CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_NET_ADMIN,
                             CAP_CHOWN};
  return enter_role(uid, gid, caps, 4);
}

int sandbox_become_client(const struct identity *id) {
  /* setgroups() before the uid change, which takes CAP_SETGID away. */
  if (setgroups(id->n_groups, (const gid_t *)id->groups) < 0 ||
      setresgid(id->gid, id->gid, id->gid) < 0 ||
      setresuid(id->uid, id->uid, id->uid) < 0)
    return -errno;
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  capng_clear(CAPNG_SELECT_BOTH);
  if (capng_apply(CAPNG_SELECT_CAPS) < 0 || !caps_are(0))
    return -EPERM;
  /* The uid change made the process not dumpable (fs.suid_dumpable 0);
   * say so again whatever the sysctl: its user must not ptrace it. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
      prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
      prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
    return -errno;
  return 0;
}

/* ------------------------------------------------------------ seccomp */

static int load(scmp_filter_ctx ctx, int r) {
  /* Every thread gets the same filter. */
  if (r == 0)
    r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  /* A binary tree of the system call numbers, not a chain: a worker runs
   * every call through psockd-spawn's deny-list and its own allow-list,
   * and a chain walks all of a list for each call it lets through. */
  if (r == 0)
    r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (r == 0)
    r = seccomp_load(ctx);
  seccomp_release(ctx);
  return r < 0 ? r : 0;
}

static int allow_list(const int *calls, size_t n, const int *extra,
                      size_t n_extra) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  int r = 0;

  if (!ctx)
    return -ENOMEM;
  for (size_t i = 0; i < n && r == 0; i++)
    r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
  for (size_t i = 0; i < n_extra && r == 0; i++)
    r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, extra[i], 0);
  return load(ctx, r);
}

/* What the sanitizer runtimes need (test builds only). */
static const int sanitizer_calls[] = {
#if defined(__SANITIZE_ADDRESS__)
    SCMP_SYS(open),
    SCMP_SYS(openat),
    SCMP_SYS(lstat),
    SCMP_SYS(readlink),
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
    SCMP_SYS(getdents),
    SCMP_SYS(getdents64),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(stat),
    SCMP_SYS(statx),
#endif
    SCMP_SYS(exit_group),
};
#define N_SANITIZER (sizeof(sanitizer_calls) / sizeof(int))

/* Common to every filtered role: memory, time, the loop, logging. */
#define BASE_CALLS                                                             \
  SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect),         \
      SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(futex),                    \
      SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), \
      SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),        \
      SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(close),      \
      SCMP_SYS(fcntl), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek), \
      SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getrandom), SCMP_SYS(exit), \
      SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),  \
      SCMP_SYS(restart_syscall), SCMP_SYS(sched_yield), SCMP_SYS(recvmsg),     \
      SCMP_SYS(sendmsg), SCMP_SYS(sendto), SCMP_SYS(socket),                   \
      SCMP_SYS(connect), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),           \
      SCMP_SYS(uname)

int sandbox_filter_priv(void) {
  static const int calls[] = {BASE_CALLS, SCMP_SYS(bind), SCMP_SYS(fchown)};
  return allow_list(calls, sizeof(calls) / sizeof(int), sanitizer_calls,
                    N_SANITIZER);
}

int sandbox_enter_worker(void) {
  static const int calls[] = {
      BASE_CALLS,
      SCMP_SYS(accept4),
      SCMP_SYS(bind),
      SCMP_SYS(dup),
      SCMP_SYS(dup3),
      SCMP_SYS(eventfd2),
      SCMP_SYS(getpeername),
      SCMP_SYS(getsockname),
      SCMP_SYS(ioctl),
      SCMP_SYS(listen),
      SCMP_SYS(poll),
      SCMP_SYS(ppoll),
      SCMP_SYS(readv),
      SCMP_SYS(recvfrom),
      SCMP_SYS(recvmmsg),
      SCMP_SYS(sendmmsg),
      SCMP_SYS(shutdown),
      SCMP_SYS(signalfd4),
      SCMP_SYS(socketpair),
      SCMP_SYS(timerfd_create),
      SCMP_SYS(timerfd_settime),
      SCMP_SYS(getuid),
      SCMP_SYS(geteuid),
      SCMP_SYS(getgid),
      SCMP_SYS(getegid),
      SCMP_SYS(sysinfo),
  };
  return allow_list(calls, sizeof(calls) / sizeof(int), sanitizer_calls,
                    N_SANITIZER);
}

/* Never needed by psockd-spawn, a worker or a resolver; refused (EPERM). */
static const int denied_calls[] = {
    SCMP_SYS(execve),
    SCMP_SYS(execveat),
    SCMP_SYS(mount),
    SCMP_SYS(umount2),
    SCMP_SYS(pivot_root),
    SCMP_SYS(chroot),
    SCMP_SYS(swapon),
    SCMP_SYS(swapoff),
    SCMP_SYS(reboot),
    SCMP_SYS(kexec_load),
    SCMP_SYS(kexec_file_load),
    SCMP_SYS(init_module),
    SCMP_SYS(finit_module),
    SCMP_SYS(delete_module),
    SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(userfaultfd),
    SCMP_SYS(keyctl),
    SCMP_SYS(add_key),
    SCMP_SYS(request_key),
    SCMP_SYS(unshare),
    SCMP_SYS(setns),
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(name_to_handle_at),
    SCMP_SYS(io_uring_setup),
    SCMP_SYS(io_uring_enter),
    SCMP_SYS(io_uring_register),
    SCMP_SYS(acct),
    SCMP_SYS(quotactl),
    SCMP_SYS(syslog),
    SCMP_SYS(mknod),
    SCMP_SYS(mknodat),
    SCMP_SYS(fanotify_init),
    SCMP_SYS(vhangup),
    SCMP_SYS(settimeofday),
    SCMP_SYS(clock_settime),
    SCMP_SYS(adjtimex),
    SCMP_SYS(clock_adjtime),
    SCMP_SYS(sethostname),
    SCMP_SYS(setdomainname),
#if !defined(__SANITIZE_ADDRESS__)
    /* LeakSanitizer stops the world with ptrace (test builds). */
    SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
#endif
};

/* Calls that change files, for the resolver. */
static const int write_calls[] = {
    SCMP_SYS(unlink),    SCMP_SYS(unlinkat),  SCMP_SYS(rename),
    SCMP_SYS(renameat),  SCMP_SYS(renameat2), SCMP_SYS(mkdir),
    SCMP_SYS(mkdirat),   SCMP_SYS(rmdir),     SCMP_SYS(chmod),
    SCMP_SYS(fchmod),    SCMP_SYS(fchmodat),  SCMP_SYS(chown),
    SCMP_SYS(fchown),    SCMP_SYS(lchown),    SCMP_SYS(fchownat),
    SCMP_SYS(link),      SCMP_SYS(linkat),    SCMP_SYS(symlink),
    SCMP_SYS(symlinkat), SCMP_SYS(truncate),  SCMP_SYS(creat),
    SCMP_SYS(utimensat), SCMP_SYS(setxattr),  SCMP_SYS(lsetxattr),
    SCMP_SYS(fsetxattr), SCMP_SYS(openat2),
};

static int deny(scmp_filter_ctx ctx, const int *calls, size_t n) {
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++)
    r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), calls[i], 0);
  return r;
}

/* open()/openat() for writing or creating: EPERM. */
static int deny_open_for_writing(scmp_filter_ctx ctx) {
  static const unsigned long flags[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC,
                                        O_APPEND};
  int r = 0;

  for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]) && r == 0; i++) {
    r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(openat), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, flags[i], flags[i]));
    if (r == 0)
      r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(open), 1,
                           SCMP_A1(SCMP_CMP_MASKED_EQ, flags[i], flags[i]));
  }
  return r;
}

static int deny_list(bool no_writes) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  int r;

  if (!ctx)
    return -ENOMEM;
  r = deny(ctx, denied_calls, sizeof(denied_calls) / sizeof(int));
  if (r == 0 && no_writes)
    r = deny(ctx, write_calls, sizeof(write_calls) / sizeof(int));
  if (r == 0 && no_writes)
    r = deny_open_for_writing(ctx);
  return load(ctx, r);
}

int sandbox_enter_spawn(uid_t uid, gid_t gid, bool seccomp) {
  static const int caps[] = {CAP_SETUID, CAP_SETGID, CAP_KILL};
  int r = enter_role(uid, gid, caps, 3);

  if (r == 0 && seccomp)
    r = deny_list(false);
  return r;
}

int sandbox_enter_resolver(void) {
  return deny_list(true);
}
