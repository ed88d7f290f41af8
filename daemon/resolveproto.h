/* SPDX-License-Identifier: MIT */
/*
 * resolveproto: the packets between a worker (resolveask.c) and its
 * resolver process (resolver.c), over a SOCK_SEQPACKET socketpair. Each
 * packet is a header followed, for a query and an answer, by one packed
 * protobuf message:
 *
 *   worker -> resolver   RESOLVE_QUERY  tag  Request (a name-service call)
 *                        RESOLVE_CANCEL tag  (the client went away)
 *   resolver -> worker   RESOLVE_ANSWER tag  Response
 *
 * The tag names the worker's pending call; the Request's own id is the
 * client's and is ignored here.
 */
#pragma once

#include <stdint.h>

enum resolve_kind {
  RESOLVE_QUERY = 1,
  RESOLVE_CANCEL = 2,
  RESOLVE_ANSWER = 3,
};

struct resolve_hdr {
  uint32_t kind;
  uint32_t pad;
  uint64_t tag;
};
