/* SPDX-License-Identifier: MIT */
/*
 * route: where a call goes, psockd or the kernel on the client's own fd,
 * for the decisions that depend on the environment and not on a reply
 * (docs/api.md has the whole table). Pure apart from getenv() and
 * geteuid(); calls no other module.
 *
 * AF_UNIX is the program's own (issue 13, finding 1): its sockets and
 * socketpairs are made by the client, its paths are files of the client's
 * mount namespace, its abstract names belong to the client's network
 * namespace. Only PSOCK_ROUTE=daemon sends them to psockd: abstract names
 * for anyone (psockd binds or connects a name a policy rule names, on a
 * socket of its own namespace that replaces the client's), sockets and
 * paths for root only (psockd refuses them to everyone else).
 */
#pragma once

#include <stdbool.h>

#include "psock/psock.h"

/* True if PSOCK_ROUTE=daemon: every call with a daemon message goes there. */
bool pc_route_daemon(void);

/* Does the client make AF_UNIX sockets and socketpairs itself? */
bool pc_unix_socket_local(void);

/* Does the client bind/connect/sendto this AF_UNIX address itself? False
 * for every other family. */
bool pc_unix_address_local(const psock_address *a);

/* Does the client listen on its AF_UNIX socket itself? */
bool pc_unix_listen_local(void);
