/* SPDX-License-Identifier: MIT */
/*
 * seccomp_filter: the system call filter of psock-run's seccomp mode, and
 * the probe that tells whether this kernel can run it.
 *
 * The filter is installed in the program's process just before it execs
 * the program (and so holds in every thread, child and exec after it).
 * It sends to the supervisor (SECCOMP_RET_USER_NOTIF) the calls psockd
 * decides: socket and socketpair of the families psockd serves (inet,
 * inet6, netlink, packet, tipc; AF_UNIX and the others stay the kernel's),
 * bind, connect, listen, the setsockopt options the shared option table
 * (proto/sockopts.h) says may need privilege, ioctl(SIOCGIFINDEX) and
 * ioctl(SIOCGIFNAME), fcntl(F_SETOWN_EX), and, when
 * the policy could refuse a destination, sendto with one, sendmsg and
 * sendmmsg. It refuses what would go around it or reach the supervisor:
 * io_uring (ENOSYS), clone3 (ENOSYS: its flags are in memory), a clone
 * that shares the fd table without being a thread (EPERM), signals and
 * process controls aimed at the supervisor's pid or process group, kill(-1)
 * (EPERM) and pidfd_send_signal (ENOSYS: its target cannot be seen). A
 * system call of another architecture (int 0x80, x32) kills the process.
 * Everything else runs in the kernel untouched.
 *
 * Trust boundary: the filter is the boundary; what it sends on, the
 * supervisor performs with its own copy of the arguments.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sf_config {
  pid_t supervisor; /* its pid, which is also its process group */
  bool sendto;      /* stop sends with a destination */
};

/*
 * Set no_new_privs and load the filter in the calling thread (the
 * program's process, single-threaded, before execve). Returns the
 * listener fd (close-on-exec), or -errno. *ret_killable is set when the
 * kernel waits only killably for an answer once the supervisor has read
 * the notification (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, 5.19).
 */
int sf_install(const struct sf_config *cfg, bool *ret_killable);

/*
 * Can this kernel run the seccomp mode: user notification, a listener,
 * SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND (5.14),
 * pidfd_getfd() (5.6)? Tries them for real on a short-lived thread of the
 * caller, which is left as it was. 0, or -errno with a reason in why.
 */
int sf_probe(char *why, size_t len);
