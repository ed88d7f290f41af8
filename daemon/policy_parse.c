/* SPDX-License-Identifier: MIT */
/*
 * policy_parse: policy file text to struct policy (see psockd.policy(5)).
 *
 * The parser reports every error it finds as "FILE:LINE:COL: message" and
 * goes on with the next token or rule, so one run of `psockctl check` shows
 * them all; a policy with any error is never returned. Names are resolved
 * here, once: users and groups through NSS, everything else through the
 * fixed tables of policy_names.c and the socket option table. The parser
 * owns the in-memory form it builds (pol_rule_clear, policy_free); it
 * never calls the decision (policy.c), which reads that form only.
 *
 * Trust boundary: the text comes from the administrator, but it is parsed
 * by a root process and fuzzed, so nothing in it is trusted to be
 * well-formed: bytes, not C strings, with explicit lengths throughout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

#define MAX_TOKS 32  /* a complete rule has at most 14 fields */
#define MAX_NAME 256 /* user, group and unit names */
#define QUOTE_MAX 64 /* how much of a bad token an error message shows */

struct tok {
  const char *s;
  size_t len;
  unsigned line, col;
};

struct parser {
  const char *name;
  FILE *errs;
  unsigned nerrors;
  bool oom;
  const char *text;
  size_t len, pos;
  unsigned line; /* of the next physical line */
  bool overflow; /* the current rule had more than MAX_TOKS fields */
  struct policy *p;
  size_t cap;
};

/* One rule being parsed, with where its parts were for later checks. */
struct rule_ctx {
  struct parser *ps;
  struct policy_rule r;
  bool action_ok;
  const struct tok *key_tok[PK_N];
  const struct tok *errno_tok;
  size_t ip_off, nl_off;    /* first IP / netlink proto name in proto= */
  size_t cidr_off, abs_off; /* first IP network / @name in addr= */
};

