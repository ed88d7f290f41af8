/* SPDX-License-Identifier: MIT */
/*
 * authz: the policy in force in a worker, and the per-request check.
 *
 * The policy is held through a reference-counted snapshot. Each request
 * takes the snapshot current when it is dispatched and judges every step
 * with it (also steps that run on the lookup pool), so a reload replaces
 * the policy atomically: no request is judged by two policies, and none by
 * half of one.
 */
#pragma once

#include <stdbool.h>

#include "policy.h"

struct authz;
struct rpc_call;

/* Install p as the policy in force (takes ownership). */
void authz_install(struct policy *p);

/* Parse policy text from a memfd (or the default if fd < 0) and install
 * it. Returns 0, or -errno (the policy in force stays). */
int authz_install_from_fd(int fd, const char *name);

bool authz_policy_installed(void);

/* A reference to the snapshot in force, or NULL if none is installed. */
struct authz *authz_get(void);
void authz_put(struct authz *a);
const struct policy *authz_policy(const struct authz *a);

/* Log allowed decisions too (denials are always logged). */
void authz_set_audit_allow(bool on);

/* Drop the policy in force (at exit). */
void authz_shutdown(void);

/*
 * Judge q for call's client with call's snapshot. Returns 1 if allowed.
 * If denied: logs the denial, sets a POLICY_DENIED error reply naming the
 * rule and returns 0 (a handler returns that 0 as is).
 */
int rpc_authorize(struct rpc_call *call, const struct policy_query *q);
