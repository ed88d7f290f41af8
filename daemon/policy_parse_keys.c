/* SPDX-License-Identifier: MIT */
/*
 * policy_parse_keys: the lower half of the policy parser: error reports,
 * comma lists and the values of the KEY=VALUE fields (family, type, proto,
 * addr with IP networks and abstract unix names, port, option), each
 * checked and turned into the in-memory form. policy_parse.c calls it.
 *
 * Trust boundary: as policy_parse.c: the text is untrusted bytes with
 * explicit lengths.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy_parse_keys.h"

__attribute__((format(printf, 4, 5))) void
pol_perr(struct parser *ps, unsigned line, unsigned col, const char *fmt, ...) {
  va_list ap;

  ps->nerrors++;
  if (!ps->errs)
    return;
  fprintf(ps->errs, "%s:%u:%u: ", ps->name, line, col);
  va_start(ap, fmt);
  vfprintf(ps->errs, fmt, ap);
  va_end(ap);
  fputc('\n', ps->errs);
}

int pol_quote_len(size_t len) {
  return (int)(len < QUOTE_MAX ? len : QUOTE_MAX);
}

bool pol_mem_is(const char *s, size_t len, const char *word) {
  return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* --- lists -------------------------------------------------------------- */

/* Length of the list element starting at t->s + off. */
size_t pol_elem_len(const struct tok *t, size_t off) {
  const char *comma = memchr(t->s + off, ',', t->len - off);

  return comma ? (size_t)(comma - (t->s + off)) : t->len - off;
}

size_t pol_count_elems(const char *s, size_t len) {
  size_t n = 1;

  for (size_t i = 0; i < len; i++)
    n += s[i] == ',';
  return n;
}

/* Call fn for each element of the comma list at t+off; returns how many
 * were parsed into slots 0..n-1 (errors are reported, slots not used). */
size_t pol_parse_list(struct rule_ctx *c, int k, const struct tok *t,
                      size_t off, elem_fn fn, bool what) {
  size_t n = 0, nelems = pol_count_elems(t->s + off, t->len - off);

  for (size_t i = off; i <= t->len;) {
    const char *comma = memchr(t->s + i, ',', t->len - i);
    size_t end = comma ? (size_t)(comma - t->s) : t->len;

    if (end == i)
      terr(c, t, i, "empty value in list");
    else if (what && nelems > 1 && pol_mem_is(t->s + i, end - i, "any"))
      terr(c, t, i, "'any' cannot be combined with other values");
    else if (fn(c, k, t, i, end - i, n) == 0)
      n++;
    i = end + 1;
  }
  return n;
}

/* --- what --------------------------------------------------------------- */

const char *pol_names_list(const struct pol_name *tab, char *buf, size_t size) {
  size_t used = 0;

  buf[0] = '\0';
  for (; tab->name; tab++) {
    int n = snprintf(buf + used, size - used, "%s, ", tab->name);

    if (n < 0 || (size_t)n >= size - used)
      break;
    used += (size_t)n;
  }
  return buf;
}

static int parse_simple(struct rule_ctx *c, int k, const struct tok *t,
                        size_t off, size_t len, struct pol_val *ret) {
  const struct pol_name *tab =
      k == PK_FAMILY ? pol_family_names : pol_type_names;
  uint32_t max = k == PK_FAMILY ? POL_FAMILY_MAX : POL_TYPE_MAX, v;
  int r = pol_parse_named(tab, t->s + off, len, max, &v);
  char names[128];

  if (r == 0) {
    *ret = (struct pol_val){v, v, PNS_NUM};
    return 0;
  }
  if (r == -ERANGE)
    terr(c, t, off, "%s %.*s out of range (0-%u)", pol_key_names[k],
         pol_quote_len(len), t->s + off, max);
  else
    terr(c, t, off, "unknown %s '%.*s' (expected %sa number, or any)",
         pol_key_names[k], pol_quote_len(len), t->s + off, NAMES(tab, names));
  return -1;
}

static int parse_proto_elem(struct rule_ctx *c, const struct tok *t, size_t off,
                            size_t len, struct pol_val *ret) {
  enum pol_ns ns;
  uint32_t v;
  int r = pol_parse_proto(t->s + off, len, &v, &ns);
  char ip[128], nl[128];

  if (r == 0) {
    *ret = (struct pol_val){v, v, (uint8_t)ns};
    if (ns == PNS_IP && !c->ip_off)
      c->ip_off = off;
    if (ns == PNS_NETLINK && !c->nl_off)
      c->nl_off = off;
    return 0;
  }
  if (r == -ERANGE)
    terr(c, t, off, "proto %.*s out of range (0-%u)", pol_quote_len(len),
         t->s + off, POL_PROTO_MAX);
  else
    terr(c, t, off, "unknown proto '%.*s' (expected 0, %s%sa number, or any)",
         pol_quote_len(len), t->s + off, NAMES(pol_ip_proto_names, ip),
         NAMES(pol_netlink_proto_names, nl));
  return -1;
}

