/* SPDX-License-Identifier: MIT */
/*
 * policy_parse: the parser's own parts, shared by its two files:
 * policy_parse.c (text into rules: fields, WHO, CALLS, checks, loading)
 * calls policy_parse_keys.c (error reports, comma lists and the values of
 * the KEY=VALUE fields), never the other way round.
 *
 * Trust boundary: see policy_parse.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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

/* Report an error at line:col (counted in ps->nerrors). */
__attribute__((format(printf, 4, 5))) void
pol_perr(struct parser *ps, unsigned line, unsigned col, const char *fmt, ...);

/* An error about t, pointing off bytes into it. */
#define terr(c, t, off, ...)                                                   \
  pol_perr((c)->ps, (t)->line, (t)->col + (unsigned)(off), __VA_ARGS__)

/* len, capped at what an error message quotes of a bad token. */
int pol_quote_len(size_t len);

/* "a, b, c, " of the names of tab, for error messages. */
const char *pol_names_list(const struct pol_name *tab, char *buf, size_t size);
#define NAMES(tab, buf) pol_names_list(tab, buf, sizeof(buf))

/* s[0..len) is word. */
bool pol_mem_is(const char *s, size_t len, const char *word);

/* Length of the list element starting at t->s + off. */
size_t pol_elem_len(const struct tok *t, size_t off);

/* Number of elements of the comma list s[0..len). */
size_t pol_count_elems(const char *s, size_t len);

typedef int (*elem_fn)(struct rule_ctx *c, int k, const struct tok *t,
                       size_t off, size_t len, size_t idx);

/* Call fn for each element of the comma list at t+off; returns how many
 * were parsed into slots 0..n-1 (errors are reported, slots not used).
 * what: refuse "any" among other values. */
size_t pol_parse_list(struct rule_ctx *c, int k, const struct tok *t,
                      size_t off, elem_fn fn, bool what);

/* The value of KEY=VALUE for key k, starting at t->s + off, into
 * c->r.key[k]; errors are reported. */
void pol_parse_key_value(struct rule_ctx *c, int k, const struct tok *t,
                         size_t off);
