/* SPDX-License-Identifier: MIT */
/*
 * wire_hot: the codec of the most frequent exchange, by hand: a Request
 * that carries a SocketRequest, and a Response that carries a SocketReply.
 *
 * Why not protobuf-c here: its pack and unpack are driven by the message
 * descriptors, and those of Request and Response (about 28 oneof members
 * each) are relocated data, private to each process. A client among many
 * that wakes with a cold cache pays for every line of them on each round
 * trip (with 64 clients on two CPUs, packing alone cost ~1 µs of user time
 * per round trip; docs/performance.md). These functions touch no
 * descriptor.
 *
 * The bytes are exactly protobuf-c's (tests/unit/test_wire.c compares
 * them for every value class). The decoder takes only the form protobuf-c
 * writes (each field once, in field-number order, no unknown field) and
 * says false for anything else, which the caller then gives to protobuf-c:
 * it never accepts what protobuf-c would refuse, nor reads a value
 * protobuf-c would read otherwise.
 *
 * Trust boundary: wire_hot_unpack_socket() reads bytes from psockd; every
 * length is checked against the packet before it is used.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "psock.pb-c.h"

/*
 * Pack req, whose call is CALL_SOCKET, into buf as protobuf-c would:
 * the length, or -EMSGSIZE (cap too small), or -EINVAL (not a socket
 * request, or no SocketRequest).
 */
ssize_t wire_hot_pack_socket(const Psock__V1__Request *req, void *buf,
                             size_t cap);

/* A Response with its SocketReply and SocketInfo, in one piece: resp
 * points into the same struct. Nothing to free. */
struct wire_hot_reply {
  Psock__V1__Response resp;
  Psock__V1__SocketReply socket;
  Psock__V1__SocketInfo info;
};

/*
 * Is buf (len bytes) a Response {id, fd_count, socket {info {family, type,
 * proto}}} in protobuf-c's own form? true with *ret filled (ret->resp is
 * the response); false for anything else, *ret then undefined.
 */
bool wire_hot_unpack_socket(const void *buf, size_t len,
                            struct wire_hot_reply *ret);