/* "A, B, " of the options that may need privilege: the ones psockd asks
 * the policy about. */
static const char *option_names(char *buf, size_t size) {
  size_t used = 0;

  buf[0] = '\0';
  for (uint32_t i = 0; pol_option_at(i); i++) {
    const struct sockopt *o = pol_option_at(i);
    int n;

    if (o->rule == SOCKOPT_FREE)
      continue;
    n = snprintf(buf + used, size - used, "%s, ", o->name);
    if (n < 0 || (size_t)n >= size - used)
      break;
    used += (size_t)n;
  }
  return buf;
}

static int parse_option_elem(struct rule_ctx *c, const struct tok *t,
                             size_t off, size_t len, struct pol_val *ret) {
  int i = pol_option_find(t->s + off, len);
  char names[512];

  if (i >= 0) {
    *ret = (struct pol_val){(uint32_t)i, (uint32_t)i, PNS_NUM};
    return 0;
  }
  terr(c, t, off, "unknown option '%.*s' (expected %sor any)",
       pol_quote_len(len), t->s + off, option_names(names, sizeof(names)));
  return -1;
}

static int parse_port_num(struct rule_ctx *c, const struct tok *t, size_t off,
                          size_t len, uint32_t *ret) {
  int r = pol_parse_u32(t->s + off, len, POL_PORT_MAX, ret);

  if (r == -ERANGE)
    terr(c, t, off, "port %.*s is larger than %u", pol_quote_len(len),
         t->s + off, POL_PORT_MAX);
  else if (r < 0)
    terr(c, t, off, "bad port '%.*s' (expected N, N-M or any)",
         pol_quote_len(len), t->s + off);
  return r;
}

static int parse_port(struct rule_ctx *c, const struct tok *t, size_t off,
                      size_t len, struct pol_val *ret) {
  const char *dash = memchr(t->s + off, '-', len);
  size_t lolen = dash ? (size_t)(dash - (t->s + off)) : len;
  uint32_t lo, hi;

  if (parse_port_num(c, t, off, lolen, &lo) < 0)
    return -1;
  hi = lo;
  if (dash && parse_port_num(c, t, off + lolen + 1, len - lolen - 1, &hi) < 0)
    return -1;
  if (hi < lo) {
    terr(c, t, off, "reversed port range %u-%u", lo, hi);
    return -1;
  }
  *ret = (struct pol_val){lo, hi, PNS_NUM};
  return 0;
}

static bool host_bits_zero(const struct pol_cidr *cidr) {
  unsigned bytes = cidr->v6 ? 16 : 4;

  for (unsigned bit = cidr->plen; bit < bytes * 8; bit++)
    if (cidr->a[bit / 8] & (0x80 >> (bit % 8)))
      return false;
  return true;
}

static int parse_cidr(struct rule_ctx *c, const struct tok *t, size_t off,
                      size_t len, struct pol_cidr *ret) {
  const char *s = t->s + off, *slash = memchr(s, '/', len);
  size_t alen = slash ? (size_t)(slash - s) : len;
  char buf[INET6_ADDRSTRLEN];
  uint32_t plen;

  memset(ret, 0, sizeof(*ret));
  if (alen < sizeof(buf)) {
    memcpy(buf, s, alen);
    buf[alen] = '\0';
  }
  if (alen < sizeof(buf) && inet_pton(AF_INET, buf, ret->a) == 1)
    ret->v6 = false;
  else if (alen < sizeof(buf) && inet_pton(AF_INET6, buf, ret->a) == 1)
    ret->v6 = true;
  else {
    terr(c, t, off, "bad address '%.*s' (expected an IPv4 or IPv6 address)",
         pol_quote_len(alen), s);
    return -1;
  }
  plen = ret->v6 ? 128 : 32;
  if (slash && pol_parse_u32(slash + 1, len - alen - 1, plen, &plen) < 0) {
    terr(c, t, off + alen + 1, "bad prefix length '%.*s' (expected 0-%u)",
         pol_quote_len(len - alen - 1), slash + 1, ret->v6 ? 128 : 32);
    return -1;
  }
  ret->plen = (uint8_t)plen;
  if (!host_bits_zero(ret)) {
    terr(c, t, off, "'%.*s' has bits set after the /%u prefix",
         pol_quote_len(len), s, plen);
    return -1;
  }
  return 0;
}

