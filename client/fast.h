/* SPDX-License-Identifier: MIT */
/*
 * fast: the fast paths of issue 16, by the policy page of the caller's
 * identity (conn.h, page.h): the calls psockd would allow whatever their
 * arguments, made on the fd without asking, and sockets made before they
 * are asked for, kept in a small cache. Sits on the connection, the page,
 * route (PSOCK_FAST) and ident; the calls layer and the preload shim
 * decide by it.
 *
 * Every decision reads the page (pc_conn_page()): a policy reload is seen
 * at the very next call, and a page that cannot be believed (none, psockd
 * rewriting it, its connection gone) means "ask psockd", as without.
 */
#pragma once

#include <stdbool.h>

#include "psock/psock.h"

/* The calls a page can make free. */
enum pc_fast_call {
  PC_FAST_CONNECT,
  PC_FAST_SENDTO, /* sendto/sendmsg with a destination */
  PC_FAST_BIND,
  PC_FAST_LISTEN,
};

/* How many sockets a batch asks for besides the one asked for. */
#define PC_FAST_BATCH 7

/*
 * May call be made on the caller's own fd, a socket of sock_family, with
 * an address of addr_family (sock_family for listen), without asking
 * psockd? True only for AF_INET and AF_INET6 with the address of the
 * socket's own family, with the fast paths on (route.h) and a page that
 * says psockd's policy allows every such call of this identity. For bind
 * that means every port the kernel lets an unprivileged process take: a
 * bind the kernel refuses for lack of privilege still goes to psockd
 * (sockcalls.c). Bind and listen also wait until psockd has closed its
 * copies of the sockets it sent (pc_conn_fds_settled()): until then they
 * go to psockd, so that the program's close() ends what it made, as
 * natively. Also drops the socket cache when the page shows another
 * policy generation.
 */
bool pc_fast_free(enum pc_fast_call call, int sock_family, int addr_family);

/*
 * May a socket of sock_family bind to a (an inet or inet6 address) without
 * asking psockd? pc_fast_free(PC_FAST_BIND) and a port the page's bind bit
 * covers: 0 or 1024-65535 (proto/policy_page.h). Ports 1-1023 go to
 * psockd even where net.ipv4.ip_unprivileged_port_start is lower, so that
 * a rule on them is judged.
 */
bool pc_fast_bind(int sock_family, const psock_address *a);

/*
 * psock_socket()'s socket, when the page lists its kind for batches
 * (AF_INET, AF_INET6 x SOCK_STREAM with proto 0 or IPPROTO_TCP, SOCK_DGRAM
 * with 0 or IPPROTO_UDP; type may hold SOCK_NONBLOCK and SOCK_CLOEXEC):
 * one made earlier under the same policy generation, or one asked of
 * psockd with a batch (SocketRequest.batch) whose rest fills the cache.
 * Returns 1 with *ret_fd at the lowest free number, close-on-exec exactly
 * when type has SOCK_CLOEXEC and never O_NONBLOCK (the caller applies the
 * socket's mode); 0 when this path does not apply (the caller asks psockd
 * for one socket, as without); -PC_ERECORDED when psockd was asked and
 * refused or failed (recorded), or -errno (not recorded).
 */
int pc_fast_socket(int family, int type, int proto, int *ret_fd);

/* Close the cached sockets (tests; a program never needs it). */
void pc_fast_flush(void);
