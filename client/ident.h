/* SPDX-License-Identifier: MIT */
/*
 * ident: who the calling process and thread are, as psockd judges them:
 * the pid (without a system call per request) and the effective uid, gid
 * and supplementary groups (read once where they can no longer change).
 * Used by the connection to psockd (conn.c), which opens, sends on and
 * reuses a connection only under the identity it was opened with, and by
 * the socket cache (fast.c), which must notice a fork. Calls no other
 * module.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* The sender's ids for this request: SCM_CREDENTIALS and pool matching. */
struct pc_ident {
  uid_t euid;
  gid_t egid;
  bool frozen; /* read from the frozen cache, no system call made */
  /* frozen, and the real ids are these: the credentials the kernel puts
   * on a message we send without SCM_CREDENTIALS are exactly ours. */
  bool kernel_creds;
};

/*
 * getpid() without a system call per call: the pid is kept in a page the
 * kernel wipes in the child of every kind of fork (MADV_WIPEONFORK), also
 * of those that run no pthread_atfork() handler (_Fork(), a raw clone()),
 * so that a child never takes its parent's pid from it. Linux 4.14+;
 * getpid() before.
 */
pid_t pc_self_pid(void);

/* The calling thread's effective ids, from the frozen cache if it may. */
void pc_ident_now(struct pc_ident *id);

/* Check again whether the calling thread's identity can still change (a
 * new identity may be one that cannot), caching it if it cannot. */
void pc_ident_recheck(void);

/* The kernel refused the cached ids (another thread changed them, or a
 * new user namespace renumbered them): read them anew next time. */
void pc_ident_forget(void);

/*
 * The calling thread declares that its ids will not change: they are read
 * now and not again for each request (pc_conn_identity_fixed()). 0 or
 * -errno.
 */
int pc_ident_fix(void);

/* The supplementary groups now, in *ret (malloc'd, NULL if none) and their
 * number in *ret_n. 0 or -errno. */
int pc_ident_groups(const struct pc_ident *id, gid_t **ret, int *ret_n);

/* Are the caller's supplementary groups exactly groups[0..n)? One
 * getgroups() call (none for a frozen identity). */
bool pc_ident_same_groups(const struct pc_ident *id, const gid_t *groups,
                          int n);
