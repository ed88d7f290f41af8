/* SPDX-License-Identifier: MIT */
/*
 * sandbox: the privileges each psockd role keeps (see sandbox.c). Each
 * returns 0 or -errno; a role that cannot sandbox itself must exit.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "identity.h"

/*
 * The user psockd-priv and psockd-spawn run as: name if given (an account,
 * or a uid as digits), else "psockd"; never root or nobody, whom clients
 * can be. -ENOENT when name is NULL and there is no psockd account: the
 * master then claims a dynamic uid and passes it to the roles as digits.
 */
int sandbox_service_user(const char *name, uid_t *ret_uid, gid_t *ret_gid);

/* Where dynamic uids are locked: systemd's allocator's directory where
 * systemd runs, else psockd's own. */
const char *sandbox_dynamic_uid_dir(void);

/*
 * A uid (and gid of the same number) that no account has, from the range
 * systemd's DynamicUser= allocates (61184-65519), claimed with a lock file
 * in dir as systemd's allocator takes them, so that neither systemd nor
 * another psockd gives it out while *ret_lock_fd stays open. The same uid
 * on every start, as long as it stays free.
 */
int sandbox_claim_dynamic_uid(const char *dir, uid_t *ret_uid,
                              int *ret_lock_fd);

/* Give the claimed uid back: remove its lock file, close the fd. */
void sandbox_release_dynamic_uid(const char *dir, uid_t uid, int lock_fd);

/* The master under the systemd unit (not root): it holds the roles'
 * capabilities only to hand them on through exec (the ambient set), so
 * none of them stays effective. Started as root: nothing to do. */
int sandbox_master_hand_on_only(void);

/* psockd-priv: become uid/gid keeping only CAP_NET_RAW,
 * CAP_NET_BIND_SERVICE, CAP_NET_ADMIN and CAP_CHOWN; no_new_privs. */
int sandbox_enter_priv(uid_t uid, gid_t gid);

/* psockd-priv's system call allow-list (after its threads exist). */
int sandbox_filter_priv(void);

/* psockd-spawn: become uid/gid keeping only CAP_SETUID, CAP_SETGID and
 * CAP_KILL; no_new_privs; with seccomp, the deny-list every worker and
 * resolver inherits (no exec, no ptrace, no mounts, no modules, ...). */
int sandbox_enter_spawn(uid_t uid, gid_t gid, bool seccomp);

/* In psockd-spawn's child: become id's uid, gid and groups exactly, with
 * no capabilities, no_new_privs, not dumpable, killed with its parent. */
int sandbox_become_client(const struct identity *id);

/* A worker's allow-list, for every thread (after its threads exist). */
int sandbox_enter_worker(void);

/* A resolver's filter, for every thread: the deny-list, and no writing to
 * any file (NSS modules read; they never need to write). Refused calls
 * fail with EPERM rather than killing, so an NSS module degrades. */
int sandbox_enter_resolver(void);
