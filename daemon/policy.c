/* SPDX-License-Identifier: MIT */
/*
 * policy: deciding a request, writing a policy back out, the value name
 * tables with their parsers (shared by the file parser and psockctl, so a
 * name means the same everywhere) and the built-in default policy. The
 * file syntax is parsed in policy_parse.c.
 *
 * Trust boundary: policy_check() runs for every client request. The query
 * comes from the daemon (decoded and resolved, but its numbers are still
 * the client's choice), so every field is range-checked here and anything
 * policy cannot describe is denied. It allocates nothing and never fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

#define BIT(x) (1u << (x))

const struct pol_name pol_call_names[] = {
    {"socket", POLICY_SOCKET},
    {"bind", POLICY_BIND},
    {"connect", POLICY_CONNECT},
    {"sendto", POLICY_SENDTO},
    {"listen", POLICY_LISTEN},
    {"lookup", POLICY_LOOKUP},
    {"reverse", POLICY_REVERSE},
    {"setsockopt", POLICY_SETSOCKOPT},
    {NULL, 0},
};

const struct pol_name pol_family_names[] = {
    {"unix", AF_UNIX},
    {"inet", AF_INET},
    {"inet6", AF_INET6},
    {"netlink", AF_NETLINK},
    {"packet", AF_PACKET},
    {"tipc", AF_TIPC},
    {NULL, 0},
};

const struct pol_name pol_type_names[] = {
    {"stream", SOCK_STREAM}, {"dgram", SOCK_DGRAM},         {"raw", SOCK_RAW},
    {"rdm", SOCK_RDM},       {"seqpacket", SOCK_SEQPACKET}, {NULL, 0},
};

const struct pol_name pol_ip_proto_names[] = {
    {"tcp", IPPROTO_TCP},   {"udp", IPPROTO_UDP},
    {"icmp", IPPROTO_ICMP}, {"icmpv6", IPPROTO_ICMPV6},
    {"sctp", IPPROTO_SCTP}, {"udplite", IPPROTO_UDPLITE},
    {"raw", IPPROTO_RAW},   {NULL, 0},
};

const struct pol_name pol_netlink_proto_names[] = {
    {"route", 0 /* NETLINK_ROUTE */},
    {NULL, 0},
};

/* The socket options that need privilege and so come to the daemon. */
const struct pol_option pol_options[] = {
    {"SO_MARK", SOL_SOCKET, SO_MARK},
    {"SO_BINDTODEVICE", SOL_SOCKET, SO_BINDTODEVICE},
    {"SO_PRIORITY", SOL_SOCKET, SO_PRIORITY},
    {"SO_RCVBUFFORCE", SOL_SOCKET, SO_RCVBUFFORCE},
    {"SO_SNDBUFFORCE", SOL_SOCKET, SO_SNDBUFFORCE},
    {"SO_DEBUG", SOL_SOCKET, SO_DEBUG},
    {"IP_TRANSPARENT", IPPROTO_IP, IP_TRANSPARENT},
    {"IPV6_TRANSPARENT", IPPROTO_IPV6, IPV6_TRANSPARENT},
    {NULL, 0, 0},
};

const char *const pol_key_names[PK_N] = {
    [PK_FAMILY] = "family", [PK_TYPE] = "type", [PK_PROTO] = "proto",
    [PK_ADDR] = "addr",     [PK_PORT] = "port", [PK_OPTION] = "option",
};

const char *const pol_who_names[PW_N] = {
    [PW_UID] = "uid",     [PW_USER] = "user", [PW_GID] = "gid",
    [PW_GROUP] = "group", [PW_UNIT] = "unit",
};

const uint32_t pol_key_calls[PK_N] = {
    [PK_FAMILY] = POL_ALL_CALLS & ~(BIT(POLICY_LOOKUP) | BIT(POLICY_REVERSE)),
    [PK_TYPE] = BIT(POLICY_SOCKET),
    [PK_PROTO] = BIT(POLICY_SOCKET),
    [PK_ADDR] = BIT(POLICY_BIND) | BIT(POLICY_CONNECT) | BIT(POLICY_SENDTO),
    [PK_PORT] = BIT(POLICY_BIND) | BIT(POLICY_CONNECT) | BIT(POLICY_SENDTO),
    [PK_OPTION] = BIT(POLICY_SETSOCKOPT),
};

/*
 * The built-in default policy, one rule per line and nothing else, so that
 * "default policy:N" is both line N and rule N (psockd.policy(5) explains
 * each rule). Rules: root; TCP and UDP; ICMP echo; NETLINK_ROUTE; AF_UNIX;
 * connect/sendto anywhere; bind to unprivileged ports; listen; lookups.
 */