__attribute__((format(printf, 4, 5))) static void
perr(struct parser *ps, unsigned line, unsigned col, const char *fmt, ...) {
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

/* An error about t, pointing off bytes into it. */
#define terr(c, t, off, ...)                                                   \
  perr((c)->ps, (t)->line, (t)->col + (unsigned)(off), __VA_ARGS__)

static int quote_len(size_t len) {
  return (int)(len < QUOTE_MAX ? len : QUOTE_MAX);
}

static bool mem_is(const char *s, size_t len, const char *word) {
  return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* --- splitting text into rules and fields ------------------------------- */

static bool is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r';
}

static bool is_control(char ch) {
  unsigned char u = (unsigned char)ch;

  return (u < 0x20 && !is_space(ch)) || u == 0x7f;
}

/* Add the fields of one physical line; true when a trailing backslash
 * continues the rule on the next line. */
static bool read_physical(struct parser *ps, struct tok *toks, size_t *n) {
  const char *t = ps->text, *nl, *hash;
  size_t start = ps->pos, end, e, i;
  unsigned line = ps->line++;
  bool cont;

  nl = memchr(t + start, '\n', ps->len - start);
  end = nl ? (size_t)(nl - t) : ps->len;
  ps->pos = nl ? end + 1 : ps->len;
  hash = memchr(t + start, '#', end - start);
  e = hash ? (size_t)(hash - t) : end;
  while (e > start && is_space(t[e - 1]))
    e--;
  cont = e > start && t[e - 1] == '\\';
  if (cont)
    e--;
  for (i = start; i < e;) {
    size_t b = i;

    if (is_space(t[i])) {
      i++;
      continue;
    }
    if (is_control(t[i])) {
      perr(ps, line, (unsigned)(i - start + 1), "invalid character 0x%02x",
           (unsigned char)t[i]);
      i++;
      continue;
    }
    while (i < e && !is_space(t[i]) && !is_control(t[i]))
      i++;
    if (*n == MAX_TOKS) {
      if (!ps->overflow)
        perr(ps, line, (unsigned)(b - start + 1),
             "too many fields in one rule");
      ps->overflow = true;
      continue;
    }
    toks[(*n)++] = (struct tok){t + b, i - b, line, (unsigned)(b - start + 1)};
  }
  return cont;
}

/* The fields of the next rule; false at the end of the text. */
static bool read_rule(struct parser *ps, struct tok *toks, size_t *n) {
  *n = 0;
  ps->overflow = false;
  if (ps->pos >= ps->len)
    return false;
  while (read_physical(ps, toks, n) && ps->pos < ps->len)
    ;
  return true;
}

/* --- WHO ---------------------------------------------------------------- */

static int resolve_name(int w, const char *name, uint32_t *ret) {
  size_t size = 1024;
  int r = ERANGE;

  while (r == ERANGE && size <= (1u << 20)) {
    char *buf = malloc(size);
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;

    if (!buf)
      return -ENOMEM;
    if (w == PW_USER) {
      r = getpwnam_r(name, &pw, buf, size, &pwp);
      if (r == 0 && pwp)
        *ret = pwp->pw_uid;
    } else {
      r = getgrnam_r(name, &gr, buf, size, &grp);
      if (r == 0 && grp)
        *ret = grp->gr_gid;
    }
    free(buf);
    if (r == 0 && !pwp && !grp)
      return -ENOENT;
    size *= 2;
  }
  return -r;
}

static bool unit_char_ok(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || strchr(":-_.\\@/*", ch);
}

/* One element of a WHO list into ws (idx); returns 0 or -1 on error. */
static int parse_who_elem(struct rule_ctx *c, int w, const struct tok *t,
                          size_t off, size_t len, size_t idx) {
  struct pol_who_set *ws = &c->r.who[w];
  const char *s = t->s + off;
  char name[MAX_NAME];
  int r;

  if (w == PW_UID || w == PW_GID) {
    /* (uid_t)-1 is "no id" to the kernel, never a peer's id. */
    if (pol_parse_u32(s, len, UINT32_MAX - 1, &ws->ids[idx]) == 0)
      return 0;
    terr(c, t, off, "bad %s '%.*s' (expected a number below 4294967295)",
         pol_who_names[w], quote_len(len), s);
    return -1;
  }
  if (len >= MAX_NAME) {
    terr(c, t, off, "%s name too long", pol_who_names[w]);
    return -1;
  }
  memcpy(name, s, len);
  name[len] = '\0';
  if (w == PW_UNIT) {
    for (size_t i = 0; i < len; i++) {
      if (!unit_char_ok(s[i])) {
        terr(c, t, off + i, "invalid character in unit name '%.*s'",
             quote_len(len), s);
        return -1;
      }
    }
  } else if ((r = resolve_name(w, name, &ws->ids[idx])) < 0) {
    if (r == -ENOMEM)
      c->ps->oom = true;
    else if (r == -ENOENT)
      terr(c, t, off, "unknown %s '%s'", pol_who_names[w], name);
    else
      terr(c, t, off, "cannot resolve %s '%s': %s", pol_who_names[w], name,
           strerror(-r));
    return -1;
  }
  ws->names[idx] = strdup(name);
  if (!ws->names[idx]) {
    c->ps->oom = true;
    return -1;
  }
  return 0;
}

/* --- lists -------------------------------------------------------------- */

/* Length of the list element starting at t->s + off. */
static size_t elem_len(const struct tok *t, size_t off) {
  const char *comma = memchr(t->s + off, ',', t->len - off);

  return comma ? (size_t)(comma - (t->s + off)) : t->len - off;
}

typedef int (*elem_fn)(struct rule_ctx *c, int k, const struct tok *t,
                       size_t off, size_t len, size_t idx);

static size_t count_elems(const char *s, size_t len) {
  size_t n = 1;

  for (size_t i = 0; i < len; i++)
    n += s[i] == ',';
  return n;
}

/* Call fn for each element of the comma list at t+off; returns how many
 * were parsed into slots 0..n-1 (errors are reported, slots not used). */
static size_t parse_list(struct rule_ctx *c, int k, const struct tok *t,
                         size_t off, elem_fn fn, bool what) {
  size_t n = 0, nelems = count_elems(t->s + off, t->len - off);

  for (size_t i = off; i <= t->len;) {
    const char *comma = memchr(t->s + i, ',', t->len - i);
    size_t end = comma ? (size_t)(comma - t->s) : t->len;

    if (end == i)
      terr(c, t, i, "empty value in list");
    else if (what && nelems > 1 && mem_is(t->s + i, end - i, "any"))
      terr(c, t, i, "'any' cannot be combined with other values");
    else if (fn(c, k, t, i, end - i, n) == 0)
      n++;
    i = end + 1;
  }
  return n;
}

static int parse_who_key(struct rule_ctx *c, int w, const struct tok *t) {
  struct pol_who_set *ws = &c->r.who[w];
  size_t off = strlen(pol_who_names[w]) + 1;
  size_t n = count_elems(t->s + off, t->len - off);

  ws->present = true;
  if (off == t->len) {
    terr(c, t, off, "empty value for %s=", pol_who_names[w]);
    return -EINVAL;
  }
  if (w != PW_UNIT)
    ws->ids = calloc(n, sizeof(*ws->ids));
  if (w != PW_UID && w != PW_GID)
    ws->names = calloc(n, sizeof(*ws->names));
  if ((w != PW_UNIT && !ws->ids) ||
      (w != PW_UID && w != PW_GID && !ws->names)) {
    c->ps->oom = true;
    return -ENOMEM;
  }
  ws->n = parse_list(c, w, t, off, parse_who_elem, false);
  return 0;
}

/* --- what --------------------------------------------------------------- */

/* "a, b, c, " from a table of structs that start with a name, ending with
 * a NULL name (pol_name, pol_option), for error messages. */
static const char *names_of(const void *tab, size_t stride, char *buf,
                            size_t size) {
  const char *const *name = tab;
  size_t used = 0;

  buf[0] = '\0';
  for (; *name; name = (const void *)((const char *)name + stride)) {
    int n = snprintf(buf + used, size - used, "%s, ", *name);

    if (n < 0 || (size_t)n >= size - used)
      break;
    used += (size_t)n;
  }
  return buf;
}
#define NAMES(tab, buf) names_of(tab, sizeof(tab[0]), buf, sizeof(buf))

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
         quote_len(len), t->s + off, max);
  else
    terr(c, t, off, "unknown %s '%.*s' (expected %sa number, or any)",
         pol_key_names[k], quote_len(len), t->s + off,
         names_of(tab, sizeof(*tab), names, sizeof(names)));
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
    terr(c, t, off, "proto %.*s out of range (0-%u)", quote_len(len),
         t->s + off, POL_PROTO_MAX);
  else
    terr(c, t, off, "unknown proto '%.*s' (expected 0, %s%sa number, or any)",
         quote_len(len), t->s + off, NAMES(pol_ip_proto_names, ip),
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
  terr(c, t, off, "unknown option '%.*s' (expected %sor any)", quote_len(len),
       t->s + off, option_names(names, sizeof(names)));
  return -1;
}

