/* SPDX-License-Identifier: MIT */
/*
 * privproto: the fixed-size request protocol between a worker and
 * psockd-priv, over a SOCK_SEQPACKET socketpair.
 *
 * Deliberately tiny: three operations, one fixed-size struct each way, at
 * most one fd each way. psockd-priv never parses protobuf or anything of
 * variable shape; it checks every field of a request against fixed lists
 * (priv_validate) before acting. A request that fails the checks, or a
 * packet of the wrong size, ends that worker's channel: a worker that sends
 * one is not behaving as psockd's code does, so it is not trusted again.
 */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

enum priv_op {
  PRIV_OP_SOCKET = 1,     /* no fd in; one fd out */
  PRIV_OP_BIND = 2,       /* one socket fd in */
  PRIV_OP_SETSOCKOPT = 3, /* one socket fd in */
};

/* Room for any sockaddr the helper binds, and any option value it sets. */
#define PRIV_DATA_MAX 128

struct priv_request {
  uint32_t op;
  int32_t family; /* PRIV_OP_SOCKET */
  int32_t type;   /* PRIV_OP_SOCKET: base type, may include SOCK_NONBLOCK */
  int32_t proto;  /* PRIV_OP_SOCKET */
  int32_t level;  /* PRIV_OP_SETSOCKOPT */
  int32_t optname;
  uint32_t len; /* bytes used in data: sockaddr or option value */
  uint8_t data[PRIV_DATA_MAX];
};

struct priv_reply {
  int32_t result; /* 0 or -errno; an fd rides along for PRIV_OP_SOCKET */
};

/*
 * Check a request against the fixed lists. fd is the socket that came with
 * it (-1 if none). Returns 0 if psockd-priv may perform it, else -errno
 * (-EPROTO for a malformed request, which ends the channel).
 */
int priv_validate(const struct priv_request *req, int fd);

/* Perform a validated request. Returns an fd (socket), 0, or -errno. */
int priv_perform(const struct priv_request *req, int fd);

/* psockd --role=priv: serve channels until the control socket closes. */
int priv_main(int control_fd);
