/* SPDX-License-Identifier: MIT */
/*
 * authz: policy snapshots and the audit trail of decisions (see authz.h).
 *
 * Every decision is recorded as one structured record (journal fields
 * under systemd, else "audit: decision=deny uid=... call=... rule=..."):
 * denials always, allowed calls with --audit-allow.
 *
 * Trust boundary: the identity comes from the kernel (through the master);
 * the query's numbers are the client's; policy_check() bounds them.
 */
#include "authz.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"

struct authz {
  atomic_uint refs;
  struct policy *policy;
};

static struct authz *current;
static bool audit_allow;

void authz_set_audit_allow(bool on) {
  audit_allow = on;
}

void authz_install(struct policy *p) {
  struct authz *a = calloc(1, sizeof(*a));

  if (!a) {
    policy_free(p);
    log_err("out of memory installing a policy; keeping the old one");
    return;
  }
  atomic_init(&a->refs, 1);
  a->policy = p;
  if (current)
    authz_put(current);
  current = a;
}

int authz_install_fd(int fd, const char *name) {
  struct policy *p = NULL;
  unsigned nerr = 0;
  int r = policy_load_fd(fd, name, stderr, &nerr, &p);

  if (r < 0)
    return r;
  authz_install(p);
  return 0;
}

bool authz_installed(void) {
  return current != NULL;
}

struct authz *authz_get(void) {
  if (current)
    atomic_fetch_add(&current->refs, 1);
  return current;
}

void authz_put(struct authz *a) {
  if (a && atomic_fetch_sub(&a->refs, 1) == 1) {
    policy_free(a->policy);
    free(a);
  }
}

void authz_shutdown(void) {
  authz_put(current);
  current = NULL;
}

static void describe_query(const struct policy_query *q, char *buf,
                           size_t len) {
  char addr[96] = "";
  struct addr_buf b;
  Psock__V1__Address *a = NULL;

  if (q->addr && addr_from_sockaddr(q->addr, q->addrlen, &b, &a) == 0)
    addr_format(a, addr, sizeof(addr));
  /* The call itself is a field of its own in the audit record. */
  snprintf(buf, len, "family=%d type=%d proto=%d%s%s level=%d optname=%d",
           q->family, q->type, q->proto, *addr ? " addr=" : "", addr, q->level,
           q->optname);
}

bool authz_decide(const struct authz *a, const struct identity *who,
                  const struct policy_query *q, struct policy_decision *ret) {
  struct policy_subject subject;
  char args[256];

  identity_to_subject(who, &subject);
  if (!a) {
    *ret = (struct policy_decision){.allow = false,
                                    .error = policy_default_errno(q)};
    snprintf(ret->rule, sizeof(ret->rule), "no policy loaded");
  } else {
    policy_check(a->policy, &subject, q, ret);
  }
  if (ret->allow && !audit_allow)
    return true;
  describe_query(q, args, sizeof(args));
  log_audit(ret->allow ? LOG_INFO : LOG_NOTICE,
            &(struct log_audit_record){
                .decision = ret->allow ? "allow" : "deny",
                .uid = who->uid,
                .gid = who->gid,
                .pid = who->pid,
                .unit = who->unit_unknown ? "(unknown)"
                        : who->unit[0]    ? who->unit
                                          : "-",
                .call = policy_call_name(q->call),
                .args = args,
                .rule = ret->rule,
            });
  return ret->allow;
}

bool authz_sendto_restricted(const struct authz *a,
                             const struct identity *who) {
  struct policy_subject subject;

  if (!a)
    return true;
  identity_to_subject(who, &subject);
  return policy_sendto_restricted(a->policy, &subject);
}

void authz_scope(const struct authz *a, const struct identity *who,
                 struct policy_scope *ret) {
  struct policy_subject subject;

  *ret = (struct policy_scope){0};
  if (!a || audit_allow)
    return;
  identity_to_subject(who, &subject);
  policy_scope_of(a->policy, &subject, ret);
}

bool authz_batchable(const struct authz *a, const struct identity *who,
                     int family, int type, int proto) {
  uint32_t kind = policy_batch_kind(family, type, proto);
  struct policy_subject subject;

  if (!a || audit_allow || !kind)
    return false;
  identity_to_subject(who, &subject);
  return policy_allows_batch(a->policy, &subject, kind);
}
