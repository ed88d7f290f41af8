/* SPDX-License-Identifier: MIT */
/*
 * names: the name service calls (psock_getaddrinfo and friends), all
 * answered by psockd, and the one internal service they give the calls
 * layer: an address with a host name turned into a sockaddr. Sits on the
 * address codec, the connection, util and errors.
 */
#pragma once

#include <sys/socket.h>

#include "psock/psock.h"

/*
 * psock_address -> sockaddr for a local system call; a host name is
 * resolved through psockd (the first address, in the family of the
 * address), as a daemon-routed call would have it resolved. 0, -errno from
 * the codec, or -PC_ERECORDED (the lookup failed; recorded).
 */
int pc_resolve_sockaddr(const psock_address *a, struct sockaddr_storage *ss,
                        socklen_t *ret_len);
