/* SPDX-License-Identifier: MIT */
/*
 * authz: the policy in force in a process (worker or psockd-priv), and the
 * decision for one query with its audit record.
 *
 * The policy is held through a reference-counted snapshot. Each request
 * takes the snapshot current when it is dispatched and judges every step
 * with it, so a reload replaces the policy atomically: no request is judged
 * by two policies, and none by half of one.
 *
 * Decisions are pure: a snapshot, an identity and a query in, a decision
 * and an audit record out. Building a reply from a refusal is the caller's
 * business (call.c).
 */
#pragma once

#include <stdbool.h>

#include "identity.h"
#include "policy.h"

struct authz;

/* Install p as the policy in force (takes ownership). */
void authz_install(struct policy *p);

/* Parse the policy text in a sealed memfd (or the default if fd < 0) and
 * install it. Returns 0, or -errno (the policy in force stays). */
int authz_install_fd(int fd, const char *name);

bool authz_installed(void);

/* A reference to the snapshot in force, or NULL if none is installed. */
struct authz *authz_get(void);
void authz_put(struct authz *a);

/* Log allowed decisions too (denials are always logged). */
void authz_set_audit_allow(bool on);

/* Drop the policy in force (at exit). */
void authz_shutdown(void);

/*
 * Judge q for who with snapshot a (NULL: no policy, a denial). Records the
 * decision in the audit trail (denials always, allowed ones with
 * --audit-allow), stores it in *ret and returns whether it allows.
 */
bool authz_decide(const struct authz *a, const struct identity *who,
                  const struct policy_query *q, struct policy_decision *ret);

/* Could the policy of snapshot a refuse who a sendto() destination
 * (policy_sendto_restricted())? true without a policy. */
bool authz_sendto_restricted(const struct authz *a, const struct identity *who);

/*
 * What the policy of snapshot a leaves open to who, for the policy page
 * (policy_scope_of()): nothing without a policy, and nothing with
 * --audit-allow, where every allowed call must reach psockd to be
 * recorded.
 */
void authz_scope(const struct authz *a, const struct identity *who,
                 struct policy_scope *ret);

/*
 * May who get a batch of socket(family, type, proto) (type without
 * flags) under snapshot a: a kind the page lists in its batch bits
 * (authz_scope())? Decided without an audit record: with --audit-allow
 * the answer is no.
 */
bool authz_batchable(const struct authz *a, const struct identity *who,
                     int family, int type, int proto);
