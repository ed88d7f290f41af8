/* SPDX-License-Identifier: MIT */
/*
 * sockopts_lookup: lookups and checks over the one table of socket options (see
 * sockopts.h). The data lives in sockopts_socket.c (SOL_SOCKET),
 * sockopts_ip.c (IPv4, IPv6) and sockopts_l4.c (TCP, UDP, SCTP, MPTCP,
 * netlink, packet). Each rule is the kernel's, read from net/core/sock.c,
 * net/ipv4/ip_sockglue.c, net/ipv6/ipv6_sockglue.c, net/ipv4/tcp.c and
 * the other files each part names; tests/unit/test_sockopts.c checks the
 * table against the running kernel, docs/socket-options.md shows it.
 *
 * Why an allow-list: psockd passes a client's value to setsockopt() and a
 * buffer of its own to getsockopt(). The kernel must find nothing there
 * that reaches back into psockd: no pointer it would follow (a BPF filter,
 * netfilter's counters, MPTCP_FULL_INFO), no fd it would look up in
 * psockd's table (SO_ATTACH_BPF), no input a getsockopt would read from
 * psockd's buffer (IP_MSFILTER, SCTP's association queries), no fd or
 * mapping a getsockopt would create in psockd (SO_PEERPIDFD,
 * SCTP_SOCKOPT_PEELOFF, TCP_ZEROCOPY_RECEIVE), no module it would load on
 * psockd's capabilities (TCP_ULP), and no bind or connect the policy did
 * not decide (SCTP_SOCKOPT_BINDX_ADD, SCTP_SOCKOPT_CONNECTX). Such options
 * are in the table only to say so (SOCKOPT_F_NEVER); an option the table
 * does not list is refused the same way.
 *
 * Trust boundary: none of its own; every function here is pure.
 */
#include "sockopts.h"

#include "sockopts_table.h"

#include <string.h>

static const struct {
  const struct sockopt *entries;
  const size_t *count;
} parts[] = {
    {sockopts_socket, &sockopts_socket_count},
    {sockopts_ip, &sockopts_ip_count},
    {sockopts_l4, &sockopts_l4_count},
};

#define N_PARTS (sizeof(parts) / sizeof(parts[0]))

size_t sockopt_count(void) {
  size_t n = 0;

  for (size_t p = 0; p < N_PARTS; p++)
    n += *parts[p].count;
  return n;
}

const struct sockopt *sockopt_at(size_t i) {
  for (size_t p = 0; p < N_PARTS; p++) {
    if (i < *parts[p].count)
      return &parts[p].entries[i];
    i -= *parts[p].count;
  }
  return NULL;
}

const struct sockopt *sockopt_lookup(int level, int optname) {
  for (size_t p = 0; p < N_PARTS; p++)
    for (size_t i = 0; i < *parts[p].count; i++) {
      const struct sockopt *o = &parts[p].entries[i];

      if (o->level == level && o->optname == optname)
        return o;
    }
  return NULL;
}

const struct sockopt *sockopt_by_name(const char *name, size_t len) {
  if (!name)
    return NULL;
  for (size_t p = 0; p < N_PARTS; p++)
    for (size_t i = 0; i < *parts[p].count; i++) {
      const struct sockopt *o = &parts[p].entries[i];

      if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
        return o;
    }
  return NULL;
}

bool sockopt_never(const struct sockopt *o) {
  return !o || (o->flags & SOCKOPT_F_NEVER);
}

int sockopt_check_set(const struct sockopt *o, const void *val, size_t len) {
  if (sockopt_never(o) || o->max_len == 0)
    return -ENOPROTOOPT;
  if (len < o->min_len || len > o->max_len || (len > 0 && !val))
    return -EINVAL;
  return 0;
}

int sockopt_check_get(const struct sockopt *o, size_t len) {
  if (sockopt_never(o) || o->get_len == 0)
    return -ENOPROTOOPT;
  return (int)(len < o->get_len ? len : o->get_len);
}

/* The int a SOCKOPT_BY_VALUE rule compares: the value's first int, or its
 * first byte when shorter (as do_ip_setsockopt() reads it). */
static bool value_int(const void *val, size_t len, int *ret_v) {
  unsigned char byte;

  if (!val || len == 0)
    return false;
  if (len >= sizeof(int)) {
    memcpy(ret_v, val, sizeof(int));
    return true;
  }
  memcpy(&byte, val, 1);
  *ret_v = byte;
  return true;
}

bool sockopt_may_need_privilege(const struct sockopt *o, const void *val,
                                size_t len) {
  int v;

  if (!o)
    return false;
  switch (o->rule) {
  case SOCKOPT_FREE:
    return false;
  case SOCKOPT_BY_VALUE:
    /* A string's free set is the host's (TCP_CONGESTION): try first. */
    if (o->value == SOCKOPT_STRING || !value_int(val, len, &v))
      return true;
    return v < o->free_min || v > o->free_max;
  default:
    return true;
  }
}

bool sockopt_refused_for_privilege(const struct sockopt *o, int err) {
  if (err < 0)
    err = -err;
  return o && o->rule != SOCKOPT_FREE && !sockopt_never(o) &&
         err == o->deny_errno;
}

bool sockopt_rule_holds(const struct sockopt *o, uint32_t kernel) {
  if (!o)
    return false;
  return kernel >= o->since && (o->until == 0 || kernel < o->until);
}

/* One dotted part of a release string, cut to 255. */
static const char *parse_part(const char *s, uint32_t *ret_part) {
  uint32_t v = 0;

  if (*s < '0' || *s > '9')
    return NULL;
  for (; *s >= '0' && *s <= '9'; s++)
    if (v < 255)
      v = v * 10 + (uint32_t)(*s - '0');
  *ret_part = v > 255 ? 255 : v;
  return s;
}

uint32_t sockopt_kernel_version(const char *release) {
  uint32_t part[3] = {0, 0, 0};
  const char *s = release;

  if (!s)
    return 0;
  for (int i = 0; i < 3; i++) {
    s = parse_part(s, &part[i]);
    if (!s)
      return i < 2 ? 0 : SOCKOPT_KERNEL(part[0], part[1], 0);
    if (*s != '.')
      return i < 1 ? 0 : SOCKOPT_KERNEL(part[0], part[1], part[2]);
    s++;
  }
  return SOCKOPT_KERNEL(part[0], part[1], part[2]);
}
