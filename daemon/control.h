/* SPDX-License-Identifier: MIT */
/*
 * control: the fixed-size messages between the master and a worker over
 * their SOCK_SEQPACKET socketpair. Master to worker: CTL_POLICY (with a
 * sealed memfd holding the policy text, or no fd for the default policy)
 * and CTL_STATS requests. Worker to master: CTL_STATS replies.
 */
#pragma once

#include <stdint.h>

#define CTL_NAME_MAX 200

enum ctl_type {
  CTL_POLICY = 1,
  CTL_STATS = 2,
};

struct ctl_msg {
  uint32_t type;
  uint32_t pad;
  uint64_t clients;        /* CTL_STATS reply */
  uint64_t requests;       /* CTL_STATS reply */
  char name[CTL_NAME_MAX]; /* CTL_POLICY: where the policy came from */
};

/* Copy the file at path into a sealed, read-only memfd. fd or -errno. */
int control_policy_memfd(const char *path);

/* Ask a worker for its statistics (ignored if ctl < 0). */
void control_request_stats(int ctl);
