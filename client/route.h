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
 *
 * PSOCK_FAST=0 turns off the fast paths (fast.h): every call psockd
 * performs goes to psockd, every socket is asked for alone.
 */
#pragma once

#include <stdbool.h>

#include "psock/psock.h"

/* True if PSOCK_ROUTE=daemon: every call with a daemon message goes there. */
bool pc_route_daemon(void);

/*
 * May the fast paths of issue 16 be taken (calls the policy page makes
 * free, sockets from a batch)? Not with PSOCK_FAST=0 (tests and the
 * benchmark compare), nor under PSOCK_ROUTE=daemon, which sends every call
 * with a daemon message to psockd.
 */
bool pc_fast_enabled(void);

/* Does the client make AF_UNIX sockets and socketpairs itself? */
bool pc_unix_socket_local(void);

/* Does the client bind/connect/sendto this AF_UNIX address itself? False
 * for every other family. */
bool pc_unix_address_local(const psock_address *a);

/* Does the client listen on its AF_UNIX socket itself? */
bool pc_unix_listen_local(void);
