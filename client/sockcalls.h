/* SPDX-License-Identifier: MIT */
/*
 * sockcalls: the socket calls psockd may perform (socket, socketpair,
 * fromfd, create_connection, bind, connect, connect_ex, listen,
 * setsockopt). Besides the public psock_* functions it gives the preload
 * shim, the one layer above it, the same calls with the route chosen by
 * the shim's own rules (PSOCK_PRELOAD_UNIX instead of PSOCK_ROUTE). Each
 * returns as its public twin: 0, or -1 with the thread's last error set.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "psock/psock.h"

/* psock_bind() performed by psockd (daemon) or on the fd (!daemon). */
int pc_bind_via(psock_sock *s, const psock_address *address, bool daemon);

/* psock_connect() performed by psockd (daemon) or on the fd (!daemon). */
int pc_connect_via(psock_sock *s, const psock_address *address, bool daemon);

/* psock_setsockopt_buf() asked of psockd without trying the kernel first:
 * for a caller that tried and got a refusal for lack of privilege. */
int pc_setsockopt_daemon(psock_sock *s, int level, int optname, const void *buf,
                         size_t len);