static int parse_abstract(struct rule_ctx *c, const struct tok *t, size_t off,
                          size_t len, struct pol_abstract *ret) {
  uint16_t el[POL_PATTERN_MAX];
  size_t bad = 0, bytes = 0;
  int n = pol_decode_abstract(t->s + off + 1, len - 1, true, el,
                              POL_PATTERN_MAX, &bad);

  if (n == -EINVAL) {
    terr(c, t, off + 1 + bad,
         "bad escape in abstract name '%.*s' (expected \\\\, \\*, \\? or "
         "\\xHH)",
         pol_quote_len(len), t->s + off);
    return -1;
  }
  for (int i = 0; i < n; i++)
    bytes += el[i] != POL_GLOB_STAR;
  if (n < 0 || bytes > POLICY_ABSTRACT_MAX) {
    terr(c, t, off,
         "abstract name '%.*s' is too long (a name has at most %d bytes)",
         pol_quote_len(len), t->s + off, POLICY_ABSTRACT_MAX);
    return -1;
  }
  ret->pat = malloc(((size_t)n ? (size_t)n : 1) * sizeof(*ret->pat));
  if (!ret->pat) {
    c->ps->oom = true;
    return -1;
  }
  memcpy(ret->pat, el, (size_t)n * sizeof(*ret->pat));
  ret->len = (size_t)n;
  if (!c->abs_off)
    c->abs_off = off;
  return 0;
}

/*
 * addr=: IP networks, "any" (every IP address) and @ patterns (abstract
 * unix names). "any" combines with @ patterns only: an abstract name is
 * matched by an @ pattern and never by "any".
 */
static void parse_addr_set(struct rule_ctx *c, const struct tok *t,
                           size_t off) {
  struct pol_set *s = &c->r.key[PK_ADDR];
  size_t n = pol_count_elems(t->s + off, t->len - off);
  bool has_ip = false;

  for (size_t i = off; i <= t->len; i += pol_elem_len(t, i) + 1)
    has_ip |= pol_elem_len(t, i) > 0 && t->s[i] != '@' &&
              !pol_mem_is(t->s + i, pol_elem_len(t, i), "any");
  s->cidr = calloc(n, sizeof(*s->cidr));
  s->abstract = calloc(n, sizeof(*s->abstract));
  if (!s->cidr || !s->abstract) {
    c->ps->oom = true;
    return;
  }
  for (size_t i = off; i <= t->len; i += pol_elem_len(t, i) + 1) {
    size_t len = pol_elem_len(t, i);

    if (len == 0) {
      terr(c, t, i, "empty value in list");
    } else if (pol_mem_is(t->s + i, len, "any")) {
      if (has_ip || s->any)
        terr(c, t, i, "'any' cannot be combined with other IP addresses");
      s->any = true;
    } else if (t->s[i] == '@') {
      if (parse_abstract(c, t, i, len, &s->abstract[s->n_abstract]) == 0)
        s->n_abstract++;
    } else if (parse_cidr(c, t, i, len, &s->cidr[s->n]) == 0) {
      if (!c->cidr_off)
        c->cidr_off = i;
      s->n++;
    }
  }
}

static int parse_what_elem(struct rule_ctx *c, int k, const struct tok *t,
                           size_t off, size_t len, size_t idx) {
  struct pol_set *s = &c->r.key[k];

  switch (k) {
  case PK_FAMILY:
  case PK_TYPE:
    return parse_simple(c, k, t, off, len, &s->v[idx]);
  case PK_PROTO:
    return parse_proto_elem(c, t, off, len, &s->v[idx]);
  case PK_PORT:
    return parse_port(c, t, off, len, &s->v[idx]);
  default:
    return parse_option_elem(c, t, off, len, &s->v[idx]);
  }
}

void pol_parse_key_value(struct rule_ctx *c, int k, const struct tok *t,
                         size_t off) {
  struct pol_set *s = &c->r.key[k];
  size_t n = pol_count_elems(t->s + off, t->len - off);

  s->present = true;
  if (pol_mem_is(t->s + off, t->len - off, "any")) {
    s->any = true;
    return;
  }
  if (k == PK_ADDR) {
    parse_addr_set(c, t, off);
    return;
  }
  s->v = calloc(n, sizeof(*s->v));
  if (!s->v) {
    c->ps->oom = true;
    return;
  }
  s->n = pol_parse_list(c, k, t, off, parse_what_elem, true);
}
