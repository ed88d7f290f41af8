/* SPDX-License-Identifier: MIT */
/*
 * policy_scope: what a policy leaves open to one subject as a whole,
 * rather than for one request: which calls it allows for every request of
 * their family (the policy page's free calls, and sendto_restricted of the
 * handshake), and which socket kinds it allows outright (the page's batch
 * kinds). See policy.h and proto/policy_page.h.
 *
 * One analysis answers "does the policy allow who every request of call C
 * in family F": the rules are walked as policy_check() walks them, over
 * the set of all such requests instead of one. A deny rule that may match
 * one of them answers no; an allow rule that matches all of them answers
 * yes; an allow rule that matches some is passed over, since what it
 * matches is allowed and the rest falls through to later rules. A yes is
 * never wrong: a client that is told a call is free makes it without
 * asking. A no may be conservative (it only costs a round trip).
 *
 * Trust boundary: none of its own. The policy is the administrator's, the
 * subject the kernel's; nothing here comes from a client's request.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "policy_internal.h"
#include "policy_page.h"

/* Ports below this need CAP_NET_BIND_SERVICE by default (the kernel's
 * net.ipv4.ip_unprivileged_port_start); a client binds 0 and these itself. */
#define SCOPE_UNPRIV_PORT_START (POL_PRIV_PORT_END + 1)

#define PORT_WORDS ((POL_PORT_MAX + 1) / 64)

/* The requests of one call in one family, as rules see them. */
struct scope_domain {
  uint32_t bit;     /* BIT(call) */
  uint32_t family;  /* the socket's family */
  uint32_t carried; /* BIT(enum pol_key) of the attributes they carry */
  size_t n_ports;
  struct {
    uint32_t lo, hi;
  } ports[2]; /* the ports they name, if they carry a port */
};

static bool make_domain(enum policy_call call, int family,
                        struct scope_domain *d) {
  if (call != POLICY_BIND && call != POLICY_CONNECT && call != POLICY_SENDTO &&
      call != POLICY_LISTEN)
    return false;
  if (family != AF_INET && family != AF_INET6 && family != AF_NETLINK)
    return false;
  memset(d, 0, sizeof(*d));
  d->bit = BIT(call);
  d->family = (uint32_t)family;
  for (int k = 0; k < PK_N; k++)
    if (pol_key_calls[k] & d->bit)
      d->carried |= BIT(k);
  /* Only inet and inet6 requests carry an address (policy_check.c's
   * view_addr(); an AF_UNIX one is not analysed here). */
  if (family == AF_NETLINK)
    d->carried &= ~(BIT(PK_ADDR) | BIT(PK_PORT));
  /* Port 0 and every other, or for bind 0 and the unprivileged ones. */
  d->ports[0].hi = call == POLICY_BIND ? 0 : POL_PORT_MAX;
  d->n_ports = 1;
  if (call == POLICY_BIND) {
    d->ports[1].lo = SCOPE_UNPRIV_PORT_START;
    d->ports[1].hi = POL_PORT_MAX;
    d->n_ports = 2;
  }
  return true;
}

/* Does the family key of a rule name family (absent or any: every one)? */
static bool family_in(const struct pol_set *s, uint32_t family) {
  if (!s->present || s->any)
    return true;
  for (size_t i = 0; i < s->n; i++)
    if (family >= s->v[i].lo && family <= s->v[i].hi)
      return true;
  return false;
}

/* Does some value of a port key fall in the domain's ports? */
static bool ports_meet(const struct pol_set *s, const struct scope_domain *d) {
  if (s->any)
    return true;
  for (size_t i = 0; i < s->n; i++)
    for (size_t j = 0; j < d->n_ports; j++)
      if (s->v[i].lo <= d->ports[j].hi && s->v[i].hi >= d->ports[j].lo)
        return true;
  return false;
}

