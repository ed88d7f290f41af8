/* SPDX-License-Identifier: MIT */
/*
 * policy_lint: warnings about rules that say more than psockd can hold, for
 * `psockctl check` (see psockctl(8), WARNINGS).
 *
 * A socket is a capability. A client that holds an unconnected socket can
 * connect(), sendto(), listen() and bind() an unprivileged port on it by
 * itself: the kernel does not ask psockd. A rule that restricts those calls
 * therefore binds a client only while it has to ask psockd for them: when
 * it gets connected sockets only (connect granted without socket: psockd's
 * create_connection hands back connected sockets), or when psock-run's
 * seccomp mode stops the client's own system calls. The heuristic here:
 *
 *   a rule R restricts bind, connect, sendto or listen when it is a deny
 *   rule (for bind: unless it names privileged ports only, which the
 *   kernel refuses to the holder too), or an allow rule whose addr= or
 *   port= is narrower than everything (for bind: names some unprivileged
 *   port but not all, or some address only) and no other rule for anyone
 *   allows the same call and families without such a limit;
 *
 *   it is not enforceable when some allow rule S grants socket to clients
 *   R may also match (anyone on either side, or uid/user sets that share
 *   an id) for a family R covers (for listen: of a connection type).
 *
 * One warning per restricting rule, naming the first such S. Shadowing by
 * earlier rules is not followed: a warning says "may".
 *
 * Reads the in-memory form only; calls neither the parser nor the
 * decision. Trust boundary: none (an administrator's tool).
 */
#include <stdio.h>
#include <string.h>

#include "policy_internal.h"

#define HOLDER_CALLS                                                           \
  (BIT(POLICY_BIND) | BIT(POLICY_CONNECT) | BIT(POLICY_SENDTO) |               \
   BIT(POLICY_LISTEN))
#define N_FAMILIES (POL_FAMILY_MAX + 1)

/* A set of families, one bit each. */
struct famset {
  uint64_t w[N_FAMILIES / 64];
};

static void fam_all(struct famset *f) {
  memset(f, 0xff, sizeof(*f));
}

static void fam_add(struct famset *f, uint32_t fam) {
  if (fam < N_FAMILIES)
    f->w[fam / 64] |= UINT64_C(1) << (fam % 64);
}

static bool fam_has(const struct famset *f, uint32_t fam) {
  return fam < N_FAMILIES && (f->w[fam / 64] >> (fam % 64)) & 1;
}

static void fam_and(struct famset *f, const struct famset *g) {
  for (size_t i = 0; i < N_FAMILIES / 64; i++)
    f->w[i] &= g->w[i];
}

static bool fam_empty(const struct famset *f) {
  for (size_t i = 0; i < N_FAMILIES / 64; i++)
    if (f->w[i])
      return false;
  return true;
}

/* The families a family= key admits (all if absent or any). */
static void fam_of_key(const struct pol_set *s, struct famset *ret) {
  if (!s->present || s->any) {
    fam_all(ret);
    return;
  }
  memset(ret, 0, sizeof(*ret));
  for (size_t i = 0; i < s->n; i++)
    fam_add(ret, s->v[i].lo);
}

/* The families R's restriction is about: family=, narrowed by what
 * addr= can describe (IP networks: inet, inet6; @ names: unix). */
static void fam_restricted(const struct policy_rule *r, struct famset *ret) {
  const struct pol_set *a = &r->key[PK_ADDR];
  struct famset by_addr = {0};

  fam_of_key(&r->key[PK_FAMILY], ret);
  if (!a->present)
    return;
  if (a->any || a->n) {
    fam_add(&by_addr, AF_INET);
    fam_add(&by_addr, AF_INET6);
  }
  if (a->n_abstract)
    fam_add(&by_addr, AF_UNIX);
  fam_and(ret, &by_addr);
}

