/* SPDX-License-Identifier: MIT */
/*
 * kcheck: the checks the kernel makes on a bind() or connect() address
 * before it acts, in its order, for a socket psockd will act on. Shared by
 * the preload shim (preload.c) and psock-run's seccomp supervisor
 * (sv_calls.c), which both ask psockd only what the kernel would have
 * passed on, so that a program sees the kernel's errno either way.
 *
 * Trust boundary: none of its own; pure functions on a copy of the
 * program's address.
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

/* The type bits socket(2) accepts besides the type itself. */
#define KCHECK_TYPE_BITS 0xf

enum kcheck_call { KCHECK_BIND, KCHECK_CONNECT };

/*
 * The checks the kernel makes on the address ss (*len bytes of it, the
 * rest zero) for a socket of this family and type (type only for
 * connect), in its order; what passes goes to psockd, whose kernel call
 * makes the rest. May rewrite ss (an AF_UNSPEC any address binds as
 * AF_INET) and *len (a short sockaddr_in6). 0, or -errno.
 */
int kcheck_addr(enum kcheck_call call, int family, int type,
                struct sockaddr_storage *ss, socklen_t *len);

/* An AF_UNIX abstract name (a leading NUL): the one kind of AF_UNIX
 * address psockd may be asked to bind or connect. A path is the caller's
 * own file and an autobind (no name at all) the kernel's choice in the
 * program's namespace: both stay local. */
bool kcheck_unix_abstract(const struct sockaddr_storage *ss, socklen_t len);
