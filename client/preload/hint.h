/* SPDX-License-Identifier: MIT */
/*
 * hint: psock-run's policy hints (--policy-hint), shared by the preload
 * (shim.c's shim_hint()) and the seccomp supervisor (sv_common.c's
 * sv_hint()): the words psockd.policy(5) uses for a socket and an
 * address, and the one line printed, once per distinct text, for a call
 * psockd decided. Knows nothing of how a call was made.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "psock/psock.h"

/* "inet", "inet6", ...: a family in psockd.policy(5) words (else its
 * number, in buf). */
const char *hint_family(int family, char *buf, size_t len);

/* "family=inet type=stream proto=tcp" for socket(family, type, proto). */
void hint_socket_words(int family, int type, int proto, char *buf, size_t len);

/* "family=inet addr=127.0.0.1 port=80" (inet, inet6), else "family=...",
 * for a bind or connect of a socket of family to a (may be NULL). */
void hint_address_words(int family, const psock_address *a, char *buf,
                        size_t len);

/*
 * Print "psock-run: policy hint: allow uid=UID WHAT" to stderr unless this
 * text was printed before; marked "# refused: ..." when psockd's policy
 * refused the call. failed: the call failed (the last libpsock-client
 * error says why; nothing is printed if psockd did not decide). errno is
 * kept. Thread-safe.
 */
void hint_emit(uid_t uid, bool failed, const char *what);
