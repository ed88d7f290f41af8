/* SPDX-License-Identifier: MIT */
/*
 * sv_common: what the seccomp supervisor's handlers (sv_calls.c,
 * sv_send.c, sv_local.c) share: the supervisor's own facts, errno from
 * libpsock-client's errors, the families psockd serves, policy hints.
 *
 * Trust boundary: none of its own.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "psock/psock.h"

struct sv_ctx {
  pid_t self;          /* the supervisor, out of the program's reach */
  bool check_identity; /* the program may change its ids: check each call */
  uid_t euid;          /* the supervisor's, which psockd judges */
  gid_t egid;
  bool hint; /* --policy-hint */
};

/* Set the supervisor's facts (once, before the first call). */
void sv_ctx_init(const struct sv_ctx *ctx);
const struct sv_ctx *sv_ctx(void);

/*
 * errno for the thread's last libpsock-client error as the kernel would
 * report the call (the preload's mapping: OS errors and refusals as they
 * are, a timeout as ETIMEDOUT, EACCES when psockd could not be asked).
 */
int sv_errno(void);

/* The family or type of socket fd, or -errno (-ENOTSOCK). */
int sv_sock_family(int fd);
int sv_sock_type(int fd);

/* Is family one whose sockets psockd makes (inet, inet6, netlink,
 * packet, tipc)? Whose addresses it binds and connects (those but
 * packet)? */
bool sv_routed(int family);
bool sv_addressed(int family);

/* A psock_sock on the stack for a socket the supervisor holds a copy of:
 * psockd never waits, the supervisor does (sv_wait.h). */
void sv_stack_sock(psock_sock *s, int fd, int family);

/* With --policy-hint: the rule that allows a call, once per text, as the
 * preload's shim_hint() prints it. failed: the call failed (the last
 * libpsock-client error says why; nothing is printed if psockd did not
 * decide). */
void sv_hint(bool failed, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The words of a hint: hint_socket_words(), hint_address_words()
 * (hint.h). */
