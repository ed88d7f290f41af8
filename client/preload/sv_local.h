/* SPDX-License-Identifier: MIT */
/*
 * sv_local: the program's own bind, connect and listen (AF_UNIX, and every
 * family psockd does not address), for psock-run's seccomp supervisor.
 *
 * The filter cannot tell a socket's family, so these calls stop too. The
 * kernel runs them for the program itself (CONTINUE) when nothing the
 * supervisor checked can change before it does: the check was which
 * socket the fd is, and no task but the caller can change the caller's fd
 * table (its process has one thread; the filter refuses clones that share
 * the table otherwise). Another thread could otherwise put an inet socket
 * at that number after the check, and the kernel would connect it to an
 * address no one checked. With more threads the supervisor performs the
 * call on the caller's socket with its copy of the address, as the caller:
 * a path in the caller's working directory and root, a bind under the
 * caller's umask, an abstract name or autobind only in the caller's own
 * network namespace (else EACCES). What differs then: the peer of an
 * AF_UNIX stream connected or listened on this way sees the supervisor's
 * pid in SO_PEERCRED (the uid and gid are the program's), and a connect
 * to a listener whose backlog is full waits in the supervisor.
 *
 * Trust boundary: the program's arguments, memory and fds.
 */
#pragma once

#include <sys/socket.h>

#include "sv_notif.h"

/*
 * bind, connect or listen (nr) on fd, the supervisor's copy of the
 * caller's socket (taken over), a socket psockd does not address: the
 * kernel runs it, or the supervisor performs it (reading the address
 * itself). Answers r.
 */
void sv_local_call(struct sv_req *r, int fd, int nr);

/*
 * Perform bind (nr) or connect on fd with the address copy ss (len bytes)
 * as the caller would. 0 or -errno.
 */
int sv_local_addr(const struct sv_req *r, int fd, int nr,
                  struct sockaddr_storage *ss, socklen_t len);

/*
 * Make an AF_UNIX address of the caller mean the same to the supervisor
 * for one call: for a relative path the supervisor moves to the caller's
 * working directory; an absolute path under another root or mount
 * namespace is rewritten below /proc/TID/root (-ENAMETOOLONG if it does
 * not fit); an abstract name or autobind must be in the supervisor's
 * network namespace (-EACCES otherwise). Other families pass. 0 or
 * -errno; sv_local_leave() undoes it.
 */
int sv_local_enter(const struct sv_req *r, struct sockaddr_storage *ss,
                   socklen_t *len);
void sv_local_leave(void);

/*
 * Read the caller's address argument (addr, len: the kernel's
 * move_addr_to_kernel()): -EINVAL for a length over sockaddr_storage or
 * negative, -EFAULT for memory that cannot be read. ss is zero-filled
 * beyond len.
 */
int sv_read_addr(const struct sv_req *r, uint64_t addr, int len,
                 struct sockaddr_storage *ss);