static void mark_ports(uint64_t *bits, uint32_t lo, uint32_t hi) {
  if (hi > POL_PORT_MAX)
    hi = POL_PORT_MAX;
  for (uint32_t p = lo; p <= hi;) {
    if (p % 64 == 0 && hi - p >= 63) {
      bits[p / 64] = UINT64_MAX;
      p += 64;
    } else {
      bits[p / 64] |= 1ull << (p % 64);
      p++;
    }
  }
}

/* Do the values of a port key cover every port of the domain? A bitmap:
 * one pass over the values whatever their number and order. */
static bool ports_cover(const struct pol_set *s, const struct scope_domain *d) {
  uint64_t bits[PORT_WORDS];

  if (s->any)
    return true;
  memset(bits, 0, sizeof(bits));
  for (size_t i = 0; i < s->n; i++)
    mark_ports(bits, s->v[i].lo, s->v[i].hi);
  for (size_t j = 0; j < d->n_ports; j++)
    for (uint32_t p = d->ports[j].lo; p <= d->ports[j].hi; p++)
      if (!(bits[p / 64] & (1ull << (p % 64))))
        return false;
  return true;
}

/* Does an addr= key name every IPv4 and IPv6 address? */
static bool addrs_cover(const struct pol_set *s) {
  bool v4 = false, v6 = false;

  if (s->any)
    return true;
  for (size_t i = 0; i < s->n; i++) {
    if (s->cidr[i].plen != 0)
      continue;
    if (s->cidr[i].v6)
      v6 = true;
    else
      v4 = true;
  }
  return v4 && v6;
}

/*
 * May deny rule r match some request of the domain? Each key it has must
 * be one the requests carry (policy_check(): a deny rule matches only
 * requests that carry each of its keys) with a value they may hold.
 * Unsure is yes.
 */
static bool deny_may_match(const struct policy_rule *r,
                           const struct scope_domain *d) {
  for (int k = 0; k < PK_N; k++) {
    const struct pol_set *s = &r->key[k];

    if (!s->present)
      continue;
    if (!(d->carried & BIT(k)))
      return false;
    if (k == PK_FAMILY && !family_in(s, d->family))
      return false;
    /* Only abstract names: no inet address is one of them. */
    if (k == PK_ADDR && !s->any && s->n == 0)
      return false;
    if (k == PK_PORT && !ports_meet(s, d))
      return false;
  }
  return true;
}

/* Does allow rule r match every request of the domain? Every attribute
 * the requests carry must have a key naming all its values (a missing key
 * matches no request); keys of attributes they do not carry are ignored. */
static bool allow_covers(const struct policy_rule *r,
                         const struct scope_domain *d) {
  for (int k = 0; k < PK_N; k++) {
    const struct pol_set *s = &r->key[k];

    if (!(d->carried & BIT(k)))
      continue;
    if (!s->present)
      return false;
    if (k == PK_FAMILY ? !family_in(s, d->family)
        : k == PK_ADDR ? !addrs_cover(s)
        : k == PK_PORT ? !ports_cover(s, d)
                       : !s->any)
      return false;
  }
  return true;
}

bool policy_allows_every(const struct policy *p,
                         const struct policy_subject *who,
                         enum policy_call call, int family) {
  struct scope_domain d;

  if (!p || !who || !make_domain(call, family, &d))
    return false;
  for (size_t i = 0; i < p->n_rules; i++) {
    const struct policy_rule *r = &p->rules[i];

    if (!(r->calls & d.bit) || !pol_who_match(r, who))
      continue;
    if (!r->allow && deny_may_match(r, &d))
      return false;
    if (r->allow && allow_covers(r, &d))
      return true;
  }
  return false; /* the default denial */
}

/* ------------------------------------------------------------ batches */

static const struct {
  uint32_t kind;
  int family, type, proto;
} batch_kinds[] = {
    {PSOCK_BATCH_TCP4, AF_INET, SOCK_STREAM, IPPROTO_TCP},
    {PSOCK_BATCH_UDP4, AF_INET, SOCK_DGRAM, IPPROTO_UDP},
    {PSOCK_BATCH_TCP6, AF_INET6, SOCK_STREAM, IPPROTO_TCP},
    {PSOCK_BATCH_UDP6, AF_INET6, SOCK_DGRAM, IPPROTO_UDP},
};

