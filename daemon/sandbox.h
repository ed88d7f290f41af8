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
 * The user psockd-priv and psockd-spawn run as: name if given (it must
 * exist and be neither root nor nobody), else "psockd" if it exists, else
 * a uid that no account has (picked as systemd's DynamicUser= does, from
 * 61184-65519): never a uid a client can have. *ret_dynamic says which.
 */
int sandbox_service_user(const char *name, uid_t *ret_uid, gid_t *ret_gid,
                         bool *ret_dynamic);

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
