/* SPDX-License-Identifier: MIT */
/*
 * sockopts: the table itself (see sockopts.h). Each rule is the kernel's,
 * read from net/core/sock.c, net/ipv4/ip_sockglue.c and
 * net/ipv6/ipv6_sockglue.c; tests/unit/test_sockopts.c checks the table
 * against the running kernel.
 */
#include "sockopts.h"

#include <errno.h>
#include <linux/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define INT_OPT sizeof(int), sizeof(int)

static const struct sockopt table[] = {
    {"SO_MARK", SOL_SOCKET, SO_MARK, SOCKOPT_INT, SOCKOPT_PRIVILEGED, INT_OPT,
     sizeof(int), 0, 0, EPERM, SOCKOPT_KERNEL(2, 6, 25),
     "CAP_NET_RAW or CAP_NET_ADMIN, any value"},
    {"SO_PRIORITY", SOL_SOCKET, SO_PRIORITY, SOCKOPT_INT, SOCKOPT_BY_VALUE,
     INT_OPT, sizeof(int), 0, 6, EPERM, SOCKOPT_KERNEL(2, 6, 12),
     "0..6 free; other values need CAP_NET_RAW or CAP_NET_ADMIN"},
    {"SO_RCVBUFFORCE", SOL_SOCKET, SO_RCVBUFFORCE, SOCKOPT_INT,
     SOCKOPT_PRIVILEGED, INT_OPT, 0, 0, 0, EPERM, SOCKOPT_KERNEL(2, 6, 14),
     "CAP_NET_ADMIN"},
    {"SO_SNDBUFFORCE", SOL_SOCKET, SO_SNDBUFFORCE, SOCKOPT_INT,
     SOCKOPT_PRIVILEGED, INT_OPT, 0, 0, 0, EPERM, SOCKOPT_KERNEL(2, 6, 14),
     "CAP_NET_ADMIN"},
    {"SO_DEBUG", SOL_SOCKET, SO_DEBUG, SOCKOPT_INT, SOCKOPT_BY_VALUE, INT_OPT,
     sizeof(int), 0, 0, EACCES, SOCKOPT_KERNEL(2, 6, 12),
     "0 free; other values need CAP_NET_ADMIN (EACCES)"},
    {"SO_BINDTODEVICE", SOL_SOCKET, SO_BINDTODEVICE, SOCKOPT_STRING,
     SOCKOPT_BY_STATE, 0, IFNAMSIZ, IFNAMSIZ, 0, 0, EPERM,
     SOCKOPT_KERNEL(5, 7, 0),
     "free on a socket not bound to a device; changing a binding needs "
     "CAP_NET_RAW (always before Linux 5.7)"},
    {"IP_TRANSPARENT", IPPROTO_IP, IP_TRANSPARENT, SOCKOPT_INT,
     SOCKOPT_BY_VALUE, INT_OPT, sizeof(int), 0, 0, EPERM,
     SOCKOPT_KERNEL(2, 6, 28),
     "0 free; other values need CAP_NET_RAW or CAP_NET_ADMIN"},
    {"IPV6_TRANSPARENT", IPPROTO_IPV6, IPV6_TRANSPARENT, SOCKOPT_INT,
     SOCKOPT_BY_VALUE, INT_OPT, sizeof(int), 0, 0, EPERM,
     SOCKOPT_KERNEL(2, 6, 37),
     "0 free; other values need CAP_NET_RAW or CAP_NET_ADMIN"},
};

#define N_TABLE (sizeof(table) / sizeof(table[0]))

const struct sockopt *sockopt_lookup(int level, int optname) {
  for (size_t i = 0; i < N_TABLE; i++)
    if (table[i].level == level && table[i].optname == optname)
      return &table[i];
  return NULL;
}

const struct sockopt *sockopt_by_name(const char *name, size_t len) {
  for (size_t i = 0; i < N_TABLE; i++)
    if (strlen(table[i].name) == len && memcmp(table[i].name, name, len) == 0)
      return &table[i];
  return NULL;
}

size_t sockopt_count(void) {
  return N_TABLE;
}

const struct sockopt *sockopt_at(size_t i) {
  return i < N_TABLE ? &table[i] : NULL;
}

int sockopt_check_set(const struct sockopt *o, const void *val, size_t len) {
  if (!o || o->max_len == 0)
    return -ENOPROTOOPT;
  if (len < o->min_len || len > o->max_len || (len > 0 && !val))
    return -EINVAL;
  return 0;
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
    if (!val || len < sizeof(int))
      return true;
    memcpy(&v, val, sizeof(v));
    return v < o->free_min || v > o->free_max;
  default:
    return true;
  }
}

bool sockopt_refused_for_privilege(const struct sockopt *o, int err) {
  return o && o->rule != SOCKOPT_FREE && err == o->deny_errno;
}