/* Does port= admit every port in lo..hi? (Absent: no port is admitted.) */
static bool ports_cover(const struct pol_set *s, uint32_t lo, uint32_t hi) {
  if (!s->present)
    return false;
  if (s->any)
    return true;
  for (uint32_t p = lo; p <= hi; p++) {
    bool in = false;

    for (size_t i = 0; !in && i < s->n; i++)
      in = p >= s->v[i].lo && p <= s->v[i].hi;
    if (!in)
      return false;
  }
  return true;
}

/* Does port= name any unprivileged port (0 or 1024..65535)? */
static bool ports_touch_unprivileged(const struct pol_set *s) {
  if (!s->present || s->any)
    return true;
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i].lo == 0 || s->v[i].hi > POL_PRIV_PORT_END)
      return true;
  return false;
}

/* An allow rule that limits call by address or port. */
static bool allow_narrowed(const struct policy_rule *r, int call) {
  const struct pol_set *a = &r->key[PK_ADDR], *p = &r->key[PK_PORT];

  if (call == POLICY_LISTEN)
    return false;
  /* A grant of privileged ports only restricts nothing the holder of a
   * socket could do. */
  if (call == POLICY_BIND && !ports_touch_unprivileged(p))
    return false;
  if (a->present && !a->any)
    return true;
  if (call == POLICY_BIND)
    return p->present && !ports_cover(p, POL_PRIV_PORT_END + 1, POL_PORT_MAX);
  return p->present && !ports_cover(p, 0, POL_PORT_MAX);
}

/* Another allow rule for anyone that grants call for all of r's families
 * with no address or port limit. */
static bool broader_allow(const struct policy *p, const struct policy_rule *r,
                          int call) {
  struct famset mine, theirs;

  fam_of_key(&r->key[PK_FAMILY], &mine);
  for (size_t i = 0; i < p->n_rules; i++) {
    const struct policy_rule *o = &p->rules[i];

    if (o == r || !o->allow || !o->anyone || !(o->calls & BIT(call)) ||
        allow_narrowed(o, call))
      continue;
    fam_of_key(&o->key[PK_FAMILY], &theirs);
    fam_and(&theirs, &mine);
    if (memcmp(&theirs, &mine, sizeof(mine)) == 0)
      return true;
  }
  return false;
}

/* The calls among bind/connect/sendto/listen that r restricts. */
static uint32_t restricted_calls(const struct policy *p,
                                 const struct policy_rule *r) {
  uint32_t out = 0;

  for (int c = 0; c < POLICY_N_CALLS; c++) {
    if (!(r->calls & HOLDER_CALLS & BIT(c)))
      continue;
    if (!r->allow) {
      if (c != POLICY_BIND || ports_touch_unprivileged(&r->key[PK_PORT]))
        out |= BIT(c);
    } else if (allow_narrowed(r, c) && !broader_allow(p, r, c)) {
      out |= BIT(c);
    }
  }
  return out;
}

static bool ids_share(const struct pol_who_set *a,
                      const struct pol_who_set *b) {
  for (size_t i = 0; i < a->n; i++)
    for (size_t j = 0; j < b->n; j++)
      if (a->ids[i] == b->ids[j])
        return true;
  return false;
}

/* May a client match both a and b? Only disjoint user ids say no. */
static bool who_overlap(const struct policy_rule *a,
                        const struct policy_rule *b) {
  const struct pol_who_set *ua[] = {&a->who[PW_UID], &a->who[PW_USER]};
  const struct pol_who_set *ub[] = {&b->who[PW_UID], &b->who[PW_USER]};

  if (a->anyone || b->anyone)
    return true;
  for (size_t i = 0; i < 2; i++)
    for (size_t j = 0; j < 2; j++)
      if (ua[i]->present && ub[j]->present && !ids_share(ua[i], ub[j]))
        return false;
  return true;
}

static bool type_connection(const struct pol_set *t) {
  if (!t->present || t->any)
    return true;
  for (size_t i = 0; i < t->n; i++)
    if ((t->v[i].lo <= SOCK_STREAM && t->v[i].hi >= SOCK_STREAM) ||
        (t->v[i].lo <= SOCK_SEQPACKET && t->v[i].hi >= SOCK_SEQPACKET))
      return true;
  return false;
}

