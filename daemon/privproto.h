/* SPDX-License-Identifier: MIT */
/*
 * privproto: the fixed-size request protocol between a worker (the asking
 * side, privask.c) and psockd-priv (the serving side, privserve.c), over a
 * SOCK_SEQPACKET socketpair, one per worker.
 *
 * Deliberately tiny: three operations, one fixed-size struct each way, at
 * most one fd each way. psockd-priv never parses protobuf or anything of
 * variable shape; it checks every field of a request against fixed lists
 * (privproto_validate) and then against the policy for the one identity the
 * worker serves, which the master told it when it made the channel. A
 * request that fails the fixed checks, or a packet of the wrong size, ends
 * that worker's channel: a worker that sends one is not behaving as
 * psockd's code does, so it is not trusted again.
 */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "identity.h"

enum priv_op {
  PRIV_OP_SOCKET = 1,     /* no fd in; one fd out, owned by the worker's uid */
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
  /* A policy refusal by psockd-priv itself: the deciding rule. */
  char rule[96];
};

/* Master -> psockd-priv, on its control socket. */
enum priv_ctl_type {
  PRIV_CTL_CHANNEL = 1, /* fd: a worker's channel; identity: whom it serves */
  PRIV_CTL_POLICY = 2,  /* fd: sealed memfd, or none for the default */
};

struct priv_ctl {
  uint32_t type;
  uint32_t worker_id;
  struct identity identity; /* PRIV_CTL_CHANNEL */
  char name[200];           /* PRIV_CTL_POLICY: where the policy came from */
};

/*
 * Check a request against the fixed lists: only what needs privilege, of
 * a size that fits. fd_family is the SO_DOMAIN of the socket that came
 * with it (-1 if none). Returns 0 or -EPROTO.
 */
int privproto_validate(const struct priv_request *req, int fd_family);

/* Would the kernel's refusal err of this socket() be lifted by
 * psockd-priv (raw and packet sockets)? The asking side's test. */
int privproto_socket_needs_priv(int family, int type, int proto);