const char pol_default_text[] =
    "allow uid=0 all family=any type=any proto=any addr=any port=any "
    "option=any\n"
    "allow anyone socket family=inet,inet6 type=stream proto=0,tcp\n"
    "allow anyone socket family=inet,inet6 type=dgram proto=0,udp\n"
    "allow anyone socket family=inet type=dgram,raw proto=icmp\n"
    "allow anyone socket family=inet6 type=dgram,raw proto=icmpv6\n"
    "allow anyone socket family=netlink type=raw,dgram proto=route\n"
    "allow anyone socket family=unix type=any proto=any\n"
    "allow anyone connect,sendto family=inet,inet6,unix,netlink addr=any "
    "port=any\n"
    "allow anyone bind family=inet,inet6,unix,netlink addr=any "
    "port=0,1024-65535\n"
    "allow anyone listen family=inet,inet6,unix\n"
    "allow anyone lookup,reverse\n";

int pol_name_find(const struct pol_name *tab, const char *name, size_t len) {
  for (; tab->name; tab++)
    if (strlen(tab->name) == len && memcmp(tab->name, name, len) == 0)
      return tab->value;
  return -1;
}

const char *pol_name_of(const struct pol_name *tab, int value) {
  for (; tab->name; tab++)
    if (tab->value == value)
      return tab->name;
  return NULL;
}

int pol_option_find(const char *name, size_t len) {
  for (int i = 0; pol_options[i].name; i++)
    if (strlen(pol_options[i].name) == len &&
        memcmp(pol_options[i].name, name, len) == 0)
      return i;
  return -1;
}

/* --- value names, shared by the parser and psockctl --------------------- */

int pol_parse_u32(const char *s, size_t len, uint32_t max, uint32_t *ret) {
  uint64_t v = 0;

  if (len == 0)
    return -EINVAL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -EINVAL;
    v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > max)
      return -ERANGE;
  }
  *ret = (uint32_t)v;
  return 0;
}

int pol_parse_named(const struct pol_name *tab, const char *s, size_t len,
                    uint32_t max, uint32_t *ret) {
  int v = pol_name_find(tab, s, len);

  if (v >= 0) {
    *ret = (uint32_t)v;
    return 0;
  }
  return pol_parse_u32(s, len, max, ret);
}

int pol_parse_proto(const char *s, size_t len, uint32_t *ret_value,
                    enum pol_ns *ret_ns) {
  int v = pol_name_find(pol_ip_proto_names, s, len);
  enum pol_ns ns = PNS_IP;
  uint32_t n;
  int r;

  if (v < 0) {
    v = pol_name_find(pol_netlink_proto_names, s, len);
    ns = PNS_NETLINK;
  }
  if (v >= 0) {
    *ret_value = (uint32_t)v;
    *ret_ns = ns;
    return 0;
  }
  r = pol_parse_u32(s, len, POL_PROTO_MAX, &n);
  if (r < 0)
    return r;
  *ret_value = n;
  *ret_ns = PNS_NUM;
  return 0;
}

int policy_call_from_name(const char *name) {
  int v = pol_name_find(pol_call_names, name, strlen(name));

  return v < 0 ? -EINVAL : v;
}

int policy_family_from_name(const char *name) {
  uint32_t v;

  if (pol_parse_named(pol_family_names, name, strlen(name), POL_FAMILY_MAX,
                      &v) < 0)
    return -EINVAL;
  return (int)v;
}

int policy_type_from_name(const char *name) {
  uint32_t v;

  if (pol_parse_named(pol_type_names, name, strlen(name), POL_TYPE_MAX, &v) < 0)
    return -EINVAL;
  return (int)v;
}

int policy_proto_from_name(const char *name, int family) {
  enum pol_ns ns;
  uint32_t v;

  if (pol_parse_proto(name, strlen(name), &v, &ns) < 0)
    return -EINVAL;
  if ((ns == PNS_IP && family != AF_INET && family != AF_INET6) ||
      (ns == PNS_NETLINK && family != AF_NETLINK))
    return -EINVAL;
  return (int)v;
}

int policy_option_from_name(const char *name, int *ret_level,
                            int *ret_optname) {
  int i = pol_option_find(name, strlen(name));

  if (i < 0)
    return -EINVAL;
  *ret_level = pol_options[i].level;
  *ret_optname = pol_options[i].optname;
  return 0;
}

void pol_format_origin(char *out, size_t outlen, const char *source,
                       unsigned line) {
  char num[16];
  int nlen = snprintf(num, sizeof(num), ":%u", line);
  size_t slen = strlen(source), room = outlen - 1 - (size_t)nlen;

  /* The end of a path names the file; keep it and the line. */
  if (slen > room) {
    snprintf(out, outlen, "...%s%s", source + slen - (room - 3), num);
    return;
  }
  snprintf(out, outlen, "%s%s", source, num);
}

const char *policy_call_name(enum policy_call call) {
  const char *name = pol_name_of(pol_call_names, (int)call);

  return name ? name : "unknown";
}

const char *policy_source(const struct policy *p) {
  return p->source;
}

size_t policy_n_rules(const struct policy *p) {
  return p->n_rules;
}

int policy_load_default(struct policy **ret) {
  return policy_load_string("default policy", pol_default_text,
                            sizeof(pol_default_text) - 1, NULL, NULL, ret);
}

/* --- deciding ----------------------------------------------------------- */

