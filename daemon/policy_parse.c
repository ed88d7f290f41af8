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
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "policy_parse_keys.h"

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
      pol_perr(ps, line, (unsigned)(i - start + 1), "invalid character 0x%02x",
               (unsigned char)t[i]);
      i++;
      continue;
    }
    while (i < e && !is_space(t[i]) && !is_control(t[i]))
      i++;
    if (*n == MAX_TOKS) {
      if (!ps->overflow)
        pol_perr(ps, line, (unsigned)(b - start + 1),
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
         pol_who_names[w], pol_quote_len(len), s);
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
             pol_quote_len(len), s);
        return -1;
      }
    }
  } else if (strspn(name, "0123456789") == len) {
    /* Digits: an id, as chown(1) and systemd read them (no account name is
     * all digits), and the form policy_dump_resolved() writes names in. */
    if (pol_parse_u32(s, len, UINT32_MAX - 1, &ws->ids[idx]) < 0) {
      terr(c, t, off, "bad %s '%.*s' (expected a number below 4294967295)",
           pol_who_names[w], pol_quote_len(len), s);
      return -1;
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

static int parse_who_key(struct rule_ctx *c, int w, const struct tok *t) {
  struct pol_who_set *ws = &c->r.who[w];
  size_t off = strlen(pol_who_names[w]) + 1;
  size_t n = pol_count_elems(t->s + off, t->len - off);

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
  ws->n = pol_parse_list(c, w, t, off, parse_who_elem, false);
  return 0;
}

/* --- rules -------------------------------------------------------------- */

/* The index of t's key in names (t is "KEY=..."), or -1. */
static int key_index(const struct tok *t, const char *const *names, int n) {
  const char *eq = memchr(t->s, '=', t->len);

  for (int i = 0; eq && i < n; i++)
    if (pol_mem_is(t->s, (size_t)(eq - t->s), names[i]))
      return i;
  return -1;
}

static void parse_action(struct rule_ctx *c, const struct tok *t) {
  c->action_ok = true;
  if (pol_mem_is(t->s, t->len, "allow"))
    c->r.allow = true;
  else if (!pol_mem_is(t->s, t->len, "deny")) {
    terr(c, t, 0, "unknown action '%.*s' (expected allow or deny)",
         pol_quote_len(t->len), t->s);
    c->action_ok = false;
  }
}

/* Whether every element of t is a call name or "all". */
static bool is_call_list(const struct tok *t) {
  for (size_t i = 0; i <= t->len;) {
    size_t len = pol_elem_len(t, i);

    if (pol_name_find(pol_call_names, t->s + i, len) < 0 &&
        !pol_mem_is(t->s + i, len, "all"))
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

  if (i < n && pol_mem_is(t[i].s, t[i].len, "anyone")) {
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
         pol_quote_len(t[i].len), t[i].s);
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

  if (pol_mem_is(t->s + off, len, "all")) {
    if (pol_count_elems(t->s, t->len) > 1) {
      terr(c, t, off, "'all' cannot be combined with other calls");
      return -1;
    }
    c->r.calls = POL_ALL_CALLS;
  } else if (v >= 0) {
    c->r.calls |= 1u << v;
  } else {
    terr(c, t, off, "unknown call '%.*s' (expected %sor all)",
         pol_quote_len(len), t->s + off, NAMES(pol_call_names, names));
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
  pol_parse_list(c, 0, &t[i], 0, parse_call_elem, false);
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
         pol_quote_len(len), v);
  }
}

static void parse_key(struct rule_ctx *c, const struct tok *t) {
  const char *eq = memchr(t->s, '=', t->len);
  int k = key_index(t, pol_key_names, PK_N);

  if (!eq) {
    terr(c, t, 0, "expected KEY=VALUE, not '%.*s'", pol_quote_len(t->len),
         t->s);
  } else if (key_index(t, pol_who_names, PW_N) >= 0) {
    terr(c, t, 0, "%.*s belongs to WHO, which comes before the calls",
         pol_quote_len((size_t)(eq - t->s) + 1), t->s);
  } else if (pol_mem_is(t->s, (size_t)(eq - t->s), "errno")) {
    parse_errno(c, t);
  } else if (k < 0) {
    terr(c, t, 0, "unknown key '%.*s'", pol_quote_len((size_t)(eq - t->s) + 1),
         t->s);
  } else if (c->key_tok[k]) {
    terr(c, t, 0, "duplicate key %s=", pol_key_names[k]);
  } else {
    c->key_tok[k] = t;
    if (eq + 1 == t->s + t->len)
      terr(c, t, t->len, "empty value for %s=", pol_key_names[k]);
    else
      pol_parse_key_value(c, k, t, (size_t)(eq + 1 - t->s));
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
         pol_quote_len(pol_elem_len(pt, c->ip_off)), pt->s + c->ip_off);
  if (pt && c->nl_off && !family_lists(f, AF_NETLINK, AF_NETLINK))
    terr(c, pt, c->nl_off,
         "'%.*s' is a netlink protocol, but family= does not list netlink",
         pol_quote_len(pol_elem_len(pt, c->nl_off)), pt->s + c->nl_off);
  if (at && c->cidr_off && !family_lists(f, AF_INET, AF_INET6))
    terr(c, at, c->cidr_off,
         "'%.*s' is an IP address, but family= lists neither inet nor inet6",
         pol_quote_len(pol_elem_len(at, c->cidr_off)), at->s + c->cidr_off);
  if (at && c->abs_off && !family_lists(f, AF_UNIX, AF_UNIX))
    terr(c, at, c->abs_off,
         "'%.*s' is an abstract unix name, but family= does not list unix",
         pol_quote_len(pol_elem_len(at, c->abs_off)), at->s + c->abs_off);
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
    pol_perr(ps, line, 1, "too many rules (at most %d)", POL_MAX_RULES);
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