#define N_BATCH_KINDS (sizeof(batch_kinds) / sizeof(batch_kinds[0]))

uint32_t policy_batch_kind(int family, int type, int proto) {
  for (size_t i = 0; i < N_BATCH_KINDS; i++)
    if (batch_kinds[i].family == family && batch_kinds[i].type == type &&
        (proto == 0 || proto == batch_kinds[i].proto))
      return batch_kinds[i].kind;
  return 0;
}

bool policy_allows_batch(const struct policy *p,
                         const struct policy_subject *who, uint32_t kind) {
  for (size_t i = 0; i < N_BATCH_KINDS; i++) {
    struct policy_query q = {.call = POLICY_SOCKET,
                             .family = batch_kinds[i].family,
                             .type = batch_kinds[i].type};
    struct policy_decision d0, d1;

    if (batch_kinds[i].kind != kind)
      continue;
    /* TCP and UDP sockets need no privilege: the policy alone decides. */
    policy_check(p, who, &q, &d0);
    q.proto = batch_kinds[i].proto;
    policy_check(p, who, &q, &d1);
    return d0.allow && d1.allow;
  }
  return false;
}

/* --------------------------------------------------------------- scope */

const struct policy_free_call policy_free_calls[POLICY_N_FREE_CALLS] = {
    {PSOCK_FREE_CONNECT_INET, POLICY_CONNECT, AF_INET},
    {PSOCK_FREE_CONNECT_INET6, POLICY_CONNECT, AF_INET6},
    {PSOCK_FREE_SENDTO_INET, POLICY_SENDTO, AF_INET},
    {PSOCK_FREE_SENDTO_INET6, POLICY_SENDTO, AF_INET6},
    {PSOCK_FREE_BIND_INET, POLICY_BIND, AF_INET},
    {PSOCK_FREE_BIND_INET6, POLICY_BIND, AF_INET6},
    {PSOCK_FREE_LISTEN_INET, POLICY_LISTEN, AF_INET},
    {PSOCK_FREE_LISTEN_INET6, POLICY_LISTEN, AF_INET6},
};

void policy_scope_of(const struct policy *p, const struct policy_subject *who,
                     struct policy_scope *ret) {
  const struct policy_free_call *c = policy_free_calls;

  *ret = (struct policy_scope){0};
  if (!p || !who)
    return;
  for (size_t i = 0; i < POLICY_N_FREE_CALLS; i++)
    if (policy_allows_every(p, who, c[i].call, c[i].family))
      ret->free |= c[i].bit;
  for (size_t i = 0; i < N_BATCH_KINDS; i++)
    if (policy_allows_batch(p, who, batch_kinds[i].kind))
      ret->batch |= batch_kinds[i].kind;
}

/* ------------------------------------------------- sendto_restricted */

/* May some rule give who a socket of family? (Any type and protocol: a
 * yes may be wider than the truth, never narrower.) */
static bool socket_possible(const struct policy *p,
                            const struct policy_subject *who, uint32_t family) {
  for (size_t i = 0; i < p->n_rules; i++) {
    const struct policy_rule *r = &p->rules[i];

    if (r->allow && (r->calls & BIT(POLICY_SOCKET)) && pol_who_match(r, who) &&
        family_in(&r->key[PK_FAMILY], family))
      return true;
  }
  return false;
}

bool policy_sendto_restricted(const struct policy *p,
                              const struct policy_subject *who) {
  static const int families[] = {AF_INET, AF_INET6, AF_NETLINK};

  if (!p || !who)
    return true;
  for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
    /* No socket of the family, no destination to refuse. */
    if (socket_possible(p, who, (uint32_t)families[f]) &&
        !policy_allows_every(p, who, POLICY_SENDTO, families[f]))
      return true;
  }
  return false;
}