/* A query reduced to what rules compare. */
struct qview {
  uint32_t bit;     /* BIT(call) */
  uint32_t carried; /* BIT(enum pol_key) of the attributes the query has */
  uint32_t v[PK_N]; /* family, type, proto, -, port, option index */
  bool has4, has6;  /* a v4-mapped IPv6 address has both */
  uint8_t a4[4], a6[16];
};

static int view_addr(const struct policy_query *q, struct qview *v) {
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
  if (v->carried & BIT(PK_ADDR)) {
    /* Only inet addresses are described by addr= and port=. */
    if (q->family != AF_INET && q->family != AF_INET6)
      v->carried &= ~(BIT(PK_ADDR) | BIT(PK_PORT));
    else if (view_addr(q, v) < 0)
      return -EINVAL;
  }
  if (v->carried & BIT(PK_OPTION)) {
    v->v[PK_OPTION] = UINT32_MAX; /* not in the table: only "any" */
    for (uint32_t i = 0; pol_options[i].name; i++)
      if (pol_options[i].level == q->level &&
          pol_options[i].optname == q->optname)
        v->v[PK_OPTION] = i;
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

static bool addr_match(const struct pol_set *s, const struct qview *v) {
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
  if (s->any)
    return true;
  if (k == PK_ADDR)
    return addr_match(s, v);
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

static bool unit_in(const struct pol_who_set *w, const char *unit) {
  if (!unit || !*unit)
    return false;
  for (size_t i = 0; i < w->n; i++)
    if (glob_match(w->names[i], unit))
      return true;
  return false;
}

static bool who_match(const struct policy_rule *r,
                      const struct policy_subject *s) {
  const struct pol_who_set *w = r->who;

  if (r->anyone)
    return true;
  if ((w[PW_UID].present && !id_in(&w[PW_UID], s->uid)) ||
      (w[PW_USER].present && !id_in(&w[PW_USER], s->uid)) ||
      (w[PW_GID].present && !group_in(&w[PW_GID], s)) ||
      (w[PW_GROUP].present && !group_in(&w[PW_GROUP], s)) ||
      (w[PW_UNIT].present && !unit_in(&w[PW_UNIT], s->unit)))
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

    if ((r->calls & v.bit) && who_match(r, who) && what_match(r, &v)) {
      decide(ret, r->allow, r->error, r->origin);
      return;
    }
  }
  decide(ret, false, EACCES, "no rule matched");
}

/* --- writing ------------------------------------------------------------ */

static void dump_val(const struct pol_val *val, int k, FILE *out) {
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
    name = pol_options[val->lo].name;
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

/* With resolved, user= and group= are written as the uid= and gid= they
 * resolved to, so that the text parses without the name service. */
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
    fprintf(out, " %s=",
            numeric ? pol_who_names[w == PW_USER ? PW_UID : PW_GID]
                    : pol_who_names[w]);
    for (size_t i = 0; i < ws->n; i++) {
      if (i)
        fputc(',', out);
      if (ws->names && !numeric)
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
  fputs(r->allow ? "allow" : "deny", out);
  dump_who(r, resolved, out);
  dump_calls(r->calls, out);
  for (int k = 0; k < PK_N; k++) {
    const struct pol_set *s = &r->key[k];

    if (!s->present)
      continue;
    fprintf(out, " %s=", pol_key_names[k]);
    if (s->any)
      fputs("any", out);
    for (size_t i = 0; !s->any && i < s->n; i++) {
      if (i)
        fputc(',', out);
      if (k == PK_ADDR)
        dump_cidr(&s->cidr[i], out);
      else
        dump_val(&s->v[i], k, out);
    }
  }
  if (!r->allow && r->error == EPERM)
    fputs(" errno=EPERM", out);
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

/* --- comparing and freeing ---------------------------------------------- */

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

static bool set_equal(const struct pol_set *a, const struct pol_set *b) {
  if (a->present != b->present || a->any != b->any || a->n != b->n ||
      !a->v != !b->v || !a->cidr != !b->cidr)
    return false;
  for (size_t i = 0; i < a->n; i++) {
    if (a->v && (a->v[i].lo != b->v[i].lo || a->v[i].hi != b->v[i].hi ||
                 a->v[i].ns != b->v[i].ns))
      return false;
    if (a->cidr && memcmp(&a->cidr[i], &b->cidr[i], sizeof(a->cidr[i])))
      return false;
  }
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
    if (!set_equal(&a->key[k], &b->key[k]))
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

void pol_rule_clear(struct policy_rule *r) {
  for (int w = 0; w < PW_N; w++) {
    struct pol_who_set *ws = &r->who[w];

    for (size_t i = 0; ws->names && i < ws->n; i++)
      free(ws->names[i]);
    free(ws->names);
    free(ws->ids);
  }
  for (int k = 0; k < PK_N; k++) {
    free(r->key[k].v);
    free(r->key[k].cidr);
  }
  memset(r, 0, sizeof(*r));
}

void policy_free(struct policy *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->n_rules; i++)
    pol_rule_clear(&p->rules[i]);
  free(p->rules);
  free(p->source);
  free(p);
}