/* The first rule granting socket to r's clients for a family in fams
 * (narrowed to the families both share), or NULL. */
static const struct policy_rule *socket_grant(const struct policy *p,
                                              const struct policy_rule *r,
                                              uint32_t calls,
                                              struct famset *fams) {
  for (size_t i = 0; i < p->n_rules; i++) {
    const struct policy_rule *s = &p->rules[i];
    struct famset both;

    if (!s->allow || !(s->calls & BIT(POLICY_SOCKET)) || !who_overlap(r, s))
      continue;
    if (calls == BIT(POLICY_LISTEN) && !type_connection(&s->key[PK_TYPE]))
      continue;
    fam_of_key(&s->key[PK_FAMILY], &both);
    fam_and(&both, fams);
    if (!fam_empty(&both)) {
      *fams = both;
      return s;
    }
  }
  return NULL;
}

static void write_calls(uint32_t calls, FILE *out) {
  const char *sep = "";

  for (int c = 0; c < POLICY_N_CALLS; c++) {
    if (calls & BIT(c)) {
      fprintf(out, "%s%s", sep, policy_call_name((enum policy_call)c));
      sep = ", ";
    }
  }
}

static void write_families(const struct famset *f, FILE *out) {
  const char *sep = "";
  unsigned n = 0;

  for (uint32_t fam = 0; fam < N_FAMILIES; fam++) {
    const char *name = pol_name_of(pol_family_names, (int)fam);

    if (!fam_has(f, fam) || !name)
      continue;
    if (++n > 4) {
      fputs(", ...", out);
      return;
    }
    fprintf(out, "%s%s", sep, name);
    sep = ", ";
  }
  if (!n)
    fputs("any family", out);
}

static void warn_holder(const struct policy_rule *r,
                        const struct policy_rule *s, uint32_t calls,
                        const struct famset *fams, FILE *out) {
  fprintf(out, "%s: warning: this rule restricts ", r->origin);
  write_calls(calls, out);
  fputs(" for ", out);
  write_families(fams, out);
  fprintf(out, " sockets, but rule %s may give the same clients unconnected ",
          s->origin);
  write_families(fams, out);
  fputs(" sockets: on a socket it holds, a client makes these calls itself "
        "and the kernel does not ask psockd\n",
        out);
  fprintf(out,
          "%s: note: the rule binds only clients that must ask psockd: grant "
          "them connect without socket (psockd's create_connection hands "
          "back connected sockets), or run them under psock-run "
          "--mode=seccomp\n",
          r->origin);
}

/* option= values psockd never asks about. */
static unsigned lint_options(const struct policy_rule *r, FILE *out) {
  const struct pol_set *s = &r->key[PK_OPTION];
  unsigned n = 0;

  for (size_t i = 0; s->present && !s->any && i < s->n; i++) {
    const struct sockopt *o = pol_option_at(s->v[i].lo);

    if (o && o->rule == SOCKOPT_FREE) {
      fprintf(out,
              "%s: warning: %s never needs privilege, so psockd does not "
              "ask the policy about it: option=%s has no effect\n",
              r->origin, o->name, o->name);
      n++;
    }
  }
  return n;
}

unsigned policy_lint(const struct policy *p, FILE *out) {
  unsigned n = 0;

  for (size_t i = 0; i < p->n_rules; i++) {
    const struct policy_rule *r = &p->rules[i];
    uint32_t calls = restricted_calls(p, r);
    const struct policy_rule *s;
    struct famset fams;

    n += lint_options(r, out);
    if (!calls)
      continue;
    fam_restricted(r, &fams);
    s = socket_grant(p, r, calls, &fams);
    if (s) {
      warn_holder(r, s, calls, &fams, out);
      n++;
    }
  }
  return n;
}
