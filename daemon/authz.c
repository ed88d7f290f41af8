/* SPDX-License-Identifier: MIT */
/*
 * authz: policy snapshots and the audit trail of decisions.
 *
 * Every decision is recorded as one structured line on stderr
 * ("audit: decision=deny uid=... pid=... unit=... call=... args... rule=..."):
 * denials always, allowed calls with --audit-allow.
 */
#include "authz.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "rpc.h"
#include "worker.h"

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

int authz_install_from_fd(int fd, const char *name) {
  struct policy *p = NULL;
  unsigned nerr = 0;
  off_t size;
  void *text;
  int r;

  if (fd < 0) {
    r = policy_load_default(&p);
  } else {
    size = lseek(fd, 0, SEEK_END);
    if (size < 0)
      return -errno;
    text = size ? mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0)
                : (void *)"";
    if (text == MAP_FAILED)
      return -errno;
    r = policy_load_string(name, text, (size_t)size, stderr, &nerr, &p);
    if (size)
      munmap(text, (size_t)size);
  }
  if (r < 0)
    return r;
  authz_install(p);
  return 0;
}

bool authz_policy_installed(void) {
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

const struct policy *authz_policy(const struct authz *a) {
  return a ? a->policy : NULL;
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

int rpc_authorize(struct rpc_call *call, const struct policy_query *q) {
  const struct identity *who = &call->conn->peer;
  struct policy_subject subject;
  struct policy_decision d = {0};
  char args[256];

  identity_to_subject(who, &subject);
  if (!call->authz) {
    d.allow = false;
    d.error = EACCES;
    snprintf(d.rule, sizeof(d.rule), "no policy loaded");
  } else {
    policy_check(call->authz->policy, &subject, q, &d);
  }
  if (d.allow && !audit_allow)
    return 1;
  describe_query(q, args, sizeof(args));
  log_audit(d.allow ? LOG_INFO : LOG_NOTICE,
            &(struct log_audit_record){
                .decision = d.allow ? "allow" : "deny",
                .uid = who->uid,
                .gid = who->gid,
                .pid = who->pid,
                .unit = who->unit[0] ? who->unit : "-",
                .call = policy_call_name(q->call),
                .args = args,
                .rule = d.rule,
            });
  if (d.allow)
    return 1;
  rpc_fail(call, PSOCK__V1__ERROR__KIND__POLICY_DENIED,
           d.error ? d.error : EACCES, "denied by policy (%s)", d.rule);
  return 0;
}
