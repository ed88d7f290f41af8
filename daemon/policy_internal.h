/* SPDX-License-Identifier: MIT */
/*
 * policy_internal: the in-memory form of a policy and the name tables.
 *
 * The parser (policy_parse.c) builds it, the decision and the dump
 * (policy_check.c), the scope (policy_scope.c) and the lint (policy_lint.c)
 * read it; the name tables and
 * value parsers (policy_names.c) sit below all of them. This header is the
 * only thing the parser and the decision share: neither calls the other.
 * Everything a decision needs is resolved at load time (names to numbers,
 * CIDRs to bytes, escapes in abstract names to bytes, the origin text of
 * each rule), so that policy_check() only compares and never allocates.
 *
 * Trust boundary: none of its own; see policy.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "sockopts.h"

#define BIT(x) (1u << (x))

/* The "what" keys, in dump order. */
enum pol_key {
  PK_FAMILY,
  PK_TYPE,
  PK_PROTO,
  PK_ADDR,
  PK_PORT,
  PK_OPTION,
  PK_N
};

/* The "who" keys, in dump order. */
enum pol_who { PW_UID, PW_USER, PW_GID, PW_GROUP, PW_UNIT, PW_N };

/*
 * A protocol number means something only within a family: 6 is TCP for
 * inet but NETLINK_XFRM for netlink. A name therefore only matches in the
 * family it was named for; a number matches in any family.
 */
enum pol_ns {
  PNS_NUM,     /* written as a number */
  PNS_IP,      /* tcp, udp, ...: inet and inet6 only */
  PNS_NETLINK, /* route, sock_diag, ...: netlink only */
};

#define POL_ALL_CALLS ((1u << POLICY_N_CALLS) - 1)
#define POL_MAX_RULES 65536
#define POL_MAX_FILE (1u << 20) /* larger policy texts are refused */
#define POL_FAMILY_MAX 255      /* numbers accepted for family= */
#define POL_TYPE_MAX 15         /* SOCK_TYPE_MASK */
#define POL_PROTO_MAX 65535     /* covers packet sockets' ethertypes */
#define POL_PORT_MAX 65535
#define POL_PRIV_PORT_END 1023 /* ports 1..1023 need CAP_NET_BIND_SERVICE */

/* One value or range: family, type, proto, port, option (table index). */
struct pol_val {
  uint32_t lo, hi;
  uint8_t ns; /* enum pol_ns; proto only */
};

struct pol_cidr {
  bool v6;
  uint8_t plen;
  uint8_t a[16]; /* 4 bytes used for IPv4 */
};

/*
 * An abstract AF_UNIX name pattern (addr=@PATTERN): elements 0..255 are
 * bytes, POL_GLOB_STAR matches any run of bytes (NULs and '/' included),
 * POL_GLOB_ONE any one byte.
 */
#define POL_GLOB_STAR 0x100
#define POL_GLOB_ONE 0x101
#define POL_PATTERN_MAX 255 /* elements of one pattern */

struct pol_abstract {
  size_t len;
  uint16_t *pat;
};

/* One KEY=VALUE of a rule. */
struct pol_set {
  /* any: every value; for addr= every IP address, never an abstract
   * name (those match only an @ pattern). */
  bool present, any;
  size_t n;
  struct pol_val *v;     /* all keys but addr */
  struct pol_cidr *cidr; /* addr: IP networks */
  size_t n_abstract;
  struct pol_abstract *abstract; /* addr: @ patterns */
};

/* One WHO key of a rule. */
struct pol_who_set {
  bool present;
  size_t n;
  uint32_t *ids; /* uid=, gid=, and user=/group= resolved at load */
  char **names;  /* user=/group= as written; unit= patterns */
};

