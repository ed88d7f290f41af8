/* SPDX-License-Identifier: MIT */
/*
 * sv_send: sendto (with a destination), sendmsg and sendmmsg of a program
 * whose policy could refuse it a destination, for psock-run's seccomp
 * supervisor (the filter stops them only then: seccomp_filter.h).
 *
 * A destination lives in the caller's memory, which another thread can
 * rewrite while the call waits, so the supervisor never lets the kernel
 * run a send whose destination it judged. It copies the message once
 * (header, destination, data, control), checks that the call still
 * waits, and then:
 *
 *   - a datagram with a destination on a socket psockd addresses (inet,
 *     inet6, netlink) is sent by psockd (policy `sendto`), as
 *     libpsock-client's sendto to a restricted destination is; unless
 *     psockd's policy page says psockd would send to every destination of
 *     that family (issue 16, client/fast.h): then the supervisor sends the
 *     copy itself, control messages and all, or lets the kernel run the
 *     caller's send where the caller's fd table is its own and every
 *     destination it could put in place of the copy is free;
 *   - a message without one is sent by the supervisor on the caller's
 *     socket with the copied data and control (a stream socket ignores a
 *     destination, unless MSG_FASTOPEN);
 *   - on a socket psockd does not address (AF_UNIX, packet, ...) the kernel
 *     runs it when the caller's fd table is its own (one thread: only which
 *     socket the fd is was checked); else the supervisor sends the copy as
 *     the caller would (sv_local.h), its SCM_RIGHTS fds taken from the
 *     caller.
 *
 * A send the supervisor makes on a blocking socket whose buffer is full
 * waits without holding up the loop (sv_wait.h). What differs from the
 * kernel: a datagram through psockd larger than psockd's packet allows
 * (64 KiB less its header) is EMSGSIZE; a datagram with both a destination
 * and control messages on an inet socket is EOPNOTSUPP (psockd's sendto
 * carries no control); a stream send made by the supervisor takes at most
 * SV_SEND_MAX bytes at a time, as a non-blocking send may.
 *
 * Trust boundary: the program's arguments, memory and fds.
 */
#pragma once

#include "sv_notif.h"

/* The most data one send made by the supervisor copies. */
#define SV_SEND_MAX (256 * 1024)

/* Answer the call r now, or later (sv_wait.h). */
void sv_sendto(struct sv_req *r);
void sv_sendmsg(struct sv_req *r);
void sv_sendmmsg(struct sv_req *r);
