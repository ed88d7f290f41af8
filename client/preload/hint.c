/* SPDX-License-Identifier: MIT */
/*
 * hint: policy hints in psockd.policy(5) words (see hint.h).
 * Trust boundary: none; the texts are the program's own calls.
 */
#include "hint.h"

#include <errno.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Distinct texts remembered; beyond, every hint is printed. */
#define HINT_MAX 256

static pthread_mutex_t hint_lock = PTHREAD_MUTEX_INITIALIZER;
static char *hint_seen[HINT_MAX];
static unsigned hint_count;

const char *hint_family(int family, char *buf, size_t len) {
  switch (family) {
  case AF_UNIX:
    return "unix";
  case AF_INET:
    return "inet";
  case AF_INET6:
    return "inet6";
  case AF_NETLINK:
    return "netlink";
  case AF_PACKET:
    return "packet";
  case AF_TIPC:
    return "tipc";
  default:
    snprintf(buf, len, "%d", family);
    return buf;
  }
}

/* The type without SOCK_NONBLOCK / SOCK_CLOEXEC. */
static const char *type_name(int type, char *buf, size_t len) {
  switch (type & 0xf) {
  case SOCK_STREAM:
    return "stream";
  case SOCK_DGRAM:
    return "dgram";
  case SOCK_RAW:
    return "raw";
  case SOCK_RDM:
    return "rdm";
  case SOCK_SEQPACKET:
    return "seqpacket";
  default:
    snprintf(buf, len, "%d", type & 0xf);
    return buf;
  }
}

static const char *proto_name(int family, int proto, char *buf, size_t len) {
  if (family == AF_INET || family == AF_INET6) {
    switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    default:
      break;
    }
  }
  if (family == AF_NETLINK && proto == NETLINK_ROUTE)
    return "route";
  snprintf(buf, len, "%d", proto);
  return buf;
}

void hint_socket_words(int family, int type, int proto, char *buf, size_t len) {
  char fb[16], tb[16], pb[16];

  snprintf(buf, len, "family=%s type=%s proto=%s",
           hint_family(family, fb, sizeof(fb)), type_name(type, tb, sizeof(tb)),
           proto_name(family, proto, pb, sizeof(pb)));
}

void hint_address_words(int family, const psock_address *a, char *buf,
                        size_t len) {
  char fb[16];

  if (a && (a->family == AF_INET || a->family == AF_INET6))
    snprintf(buf, len, "family=%s addr=%s port=%u",
             hint_family(family, fb, sizeof(fb)),
             *a->u.in.host ? a->u.in.host : "any", a->u.in.port);
  else
    snprintf(buf, len, "family=%s", hint_family(family, fb, sizeof(fb)));
}

/* Remember text; true if it is new (or the table is full). */
static bool hint_first(const char *text) {
  bool fresh = true;

  pthread_mutex_lock(&hint_lock);
  for (unsigned i = 0; i < hint_count && fresh; i++)
    fresh = strcmp(hint_seen[i], text) != 0;
  if (fresh && hint_count < HINT_MAX) {
    hint_seen[hint_count] = strdup(text);
    if (hint_seen[hint_count])
      hint_count++;
  }
  pthread_mutex_unlock(&hint_lock);
  return fresh;
}

void hint_emit(uid_t uid, bool failed, const char *what) {
  char line[768];
  bool refused = false;
  int saved = errno, kind, n;

  if (failed) {
    /* psockd did not decide (unreachable, not understood): no hint. A
     * failure after psockd allowed the call (EADDRINUSE, EAI_NONAME) is
     * an allowed call. */
    kind = psock_last_error_kind();
    if (kind == PSOCK_ERR_PROTOCOL || kind == PSOCK_ERR_VALUE)
      return;
    refused = kind == PSOCK_ERR_POLICY;
  }
  if (hint_first(what)) {
    if (refused)
      n = snprintf(line, sizeof(line),
                   "psock-run: policy hint: allow uid=%u %s  # refused: %s\n",
                   (unsigned)uid, what, psock_last_error_message());
    else
      n = snprintf(line, sizeof(line),
                   "psock-run: policy hint: allow uid=%u %s\n", (unsigned)uid,
                   what);
    if (n > 0)
      (void)!write(STDERR_FILENO, line,
                   (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
  }
  errno = saved;
}
