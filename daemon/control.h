/* SPDX-License-Identifier: MIT */
/*
 * control: the fixed-size messages between the master and a worker over
 * their SOCK_SEQPACKET socketpair.
 *
 *   master -> worker  CTL_POLICY  fd: sealed memfd (none: the default)
 *                     CTL_CONN    fd: a client connection; its identity
 *                     CTL_PING    seq: answer with CTL_PONG
 *                     CTL_DRAIN   finish what is in flight and exit
 *   worker -> master  CTL_PONG    seq, connections, requests served
 *
 * Every message is one struct ctl_msg; a worker that sends anything else
 * is killed. The worker runs as a client's uid: the master reads nothing
 * else from it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "identity.h"

#define CTL_NAME_MAX 200

enum ctl_type {
  CTL_POLICY = 1,
  CTL_CONN = 2,
  CTL_PING = 3,
  CTL_PONG = 4,
  CTL_DRAIN = 5,
};

struct ctl_msg {
  uint32_t type;
  uint32_t pad;
  uint64_t seq;             /* CTL_PING / CTL_PONG */
  uint64_t clients;         /* CTL_PONG: connections now */
  uint64_t requests;        /* CTL_PONG: replies sent so far */
  uint64_t conns_received;  /* CTL_PONG: CTL_CONN messages taken so far */
  struct identity identity; /* CTL_CONN */
  char name[CTL_NAME_MAX];  /* CTL_POLICY: where the policy came from */
};

/* Copy the file at path into a sealed, read-only memfd. fd or -errno. */
int control_policy_memfd(const char *path);

/* A sealed, read-only memfd holding data[0..len). fd or -errno. */
int control_sealed_memfd(const void *data, size_t len);
