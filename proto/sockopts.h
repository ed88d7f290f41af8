/* SPDX-License-Identifier: MIT */
/*
 * sockopts: the one table of socket options, linked by libpsock-client,
 * every psockd role, psockctl and the tests.
 *
 * For each option it records the level and name, the shape and size bounds
 * of its value, whether psockd may set or read it for a client at all (an
 * option whose value holds a pointer or an fd never is: the kernel would
 * read psockd's memory or fd table), and the kernel's own rule for when
 * setting it needs a capability, with the kernel version that rule holds
 * from. Nothing else in psock keeps a list of options: the client asks this
 * table what to escalate, the worker what it may pass to the kernel,
 * psockd-priv what it may set with its capabilities, the policy what
 * option=NAME means.
 *
 * Trust boundary: none of its own; every function here is pure.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOCKOPT_KERNEL(a, b, c) (((a) << 16) + ((b) << 8) + (c))

enum sockopt_value {
  SOCKOPT_INT,    /* an int (the kernel reads at least sizeof(int)) */
  SOCKOPT_STRING, /* bytes, such as an interface or algorithm name */
  SOCKOPT_STRUCT, /* a fixed structure (struct linger, ...) */
};

/* When setting the option needs privilege in the caller. */
enum sockopt_rule {
  SOCKOPT_FREE,       /* never */
  SOCKOPT_PRIVILEGED, /* always, whatever the value */
  SOCKOPT_BY_VALUE,   /* an int value outside [free_min, free_max] */
  SOCKOPT_BY_STATE,   /* depending on the socket's state (see .why) */
};

struct sockopt {
  const char *name; /* "SO_MARK" */
  int level, optname;
  uint8_t value; /* enum sockopt_value */
  uint8_t rule;  /* enum sockopt_rule */
  /* setsockopt through psockd: value size bounds; max_len 0: never. */
  uint16_t min_len, max_len;
  /* getsockopt through psockd: at most this many bytes; 0: never. */
  uint16_t get_len;
  int32_t free_min, free_max; /* SOCKOPT_BY_VALUE */
  int deny_errno;             /* the kernel's answer without privilege */
  uint32_t since;             /* SOCKOPT_KERNEL() the rule holds from */
  const char *why;            /* the rule in words, for docs and tools */
};

/* The entry for (level, optname), or NULL if psock does not know it. */
const struct sockopt *sockopt_lookup(int level, int optname);

/* The entry named name[0..len) ("SO_MARK"), or NULL. */
const struct sockopt *sockopt_by_name(const char *name, size_t len);

/* All entries, for tools and tests: index 0 .. sockopt_count() - 1. */
size_t sockopt_count(void);
const struct sockopt *sockopt_at(size_t i);

/*
 * May psockd pass this value to setsockopt() for a client? 0, or -EINVAL
 * for a size outside the entry's bounds, -ENOPROTOOPT for an option psockd
 * never sets (o NULL, or max_len 0).
 */
int sockopt_check_set(const struct sockopt *o, const void *val, size_t len);

/*
 * Can setting this value need privilege? False for SOCKOPT_FREE and for a
 * SOCKOPT_BY_VALUE int inside the free range; true otherwise (for
 * SOCKOPT_BY_STATE only the kernel knows: try first, escalate on refusal).
 * The policy governs exactly these sets (option=NAME); psockd-priv sets
 * nothing else.
 */
bool sockopt_may_need_privilege(const struct sockopt *o, const void *val,
                                size_t len);

/* Is err the kernel's refusal for lack of privilege on o (escalate)? */
bool sockopt_refused_for_privilege(const struct sockopt *o, int err);
