/* SPDX-License-Identifier: MIT */
/*
 * native: what the program's own kernel would answer, asked of it, for a
 * socket psockd's policy refused.
 *
 * psockd judges a socket by its policy before the kernel sees it (asking
 * the kernel could load a protocol module on the host for anyone), but
 * natively the kernel refuses the arguments first: a type it does not
 * know (EINVAL), a protocol the family lacks (EPROTONOSUPPORT,
 * ESOCKTNOSUPPORT, EPROTOTYPE), a family it lacks (EAFNOSUPPORT), a pair
 * of a family that has none (EOPNOTSUPP). A program told "permission
 * denied" for a call that could never work takes the wrong turn, so the
 * library asks the program's own kernel the same, with the program's own
 * rights, which is exactly what it would have done natively; the socket
 * it may make is closed at once. Not under a seccomp filter, whose answer
 * (or whose SIGSYS) that could be.
 */
#pragma once

#include <stdbool.h>

/* Whether a seccomp filter is in force (unknown counts as yes). */
bool pc_seccomp_filtered(void);

/* The kernel's errno (negative) for socket() or socketpair() with these
 * arguments if it is one of the argument errors above, else 0. */
int pc_native_refusal(bool pair, int family, int type, int proto);
