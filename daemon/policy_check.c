/* SPDX-License-Identifier: MIT */
/*
 * policy_check: deciding a request, and writing a policy back out. The file
 * syntax is parsed in policy_parse.c, which this file never calls: the two
 * meet only in the in-memory form (policy_internal.h). Names come from
 * policy_names.c. What a policy leaves open to a subject as a whole is
 * policy_scope.c's question, above this file.
 *
 * Trust boundary: policy_check() runs for every client request. The query
 * comes from the daemon (decoded and resolved, but its numbers and bytes
 * are still the client's choice), so every field is range-checked here and
 * anything policy cannot describe is denied. It allocates nothing and
 * never fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "policy_internal.h"

const char *policy_source(const struct policy *p) {
  return p->source;
}

size_t policy_n_rules(const struct policy *p) {
  return p->n_rules;
}

/* --- the errno of a refusal --------------------------------------------- */

static bool inet_family(int family) {
  return family == AF_INET || family == AF_INET6;
}

int policy_default_errno(const struct policy_query *q) {
  const struct sockopt *o;

  switch (q->call) {
  case POLICY_SOCKET:
    /* CAP_NET_RAW: the kernel answers EPERM (AF_INET SOCK_PACKET is a
     * packet socket to the kernel). */
    if (q->family == AF_PACKET ||
        (q->family == AF_INET &&
         (q->type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_PACKET) ||
        (inet_family(q->family) &&
         (q->type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_RAW))
      return EPERM;
    return EACCES;
  case POLICY_SETSOCKOPT:
    /* The option's own answer (SO_DEBUG's is EACCES), else EPERM. */
    o = sockopt_lookup(q->level, q->optname);
    return o && o->deny_errno ? o->deny_errno : EPERM;
  default:
    /* A bind of a port below 1024 lacks CAP_NET_BIND_SERVICE, and the
     * kernel answers EACCES: the answer for everything else too. */
    return EACCES;
  }
}

/* --- deciding ----------------------------------------------------------- */

/* A query reduced to what rules compare. */
struct qview {
  uint32_t bit;     /* BIT(call) */
  uint32_t carried; /* BIT(enum pol_key) of the attributes the query has */
  uint32_t v[PK_N]; /* family, type, proto, -, port, option index */
  bool has4, has6;  /* a v4-mapped IPv6 address has both */
  uint8_t a4[4], a6[16];
  const uint8_t *abs; /* an abstract unix name (has_abs) */
  size_t abs_len;
  bool has_abs;
};

static int view_inet_addr(const struct policy_query *q, struct qview *v) {
  sa_family_t af;

  if (!q->addr || q->addrlen < (socklen_t)sizeof(af))
    return -EINVAL;
  memcpy(&af, &q->addr->sa_family, sizeof(af));
  /* Either address family is fine on either inet socket: an inet6 UDP
   * socket connects and sends to AF_INET addresses too. */
  if (af == AF_INET && q->addrlen >= (socklen_t)sizeof(struct sockaddr_in)) {
    struct sockaddr_in sin;

    memcpy(&sin, q->addr, sizeof(sin));
    memcpy(v->a4, &sin.sin_addr, 4);
    v->has4 = true;
    v->v[PK_PORT] = ntohs(sin.sin_port);
  } else if (af == AF_INET6 &&
             q->addrlen >= (socklen_t)sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 sin6;

    memcpy(&sin6, q->addr, sizeof(sin6));
    memcpy(v->a6, &sin6.sin6_addr, 16);
    v->has6 = true;
    /* The kernel sends to ::ffff:a.b.c.d over IPv4, so IPv4 rules must
     * see it, or a v4 deny could be bypassed through a v6 socket. */
    if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
      memcpy(v->a4, v->a6 + 12, 4);
      v->has4 = true;
    }
    v->v[PK_PORT] = ntohs(sin6.sin6_port);
  } else {
    return -EINVAL;
  }
  return 0;
}

/*
 * A unix address carries addr= only when it is an abstract name: paths
 * are the handler's business (psockd does them for root only). The name
 * is q->abstract, else read from a sockaddr_un whose sun_path starts with
 * NUL, so that no caller can have an abstract name judged as a path.
 */
static int view_unix_addr(const struct policy_query *q, struct qview *v) {
  const size_t path_off = offsetof(struct sockaddr_un, sun_path);
  sa_family_t af;

  if (q->abstract) {
    v->abs = q->abstract;
    v->abs_len = q->abstract_len;
  } else if (q->addr && q->addrlen > (socklen_t)path_off) {
    const uint8_t *sa = (const uint8_t *)q->addr;

    memcpy(&af, &q->addr->sa_family, sizeof(af));
    if (af != AF_UNIX || sa[path_off] != '\0')
      return 0;
    /* Longer than a sockaddr_un: no name the kernel would take. */
    if (q->addrlen > (socklen_t)sizeof(struct sockaddr_un))
      return -EINVAL;
    v->abs = sa + path_off + 1;
    v->abs_len = (size_t)q->addrlen - path_off - 1;
  } else {
    return 0;
  }
  if (v->abs_len > POLICY_ABSTRACT_MAX)
    return -EINVAL;
  v->has_abs = true;
  v->carried |= BIT(PK_ADDR);
  return 0;
}

static int view_addr(const struct policy_query *q, struct qview *v) {
  v->carried &= ~(BIT(PK_ADDR) | BIT(PK_PORT));
  if (q->family == AF_UNIX)
    return view_unix_addr(q, v);
  /* Only inet and abstract unix addresses are described by addr=. */
  if (!inet_family(q->family))
    return 0;
  v->carried |= BIT(PK_ADDR) | BIT(PK_PORT);
  return view_inet_addr(q, v);
}

static int query_view(const struct policy_query *q, struct qview *v) {
  memset(v, 0, sizeof(*v));
  if ((unsigned)q->call >= POLICY_N_CALLS)
    return -EINVAL;
  v->bit = BIT(q->call);
  for (int k = 0; k < PK_N; k++)
    if (pol_key_calls[k] & v->bit)
      v->carried |= BIT(k);
  if (v->carried & BIT(PK_FAMILY)) {
    if (q->family < 0)
      return -EINVAL;
    v->v[PK_FAMILY] = (uint32_t)q->family;
  }
  if (v->carried & BIT(PK_TYPE)) {
    int type = q->type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (type < 0 || q->proto < 0)
      return -EINVAL;
    v->v[PK_TYPE] = (uint32_t)type;
    v->v[PK_PROTO] = (uint32_t)q->proto;
  }
  if ((v->carried & BIT(PK_ADDR)) && view_addr(q, v) < 0)
    return -EINVAL;
  if (v->carried & BIT(PK_OPTION)) {
    int i = pol_option_index(q->level, q->optname);

    /* Not in the table: only "any" matches. */
    v->v[PK_OPTION] = i < 0 ? UINT32_MAX : (uint32_t)i;
  }
  return 0;
}

static bool cidr_match(const struct pol_cidr *c, const uint8_t *a) {
  size_t full = c->plen / 8;
  unsigned rest = c->plen % 8;

  if (memcmp(c->a, a, full) != 0)
    return false;
  if (rest == 0)
    return true;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (c->a[full] & mask) == (a[full] & mask);
}

/* '*' any run of bytes, '?' one byte; everything else itself. */
static bool abstract_match(const struct pol_abstract *p, const uint8_t *s,
                           size_t len) {
  size_t pi = 0, si = 0, star = SIZE_MAX, resume = 0;

  while (si < len) {
    if (pi < p->len && p->pat[pi] == POL_GLOB_STAR) {
      star = pi++;
      resume = si;
    } else if (pi < p->len &&
               (p->pat[pi] == POL_GLOB_ONE || p->pat[pi] == s[si])) {
      pi++;
      si++;
    } else if (star != SIZE_MAX) {
      pi = star + 1;
      si = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p->len && p->pat[pi] == POL_GLOB_STAR)
    pi++;
  return pi == p->len;
}

static bool addr_match(const struct pol_set *s, const struct qview *v) {
  if (v->has_abs) {
    /* Only a pattern names an abstract address; "any" is any IP. */
    for (size_t i = 0; i < s->n_abstract; i++)
      if (abstract_match(&s->abstract[i], v->abs, v->abs_len))
        return true;
    return false;
  }
  if (s->any)
    return true;
  for (size_t i = 0; i < s->n; i++) {
    const struct pol_cidr *c = &s->cidr[i];

    if (c->v6 ? (v->has6 && cidr_match(c, v->a6))
              : (v->has4 && cidr_match(c, v->a4)))
      return true;
  }
  return false;
}

static bool proto_ns_ok(uint8_t ns, uint32_t family) {
  switch (ns) {
  case PNS_IP:
    return family == AF_INET || family == AF_INET6;
  case PNS_NETLINK:
    return family == AF_NETLINK;
  default:
    return true;
  }
}

static bool set_match(const struct pol_set *s, int k, const struct qview *v) {
  if (k == PK_ADDR)
    return addr_match(s, v);
  if (s->any)
    return true;
  for (size_t i = 0; i < s->n; i++) {
    const struct pol_val *val = &s->v[i];

    if (v->v[k] < val->lo || v->v[k] > val->hi)
      continue;
    if (k == PK_PROTO && !proto_ns_ok(val->ns, v->v[PK_FAMILY]))
      continue;
    return true;
  }
  return false;
}

/*
 * A key never widens a rule. An allow rule must permit every attribute the
 * query carries (a missing key: no match); keys for attributes the query
 * does not carry are ignored. A deny rule matches only queries that carry
 * each of its keys' attributes with a listed value; a missing key matches
 * any value.
 */
static bool what_match(const struct policy_rule *r, const struct qview *v) {
  for (int k = 0; k < PK_N; k++) {
    const struct pol_set *s = &r->key[k];
    bool carried = v->carried & BIT(k);

    if (r->allow) {
      if (carried && (!s->present || !set_match(s, k, v)))
        return false;
    } else if (s->present && (!carried || !set_match(s, k, v))) {
      return false;
    }
  }
  return true;
}

static bool id_in(const struct pol_who_set *w, uint32_t id) {
  for (size_t i = 0; i < w->n; i++)
    if (w->ids[i] == id)
      return true;
  return false;
}

static bool group_in(const struct pol_who_set *w,
                     const struct policy_subject *s) {
  if (id_in(w, s->gid))
    return true;
  for (size_t i = 0; i < s->n_groups; i++)
    if (id_in(w, s->groups[i]))
      return true;
  return false;
}

/* '*' matches any run of characters but '/', which separates a user
 * manager from its unit ("user@1000.service/app.service"). */
static bool glob_match(const char *pat, const char *s) {
  const char *star = NULL, *resume = NULL;

  while (*s) {
    if (*pat == '*') {
      star = pat++;
      resume = s;
    } else if (*pat == *s) {
      pat++;
      s++;
    } else if (star && *resume != '/') {
      pat = star + 1;
      s = ++resume;
    } else {
      return false;
    }
  }
  while (*pat == '*')
    pat++;
  return *pat == '\0';
}

/* An unknown unit is in every deny rule's units and no allow rule's. */
static bool unit_in(const struct policy_rule *r,
                    const struct policy_subject *s) {
  const struct pol_who_set *w = &r->who[PW_UNIT];

  if (s->unit_unknown)
    return !r->allow;
  if (!s->unit || !*s->unit)
    return false;
  for (size_t i = 0; i < w->n; i++)
    if (glob_match(w->names[i], s->unit))
      return true;
  return false;
}

bool pol_who_match(const struct policy_rule *r,
                   const struct policy_subject *s) {
  const struct pol_who_set *w = r->who;

  if (r->anyone)
    return true;
  if ((w[PW_UID].present && !id_in(&w[PW_UID], s->uid)) ||
      (w[PW_USER].present && !id_in(&w[PW_USER], s->uid)) ||
      (w[PW_GID].present && !group_in(&w[PW_GID], s)) ||
      (w[PW_GROUP].present && !group_in(&w[PW_GROUP], s)) ||
      (w[PW_UNIT].present && !unit_in(r, s)))
    return false;
  return true;
}

static void decide(struct policy_decision *ret, bool allow, int error,
                   const char *rule) {
  size_t n = strnlen(rule, sizeof(ret->rule) - 1);

  ret->allow = allow;
  ret->error = allow ? 0 : error;
  memcpy(ret->rule, rule, n);
  ret->rule[n] = '\0';
}

void policy_check(const struct policy *p, const struct policy_subject *who,
                  const struct policy_query *q, struct policy_decision *ret) {
  struct qview v;

  if (!p || !who || !q || query_view(q, &v) < 0) {
    decide(ret, false, EACCES, "invalid request");
    return;
  }
  for (size_t i = 0; i < p->n_rules; i++) {
    const struct policy_rule *r = &p->rules[i];

    if ((r->calls & v.bit) && pol_who_match(r, who) && what_match(r, &v)) {
      decide(ret, r->allow, r->error ? r->error : policy_default_errno(q),
             r->origin);
      return;
    }
  }
  decide(ret, false, policy_default_errno(q), "no rule matched");
}

/* --- writing ------------------------------------------------------------ */

static void dump_val(const struct pol_val *val, int k, FILE *out) {
  const struct sockopt *o;
  const char *name = NULL;

  switch (k) {
  case PK_FAMILY:
    name = pol_name_of(pol_family_names, (int)val->lo);
    break;
  case PK_TYPE:
    name = pol_name_of(pol_type_names, (int)val->lo);
    break;
  case PK_PROTO:
    if (val->ns == PNS_IP)
      name = pol_name_of(pol_ip_proto_names, (int)val->lo);
    else if (val->ns == PNS_NETLINK)
      name = pol_name_of(pol_netlink_proto_names, (int)val->lo);
    break;
  case PK_OPTION:
    o = pol_option_at(val->lo);
    name = o ? o->name : NULL;
    break;
  }
  if (name)
    fputs(name, out);
  else if (val->lo != val->hi)
    fprintf(out, "%u-%u", val->lo, val->hi);
  else
    fprintf(out, "%u", val->lo);
}

static void dump_cidr(const struct pol_cidr *c, FILE *out) {
  char buf[INET6_ADDRSTRLEN];

  inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->a, buf, sizeof(buf));
  fputs(buf, out);
  if (c->plen != (c->v6 ? 128 : 32))
    fprintf(out, "/%u", c->plen);
}

static void dump_addr(const struct pol_set *s, FILE *out) {
  const char *sep = "";

  if (s->any) {
    fputs("any", out);
    sep = ",";
  }
  for (size_t i = 0; i < s->n; i++, sep = ",") {
    fputs(sep, out);
    dump_cidr(&s->cidr[i], out);
  }
  for (size_t i = 0; i < s->n_abstract; i++, sep = ",") {
    fprintf(out, "%s@", sep);
    pol_write_abstract(&s->abstract[i], out);
  }
}

/*
 * With resolved, user= and group= names are written as the ids they
 * resolved to, so that the text parses without the name service. They
 * keep their own keys: a rule may carry both uid= and user= (each must
 * match), and gid= and group= may each be matched by a different group
 * of the client's, so folding one into the other would change the rule.
 */
static void dump_who(const struct policy_rule *r, bool resolved, FILE *out) {
  if (r->anyone) {
    fputs(" anyone", out);
    return;
  }
  for (int w = 0; w < PW_N; w++) {
    const struct pol_who_set *ws = &r->who[w];
    bool numeric = resolved && (w == PW_USER || w == PW_GROUP);

    if (!ws->present)
      continue;
    fprintf(out, " %s=", pol_who_names[w]);
    for (size_t i = 0; i < ws->n; i++) {
      if (i)
        fputc(',', out);
      if (numeric)
        fprintf(out, "%u", ws->ids[i]);
      else if (ws->names)
        fputs(ws->names[i], out);
      else
        fprintf(out, "%u", ws->ids[i]);
    }
  }
}

static void dump_calls(uint32_t calls, FILE *out) {
  bool first = true;

  if (calls == POL_ALL_CALLS) {
    fputs(" all", out);
    return;
  }
  for (int c = 0; c < POLICY_N_CALLS; c++) {
    if (!(calls & BIT(c)))
      continue;
    fputc(first ? ' ' : ',', out);
    fputs(policy_call_name((enum policy_call)c), out);
    first = false;
  }
}

static void dump_rule(const struct policy_rule *r, bool resolved, FILE *out) {
  const char *err = pol_name_of(pol_errno_names, r->error);

  fputs(r->allow ? "allow" : "deny", out);
  dump_who(r, resolved, out);
  dump_calls(r->calls, out);
  for (int k = 0; k < PK_N; k++) {
    const struct pol_set *s = &r->key[k];

    if (!s->present)
      continue;
    fprintf(out, " %s=", pol_key_names[k]);
    if (k == PK_ADDR)
      dump_addr(s, out);
    else if (s->any)
      fputs("any", out);
    for (size_t i = 0; k != PK_ADDR && !s->any && i < s->n; i++) {
      if (i)
        fputc(',', out);
      dump_val(&s->v[i], k, out);
    }
  }
  if (!r->allow && r->error && err)
    fprintf(out, " errno=%s", err);
  fputc('\n', out);
}

void policy_dump(const struct policy *p, FILE *out) {
  for (size_t i = 0; i < p->n_rules; i++)
    dump_rule(&p->rules[i], false, out);
}

void policy_dump_resolved(const struct policy *p, FILE *out) {
  unsigned line = 1;

  for (size_t i = 0; i < p->n_rules; i++) {
    /* Each rule on the line it came from: "FILE:LINE" stays true. */
    for (; line < p->rules[i].line; line++)
      fputc('\n', out);
    dump_rule(&p->rules[i], true, out);
    line++;
  }
}

/* --- comparing ---------------------------------------------------------- */

static bool who_equal(const struct pol_who_set *a,
                      const struct pol_who_set *b) {
  if (a->present != b->present || a->n != b->n || !a->names != !b->names ||
      !a->ids != !b->ids)
    return false;
  for (size_t i = 0; i < a->n; i++) {
    if (a->ids && a->ids[i] != b->ids[i])
      return false;
    if (a->names && strcmp(a->names[i], b->names[i]) != 0)
      return false;
  }
  return true;
}

static bool abstract_equal(const struct pol_abstract *a,
                           const struct pol_abstract *b) {
  return a->len == b->len &&
         (a->len == 0 || memcmp(a->pat, b->pat, a->len * sizeof(*a->pat)) == 0);
}

static bool set_equal(const struct pol_set *a, const struct pol_set *b, int k) {
  if (a->present != b->present || a->any != b->any || a->n != b->n ||
      a->n_abstract != b->n_abstract)
    return false;
  for (size_t i = 0; i < a->n; i++) {
    if (k != PK_ADDR && (a->v[i].lo != b->v[i].lo || a->v[i].hi != b->v[i].hi ||
                         a->v[i].ns != b->v[i].ns))
      return false;
    if (k == PK_ADDR && memcmp(&a->cidr[i], &b->cidr[i], sizeof(a->cidr[i])))
      return false;
  }
  for (size_t i = 0; i < a->n_abstract; i++)
    if (!abstract_equal(&a->abstract[i], &b->abstract[i]))
      return false;
  return true;
}

static bool rule_equal(const struct policy_rule *a,
                       const struct policy_rule *b) {
  if (a->allow != b->allow || a->error != b->error || a->anyone != b->anyone ||
      a->calls != b->calls)
    return false;
  for (int w = 0; w < PW_N; w++)
    if (!who_equal(&a->who[w], &b->who[w]))
      return false;
  for (int k = 0; k < PK_N; k++)
    if (!set_equal(&a->key[k], &b->key[k], k))
      return false;
  return true;
}

bool policy_equal(const struct policy *a, const struct policy *b) {
  if (a->n_rules != b->n_rules)
    return false;
  for (size_t i = 0; i < a->n_rules; i++)
    if (!rule_equal(&a->rules[i], &b->rules[i]))
      return false;
  return true;
}
