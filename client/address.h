/* SPDX-License-Identifier: MIT */
/*
 * address: the address codec of libpsock-client. psock_address (the public
 * type) <-> the wire's Address message <-> struct sockaddr, and the public
 * psock_addr_* helpers. Pure: no name resolution and no I/O; a host name
 * in an address is resolved one layer up (names.h, pc_resolve_sockaddr()).
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "addr.h"
#include "psock.pb-c.h"
#include "psock/psock.h"

/*
 * psock_address -> protobuf Address built in buf without allocation;
 * string fields point into a, which must outlive *ret. -EINVAL for an
 * unterminated host or a length out of range, -EAFNOSUPPORT for an
 * unknown family.
 */
int pc_address_to_proto(const psock_address *a, struct addr_buf *buf,
                        Psock__V1__Address **ret);
/* protobuf Address -> psock_address. -EAFNOSUPPORT, -EINVAL. */
int pc_address_from_proto(const Psock__V1__Address *pa, psock_address *ret);
/* sockaddr -> psock_address, without protobuf. -EAFNOSUPPORT, -EINVAL. */
int pc_sockaddr_to_address(const struct sockaddr *sa, socklen_t len,
                           psock_address *ret);
/* Is a an inet/inet6 address whose host is a name to resolve first? */
bool pc_address_needs_lookup(const psock_address *a);
/*
 * psock_address -> sockaddr for a local system call, numeric hosts only:
 * 0, or -ENOENT for a host name (see pc_address_needs_lookup()), -EINVAL,
 * -EAFNOSUPPORT, -ENAMETOOLONG as addr_to_sockaddr() says.
 */
int pc_address_to_sockaddr(const psock_address *a, struct sockaddr_storage *ss,
                           socklen_t *ret_len);
