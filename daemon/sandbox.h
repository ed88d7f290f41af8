/* SPDX-License-Identifier: MIT */
/*
 * sandbox: the privileges each psockd role keeps (see sandbox.c).
 * Each returns 0 or -errno; a role that cannot sandbox itself must exit.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/*
 * The user the roles run as: name if given (it must exist), else "psockd"
 * if it exists, else "nobody".
 */
int sandbox_resolve_user(const char *name, uid_t *ret_uid, gid_t *ret_gid);

/* Become uid/gid keeping only CAP_NET_RAW, CAP_NET_BIND_SERVICE,
 * CAP_NET_ADMIN; set no_new_privs. */
int sandbox_enter_priv(uid_t uid, gid_t gid);

/* Become uid/gid with no capabilities, no_new_privs and, if seccomp, the
 * worker's system call allow-list (applied to every thread). */
int sandbox_enter_worker(uid_t uid, gid_t gid, bool seccomp);