struct policy_rule {
  bool allow;
  int error; /* deny rules: errno= as written, or 0 for the kernel's */
  bool anyone;
  struct pol_who_set who[PW_N];
  uint32_t calls; /* 1 << enum policy_call */
  struct pol_set key[PK_N];
  unsigned line;
  char origin[96]; /* "FILE:LINE", ready for policy_decision.rule */
};

struct policy {
  char *source;
  struct policy_rule *rules;
  size_t n_rules;
};

/* --- names (policy_names.c) --------------------------------------------- */

/* Name tables; each ends with a NULL name. */
struct pol_name {
  const char *name;
  int value;
};

extern const struct pol_name pol_call_names[];
extern const struct pol_name pol_family_names[];
extern const struct pol_name pol_type_names[];
extern const struct pol_name pol_ip_proto_names[];
extern const struct pol_name pol_netlink_proto_names[];
extern const struct pol_name pol_errno_names[];
extern const char *const pol_key_names[PK_N];
extern const char *const pol_who_names[PW_N];
/* Calls whose queries carry each key (which keys make sense on a rule). */
extern const uint32_t pol_key_calls[PK_N];

/* Value of name[0..len) in tab, or -1. */
int pol_name_find(const struct pol_name *tab, const char *name, size_t len);
/* Name of value in tab, or NULL. */
const char *pol_name_of(const struct pol_name *tab, int value);

/*
 * Options are the entries of the shared table (proto/sockopts.h); a rule
 * holds an entry's index. Index of the option named name[0..len), or of
 * (level, optname), or -1; the entry of an index, or NULL.
 */
int pol_option_find(const char *name, size_t len);
int pol_option_index(int level, int optname);
const struct sockopt *pol_option_at(uint32_t index);

/*
 * Parse a decimal number in s[0..len) no larger than max: digits only, no
 * sign, no spaces. Returns 0 or -EINVAL (not a number) or -ERANGE.
 */
int pol_parse_u32(const char *s, size_t len, uint32_t max, uint32_t *ret);

/* A name from tab or a number up to max; 0, -EINVAL or -ERANGE. */
int pol_parse_named(const struct pol_name *tab, const char *s, size_t len,
                    uint32_t max, uint32_t *ret);

/*
 * Parse a proto value (name or number, not "any"). Returns 0 and sets
 * *ret_value and *ret_ns, or -EINVAL / -ERANGE.
 */
int pol_parse_proto(const char *s, size_t len, uint32_t *ret_value,
                    enum pol_ns *ret_ns);

/*
 * Decode the text of an abstract name or pattern s[0..len) (after '@'):
 * \\ \* \? and \xHH are bytes; unescaped '*' and '?' are POL_GLOB_STAR
 * and POL_GLOB_ONE when glob, else bytes too. Writes at most max elements
 * to out. Returns the number of elements, or -EINVAL with *ret_bad set to
 * the offset of a bad escape, or -ENAMETOOLONG.
 */
int pol_decode_abstract(const char *s, size_t len, bool glob, uint16_t *out,
                        size_t max, size_t *ret_bad);

/* Write a pattern so that pol_decode_abstract(glob) reads it back. */
void pol_write_abstract(const struct pol_abstract *a, FILE *out);

/* --- the struct's lifetime (policy_parse.c) ----------------------------- */

/* Release what a rule owns (not the rule itself). */
void pol_rule_clear(struct policy_rule *r);

/* --- matching (policy_check.c) ----------------------------------------- */

/* Is s one of the subjects of r (its WHO keys, or anyone)? An unknown unit
 * is in every deny rule's units and in no allow rule's. */
bool pol_who_match(const struct policy_rule *r, const struct policy_subject *s);

/* --- comparing (policy.c) ----------------------------------------------- */

/*
 * True when a and b make the same decisions for every query because they
 * hold the same rules in the same order (line numbers and source are not
 * compared). For tests, the fuzz target and reload.
 */
bool policy_equal(const struct policy *a, const struct policy *b);

/* The text of the built-in default policy (one rule per line). */
extern const char pol_default_text[];
