/* SPDX-License-Identifier: MIT */
/*
 * route: environment-dependent routing decisions (see route.h).
 * Trust boundary: none; the environment is the program's own.
 */
#include "route.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

bool pc_route_daemon(void) {
  const char *r = getenv("PSOCK_ROUTE");

  return r && strcmp(r, "daemon") == 0;
}

bool pc_fast_enabled(void) {
  const char *f = getenv("PSOCK_FAST");

  return !(f && strcmp(f, "0") == 0) && !pc_route_daemon();
}

/* psockd serves AF_UNIX sockets and paths to root only, and only when
 * everything is to go through psockd. */
static bool unix_root_via_daemon(void) {
  return pc_route_daemon() && geteuid() == 0;
}

bool pc_unix_socket_local(void) {
  return !unix_root_via_daemon();
}

bool pc_unix_address_local(const psock_address *a) {
  if (!a || a->family != AF_UNIX)
    return false;
  /* An abstract name is psockd's business only when asked for. */
  if (a->u.un.abstract)
    return !pc_route_daemon();
  return !unix_root_via_daemon();
}

/* listen() acts on the socket the program holds (also one psockd bound to
 * an abstract name and handed back): nothing for psockd to judge. */
bool pc_unix_listen_local(void) {
  return !unix_root_via_daemon();
}