static int parse_port_num(struct rule_ctx *c, const struct tok *t, size_t off,
                          size_t len, uint32_t *ret) {
  int r = pol_parse_u32(t->s + off, len, POL_PORT_MAX, ret);

  if (r == -ERANGE)
    terr(c, t, off, "port %.*s is larger than %u", quote_len(len), t->s + off,
         POL_PORT_MAX);
  else if (r < 0)
    terr(c, t, off, "bad port '%.*s' (expected N, N-M or any)", quote_len(len),
         t->s + off);
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
         quote_len(alen), s);
    return -1;
  }
  plen = ret->v6 ? 128 : 32;
  if (slash && pol_parse_u32(slash + 1, len - alen - 1, plen, &plen) < 0) {
    terr(c, t, off + alen + 1, "bad prefix length '%.*s' (expected 0-%u)",
         quote_len(len - alen - 1), slash + 1, ret->v6 ? 128 : 32);
    return -1;
  }
  ret->plen = (uint8_t)plen;
  if (!host_bits_zero(ret)) {
    terr(c, t, off, "'%.*s' has bits set after the /%u prefix", quote_len(len),
         s, plen);
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
         quote_len(len), t->s + off);
    return -1;
  }
  for (int i = 0; i < n; i++)
    bytes += el[i] != POL_GLOB_STAR;
  if (n < 0 || bytes > POLICY_ABSTRACT_MAX) {
    terr(c, t, off,
         "abstract name '%.*s' is too long (a name has at most %d bytes)",
         quote_len(len), t->s + off, POLICY_ABSTRACT_MAX);
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
  size_t n = count_elems(t->s + off, t->len - off);
  bool has_ip = false;

  for (size_t i = off; i <= t->len; i += elem_len(t, i) + 1)
    has_ip |= elem_len(t, i) > 0 && t->s[i] != '@' &&
              !mem_is(t->s + i, elem_len(t, i), "any");
  s->cidr = calloc(n, sizeof(*s->cidr));
  s->abstract = calloc(n, sizeof(*s->abstract));
  if (!s->cidr || !s->abstract) {
    c->ps->oom = true;
    return;
  }
  for (size_t i = off; i <= t->len; i += elem_len(t, i) + 1) {
    size_t len = elem_len(t, i);

    if (len == 0) {
      terr(c, t, i, "empty value in list");
    } else if (mem_is(t->s + i, len, "any")) {
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

static void parse_set(struct rule_ctx *c, int k, const struct tok *t,
                      size_t off) {
  struct pol_set *s = &c->r.key[k];
  size_t n = count_elems(t->s + off, t->len - off);

  s->present = true;
  if (mem_is(t->s + off, t->len - off, "any")) {
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
  s->n = parse_list(c, k, t, off, parse_what_elem, true);
}

/* --- rules -------------------------------------------------------------- */

/* The index of t's key in names (t is "KEY=..."), or -1. */
static int key_index(const struct tok *t, const char *const *names, int n) {
  const char *eq = memchr(t->s, '=', t->len);

  for (int i = 0; eq && i < n; i++)
    if (mem_is(t->s, (size_t)(eq - t->s), names[i]))
      return i;
  return -1;
}

static void parse_action(struct rule_ctx *c, const struct tok *t) {
  c->action_ok = true;
  if (mem_is(t->s, t->len, "allow"))
    c->r.allow = true;
  else if (!mem_is(t->s, t->len, "deny")) {
    terr(c, t, 0, "unknown action '%.*s' (expected allow or deny)",
         quote_len(t->len), t->s);
    c->action_ok = false;
  }
}

/* Whether every element of t is a call name or "all". */
static bool is_call_list(const struct tok *t) {
  for (size_t i = 0; i <= t->len;) {
    size_t len = elem_len(t, i);

    if (pol_name_find(pol_call_names, t->s + i, len) < 0 &&
        !mem_is(t->s + i, len, "all"))
      return false;
    i += len + 1;
  }
  return true;
}

/* WHO fields from t[i]; returns the index of the first field after them. */
static size_t parse_who(struct rule_ctx *c, const struct tok *t, size_t n,
                        size_t i) {
  bool seen = false;
  int w;

  if (i < n && mem_is(t[i].s, t[i].len, "anyone")) {
    c->r.anyone = seen = true;
    i++;
  }
  for (; i < n && (w = key_index(&t[i], pol_who_names, PW_N)) >= 0; i++) {
    if (c->r.anyone)
      terr(c, &t[i], 0,
           "'anyone' cannot be combined with %s=", pol_who_names[w]);
    else if (c->r.who[w].present)
      terr(c, &t[i], 0, "duplicate key %s=", pol_who_names[w]);
    else
      parse_who_key(c, w, &t[i]);
    seen = true;
  }
  if (seen || !c->action_ok)
    return i;
  if (i < n && !memchr(t[i].s, '=', t[i].len) && !is_call_list(&t[i])) {
    /* A misspelt WHO ("nobody"): skip it, so the calls after it parse. */
    terr(c, &t[i], 0,
         "unknown WHO '%.*s' (expected anyone, uid=, user=, gid=, group= or "
         "unit=)",
         quote_len(t[i].len), t[i].s);
    return i + 1;
  }
  terr(c, i < n ? &t[i] : &t[i - 1], i < n ? 0 : t[i - 1].len,
       "missing WHO (expected anyone, uid=, user=, gid=, group= or unit=)");
  return i;
}

static int parse_call_elem(struct rule_ctx *c, int k, const struct tok *t,
                           size_t off, size_t len, size_t idx) {
  int v = pol_name_find(pol_call_names, t->s + off, len);
  char names[128];

  if (mem_is(t->s + off, len, "all")) {
    if (count_elems(t->s, t->len) > 1) {
      terr(c, t, off, "'all' cannot be combined with other calls");
      return -1;
    }
    c->r.calls = POL_ALL_CALLS;
  } else if (v >= 0) {
    c->r.calls |= 1u << v;
  } else {
    terr(c, t, off, "unknown call '%.*s' (expected %sor all)", quote_len(len),
         t->s + off, NAMES(pol_call_names, names));
    return -1;
  }
  return 0;
}

/* The CALLS field at t[i]; returns the index of the first field after. */
static size_t parse_calls(struct rule_ctx *c, const struct tok *t, size_t n,
                          size_t i) {
  if (i == n || memchr(t[i].s, '=', t[i].len)) {
    const struct tok *at = i < n ? &t[i] : &t[i - 1];

    if (c->action_ok)
      terr(c, at, i < n ? 0 : at->len,
           "missing calls (expected a list such as socket,connect or all)");
    return i;
  }
  parse_list(c, 0, &t[i], 0, parse_call_elem, false);
  return i + 1;
}

static void parse_errno(struct rule_ctx *c, const struct tok *t) {
  const char *v = t->s + 6;
  size_t len = t->len - 6;

  if (c->errno_tok) {
    terr(c, t, 0, "duplicate key errno=");
    return;
  }
  c->errno_tok = t;
  c->r.error = pol_name_find(pol_errno_names, v, len);
  if (c->r.error < 0) {
    c->r.error = 0;
    terr(c, t, 6, "unknown errno '%.*s' (expected EACCES or EPERM)",
         quote_len(len), v);
  }
}

static void parse_key(struct rule_ctx *c, const struct tok *t) {
  const char *eq = memchr(t->s, '=', t->len);
  int k = key_index(t, pol_key_names, PK_N);

  if (!eq) {
    terr(c, t, 0, "expected KEY=VALUE, not '%.*s'", quote_len(t->len), t->s);
  } else if (key_index(t, pol_who_names, PW_N) >= 0) {
    terr(c, t, 0, "%.*s belongs to WHO, which comes before the calls",
         quote_len((size_t)(eq - t->s) + 1), t->s);
  } else if (mem_is(t->s, (size_t)(eq - t->s), "errno")) {
    parse_errno(c, t);
  } else if (k < 0) {
    terr(c, t, 0, "unknown key '%.*s'", quote_len((size_t)(eq - t->s) + 1),
         t->s);
  } else if (c->key_tok[k]) {
    terr(c, t, 0, "duplicate key %s=", pol_key_names[k]);
  } else {
    c->key_tok[k] = t;
    if (eq + 1 == t->s + t->len)
      terr(c, t, t->len, "empty value for %s=", pol_key_names[k]);
    else
      parse_set(c, k, t, (size_t)(eq + 1 - t->s));
  }
}

static bool family_lists(const struct pol_set *f, uint32_t a, uint32_t b) {
  for (size_t i = 0; i < f->n; i++)
    if (f->v[i].lo == a || f->v[i].lo == b)
      return true;
  return false;
}

/* Protocol names and addresses mean something in some families only (6
 * is TCP to inet but NETLINK_XFRM to netlink), so say so rather than
 * never match. */
static void check_families(struct rule_ctx *c) {
  const struct pol_set *f = &c->r.key[PK_FAMILY];
  const struct tok *pt = c->key_tok[PK_PROTO], *at = c->key_tok[PK_ADDR];

  if (!f->present || f->any)
    return;
  if (pt && c->ip_off && !family_lists(f, AF_INET, AF_INET6))
    terr(c, pt, c->ip_off,
         "'%.*s' is an IP protocol, but family= lists neither inet nor "
         "inet6",
         quote_len(elem_len(pt, c->ip_off)), pt->s + c->ip_off);
  if (pt && c->nl_off && !family_lists(f, AF_NETLINK, AF_NETLINK))
    terr(c, pt, c->nl_off,
         "'%.*s' is a netlink protocol, but family= does not list netlink",
         quote_len(elem_len(pt, c->nl_off)), pt->s + c->nl_off);
  if (at && c->cidr_off && !family_lists(f, AF_INET, AF_INET6))
    terr(c, at, c->cidr_off,
         "'%.*s' is an IP address, but family= lists neither inet nor inet6",
         quote_len(elem_len(at, c->cidr_off)), at->s + c->cidr_off);
  if (at && c->abs_off && !family_lists(f, AF_UNIX, AF_UNIX))
    terr(c, at, c->abs_off,
         "'%.*s' is an abstract unix name, but family= does not list unix",
         quote_len(elem_len(at, c->abs_off)), at->s + c->abs_off);
}

/* Checks that need the whole rule. */
static void check_rule(struct rule_ctx *c) {
  const struct policy_rule *r = &c->r;

  for (int k = 0; r->calls && k < PK_N; k++)
    if (c->key_tok[k] && !(pol_key_calls[k] & r->calls))
      terr(c, c->key_tok[k], 0, "%s= does not apply to any call of this rule",
           pol_key_names[k]);
  if (c->action_ok && r->allow && c->errno_tok)
    terr(c, c->errno_tok, 0, "errno= applies only to deny rules");
  check_families(c);
}

/* Write "SOURCE:LINE" into out, cutting SOURCE from the left if needed. */
static void format_origin(char *out, size_t outlen, const char *source,
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

static void add_rule(struct parser *ps, struct policy_rule *r, unsigned line) {
  struct policy *p = ps->p;

  if (p->n_rules == POL_MAX_RULES) {
    perr(ps, line, 1, "too many rules (at most %d)", POL_MAX_RULES);
    pol_rule_clear(r);
    return;
  }
  if (p->n_rules == ps->cap) {
    size_t cap = ps->cap ? ps->cap * 2 : 16;
    struct policy_rule *rules = realloc(p->rules, cap * sizeof(*rules));

    if (!rules) {
      ps->oom = true;
      pol_rule_clear(r);
      return;
    }
    p->rules = rules;
    ps->cap = cap;
  }
  r->line = line;
  format_origin(r->origin, sizeof(r->origin), p->source, line);
  p->rules[p->n_rules++] = *r; /* the policy owns r's arrays now */
}

static void parse_rule(struct parser *ps, const struct tok *t, size_t n) {
  struct rule_ctx c = {.ps = ps};
  unsigned before = ps->nerrors;
  size_t i;

  parse_action(&c, &t[0]);
  i = parse_who(&c, t, n, 1);
  i = parse_calls(&c, t, n, i);
  for (; i < n; i++)
    parse_key(&c, &t[i]);
  check_rule(&c);
  if (ps->nerrors == before && !ps->overflow && !ps->oom)
    add_rule(ps, &c.r, t[0].line);
  else
    pol_rule_clear(&c.r);
}

/* --- loading ------------------------------------------------------------ */

int policy_load_string(const char *name, const char *text, size_t len,
                       FILE *errs, unsigned *ret_nerrors, struct policy **ret) {
  struct parser ps = {
      .name = name, .errs = errs, .text = text, .len = len, .line = 1};
  struct tok toks[MAX_TOKS];
  size_t n;
  int r = 0;

  if (ret_nerrors)
    *ret_nerrors = 0;
  if (len > POL_MAX_FILE)
    return -EFBIG;
  ps.p = calloc(1, sizeof(*ps.p));
  if (!ps.p)
    return -ENOMEM;
  ps.p->source = strdup(name);
  if (!ps.p->source)
    ps.oom = true;
  while (!ps.oom && read_rule(&ps, toks, &n))
    if (n > 0 && !ps.overflow)
      parse_rule(&ps, toks, n);
  if (ps.oom)
    r = -ENOMEM;
  else if (ps.nerrors)
    r = -EINVAL;
  if (ret_nerrors)
    *ret_nerrors = ps.nerrors;
  if (r < 0) {
    policy_free(ps.p);
    return r;
  }
  *ret = ps.p;
  return 0;
}

/* --- the struct's lifetime --------------------------------------------- */

void pol_rule_clear(struct policy_rule *r) {
  for (int w = 0; w < PW_N; w++) {
    struct pol_who_set *ws = &r->who[w];

    for (size_t i = 0; ws->names && i < ws->n; i++)
      free(ws->names[i]);
    free(ws->names);
    free(ws->ids);
  }
  for (int k = 0; k < PK_N; k++) {
    struct pol_set *s = &r->key[k];

    for (size_t i = 0; s->abstract && i < s->n_abstract; i++)
      free(s->abstract[i].pat);
    free(s->abstract);
    free(s->v);
    free(s->cidr);
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
