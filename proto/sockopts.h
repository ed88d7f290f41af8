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

/* A capability bit for struct sockopt.caps (CAP_NET_ADMIN, CAP_NET_RAW). */
#define SOCKOPT_CAP(cap) (UINT64_C(1) << (cap))

enum sockopt_value {
  SOCKOPT_INT,    /* an int (the kernel reads at least sizeof(int)) */
  SOCKOPT_STRING, /* bytes, such as an interface or algorithm name */
  SOCKOPT_STRUCT, /* a fixed structure (struct linger, ...) */
};

/* When setting the option needs privilege in the caller. */
enum sockopt_rule {
  SOCKOPT_FREE,       /* never */
  SOCKOPT_PRIVILEGED, /* always, whatever the value */
  /*
   * An int value outside [free_min, free_max]; for a SOCKOPT_STRUCT the
   * structure's first int (SO_TXTIME: the clockid), for a value shorter
   * than an int its first byte (the IPv4 level reads one). For a
   * SOCKOPT_STRING the free set is a host setting named in .why
   * (TCP_CONGESTION: net.ipv4.tcp_allowed_congestion_control).
   */
  SOCKOPT_BY_VALUE,
  SOCKOPT_BY_STATE, /* depending on the socket's state (see .why) */
};

/* Where the option applies, and what psockd must keep in mind. */
enum sockopt_flag {
  /* psockd never sets nor reads it for a client (see .why: the value holds
   * a pointer or an fd, the getsockopt reads input from the buffer or
   * creates fds or mappings in the caller, or the call does what policy
   * governs elsewhere). The client may still use it on its own fd. */
  SOCKOPT_F_NEVER = 1 << 0,
  SOCKOPT_F_RAW = 1 << 1,    /* only on SOCK_RAW sockets */
  SOCKOPT_F_DGRAM = 1 << 2,  /* not on SOCK_STREAM sockets */
  SOCKOPT_F_REPAIR = 1 << 3, /* only on a TCP socket in repair mode */
  /* With the capability, the kernel loads a module named after the value
   * when it does not know it: psockd-priv passes only names the kernel
   * already lists (tcp_available_congestion_control). */
  SOCKOPT_F_MODULE = 1 << 4,
  /* getsockopt answers only on a connected socket (ENOTCONN otherwise) */
  SOCKOPT_F_CONNECTED = 1 << 5,
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
  /* Added with the full table: */
  uint64_t caps;     /* SOCKOPT_CAP() bits; any one of them suffices */
  uint32_t until;    /* SOCKOPT_KERNEL() the rule is gone from; 0: holds */
  uint16_t flags;    /* enum sockopt_flag */
  const char *ctype; /* the value's C type, for docs: "struct linger" */
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

/* Is err (an errno, either sign) the kernel's refusal for lack of
 * privilege on o, so that asking psockd-priv could help? */
bool sockopt_refused_for_privilege(const struct sockopt *o, int err);

/*
 * May psockd pass getsockopt() for a client with a buffer of len bytes?
 * The number of bytes to pass (len, cut to the entry's get_len), or
 * -ENOPROTOOPT for an option psockd never reads (o NULL, or get_len 0).
 */
int sockopt_check_get(const struct sockopt *o, size_t len);

/* Is o a documented exclusion that psockd refuses whatever the size? */
bool sockopt_never(const struct sockopt *o);

/*
 * Does o's privilege rule hold on a kernel of this SOCKOPT_KERNEL()
 * version (since <= kernel < until)? Before .since the rule may be
 * stricter (.why says how); from .until on the kernel no longer asks.
 */
bool sockopt_rule_holds(const struct sockopt *o, uint32_t kernel);

/* SOCKOPT_KERNEL() of a release string such as uname's "6.1.0-27-amd64"
 * (parts above 255 are cut to 255), or 0 if it does not start a.b. */
uint32_t sockopt_kernel_version(const char *release);
