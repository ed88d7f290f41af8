/* SPDX-License-Identifier: MIT */
/*
 * sockopts_probes: every privilege rule of the option table tried by an
 * unprivileged child on fresh sockets (part of test_sockopts_kernel): the
 * refused value must fail with exactly the table's errno (or succeed from
 * the rule's .until on), the free twin must succeed, and root must not be
 * refused the same value.
 */
#include <errno.h>
#include <linux/net_tstamp.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sockopts_test.h"

struct probe {
  const char *name;
  struct sock_kind kind;
  const void *free_val; /* NULL: the rule has no free value to try */
  socklen_t free_len;
  const void *deny_val; /* needs privilege by the table */
  socklen_t deny_len;
  int (*setup)(int fd);      /* on the socket, before the refused value */
  int (*root_setup)(int fd); /* before root's twin (default: setup) */
  bool free_only;            /* this socket has no refused value */
};

static const int zero = 0, one = 1, six = 6, seven = 7, fifty = 50, budget = 64,
                 bufsize = 65536;
static const unsigned char byte_one = 1;
static const struct sock_txtime txtime_mono = {CLOCK_MONOTONIC, 0},
                                txtime_tai = {CLOCK_TAI, 0};
static const unsigned char zeros16[16];
/* An 8-byte extension header: next header 0, length 0, PadN of 4. */
static const unsigned char exthdr_padn[8] = {0, 0, 1, 4, 0, 0, 0, 0};
static const struct ipv6_mreq anycast = {
    .ipv6mr_multiaddr = {{{0x20, 0x01, 0x0d, 0xb8, [15] = 1}}}};
/* An algorithm the kernel has but does not allow to everyone; or "". */
static char cc_denied[16];
static int lo_index_value;

static int bind_to_lo(int fd) {
  return setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) < 0 ? errno : 0;
}

static int repair_on(int fd) {
  return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) < 0 ? errno
                                                                        : 0;
}

#define INT(v) &(v), sizeof(int)
#define NL_ROUTE ((struct sock_kind){AF_NETLINK, SOCK_RAW, NETLINK_ROUTE})
#define NL_XFRM ((struct sock_kind){AF_NETLINK, SOCK_RAW, NETLINK_XFRM})
#define VAL(v) &(v), sizeof(v)

static const struct probe probes[] = {
    {"SO_DEBUG", TCP4, INT(zero), INT(one)},
    {"SO_MARK", UDP4, NULL, 0, INT(one)},
    {"SO_PRIORITY", UDP4, INT(six), INT(seven)},
    {"SO_RCVBUFFORCE", UDP4, NULL, 0, INT(bufsize)},
    {"SO_SNDBUFFORCE", UDP4, NULL, 0, INT(bufsize)},
    {"SO_BINDTODEVICE", UDP4, "lo", 3, "", 1, bind_to_lo},
    {"SO_BINDTODEVICE", TCP6, "lo", 3, "", 0, bind_to_lo},
    {"SO_BINDTOIFINDEX", UDP4, INT(lo_index_value), INT(zero), bind_to_lo},
    {"SO_BUSY_POLL", UDP4, INT(zero), INT(fifty)},
    {"SO_PREFER_BUSY_POLL", UDP4, INT(zero), INT(one)},
    {"SO_BUSY_POLL_BUDGET", UDP4, INT(zero), INT(budget)},
    {"SO_TXTIME", UDP4, VAL(txtime_mono), VAL(txtime_tai)},
    {"IP_TRANSPARENT", UDP4, INT(zero), INT(one)},
    {"IP_TRANSPARENT", TCP4, NULL, 0, &byte_one, 1},
    {"IP_IPSEC_POLICY", UDP4, NULL, 0, VAL(zeros16)},
    {"IP_XFRM_POLICY", UDP4, NULL, 0, VAL(zeros16)},
    {"IPV6_TRANSPARENT", UDP6, INT(zero), INT(one)},
    {"IPV6_HOPOPTS", UDP6, NULL, 0, VAL(exthdr_padn)},
    {"IPV6_HOPOPTS", UDP6, NULL, 0, NULL, 0}, /* clearing, too */
    {"IPV6_DSTOPTS", UDP6, NULL, 0, VAL(exthdr_padn)},
    {"IPV6_RTHDRDSTOPTS", UDP6, NULL, 0, VAL(exthdr_padn)},
    {"IPV6_JOIN_ANYCAST", UDP6, NULL, 0, VAL(anycast)},
    {"IPV6_IPSEC_POLICY", UDP6, NULL, 0, VAL(zeros16)},
    {"IPV6_XFRM_POLICY", UDP6, NULL, 0, VAL(zeros16)},
    {"TCP_REPAIR", TCP4, NULL, 0, INT(one)},
    {"TCP_REPAIR", TCP4, NULL, 0, INT(zero)},
    {"TCP_AO_REPAIR", TCP4, NULL, 0, VAL(zeros16), NULL, repair_on},
    {"TCP_CONGESTION", TCP4, "reno", 5, VAL(cc_denied)},
    {"NETLINK_ADD_MEMBERSHIP", NL_ROUTE, INT(one), .free_only = true},
    {"NETLINK_ADD_MEMBERSHIP", NL_XFRM, NULL, 0, INT(one)},
    {"NETLINK_DROP_MEMBERSHIP", NL_ROUTE, INT(one), .free_only = true},
    {"NETLINK_DROP_MEMBERSHIP", NL_XFRM, NULL, 0, INT(one)},
    {"NETLINK_LISTEN_ALL_NSID", NL_ROUTE, NULL, 0, INT(one)},
    {"NETLINK_LISTEN_ALL_NSID", NL_ROUTE, NULL, 0, INT(zero)},
};

#define N_PROBES (sizeof(probes) / sizeof(probes[0]))

void test_privilege_rules_have_probes(void **state) {
  for (size_t i = 0; i < sockopt_count(); i++) {
    const struct sockopt *o = sockopt_at(i);
    bool found = false;

    if (o->rule == SOCKOPT_FREE || sockopt_never(o))
      continue;
    for (size_t p = 0; p < N_PROBES && !found; p++)
      found = !strcmp(probes[p].name, o->name);
    if (!found)
      fail_msg("%s has a privilege rule but no probe here", o->name);
  }
}

/* The first algorithm in the kernel's list that is not allowed to all. */
static void read_line(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "re");

  if (!f || !fgets(buf, (int)size, f))
    buf[0] = '\0';
  if (f)
    fclose(f);
  buf[strcspn(buf, "\n")] = '\0';
}

static void find_denied_congestion(void) {
  char avail[256], allowed[256], list[260], word[260], *save = NULL;

  read_line("/proc/sys/net/ipv4/tcp_available_congestion_control", avail,
            sizeof(avail));
  read_line("/proc/sys/net/ipv4/tcp_allowed_congestion_control", allowed,
            sizeof(allowed));
  snprintf(list, sizeof(list), " %s ", allowed);
  for (char *t = strtok_r(avail, " ", &save); t;
       t = strtok_r(NULL, " ", &save)) {
    snprintf(word, sizeof(word), " %s ", t);
    if (!strstr(list, word) && strlen(t) < sizeof(cc_denied)) {
      snprintf(cc_denied, sizeof(cc_denied), "%s", t);
      return;
    }
  }
}

static int set_on_fresh(const struct probe *p, const void *v, socklen_t len,
                        int (*setup)(int)) {
  const struct sockopt *o = sockopt_by_name(p->name, strlen(p->name));
  int fd = open_sock(p->kind), rc;

  if (fd < 0)
    return SOCKET_FAILED - fd;
  rc = setup ? setup(fd) : 0;
  if (rc == 0)
    rc = try_set(fd, o, v, len);
  else
    rc += SETUP_FAILED;
  close(fd);
  return rc;
}

static void probe_child(const void *arg, int *res, size_t n) {
  for (size_t i = 0; i < N_PROBES && 2 * i + 1 < n; i++) {
    const struct probe *p = &probes[i];

    if (p->free_val)
      res[2 * i] = set_on_fresh(p, p->free_val, p->free_len, NULL);
    if (!p->free_only)
      res[2 * i + 1] = set_on_fresh(p, p->deny_val, p->deny_len, p->setup);
  }
}

static void check_free(const struct probe *p, const struct sockopt *o, int r) {
  if (!p->free_val || skipped_result(p->name, r))
    return;
  if (r != 0)
    fail_msg("%s: the free value failed for nobody: %s", p->name, strerror(r));
  if (o->rule == SOCKOPT_BY_VALUE && o->value != SOCKOPT_STRING)
    assert_false(sockopt_may_need_privilege(o, p->free_val, p->free_len));
  note_checked();
}

static void check_denied(const struct probe *p, const struct sockopt *o,
                         int r) {
  int want = sockopt_rule_holds(o, kernel) ? o->deny_errno : 0;

  if (skipped_result(p->name, r))
    return;
  if (r != want)
    fail_msg("%s: nobody got %s, the table says %s", p->name,
             r ? strerrorname_np(r) : "success",
             want ? strerrorname_np(want) : "success (rule gone)");
  if (want)
    assert_true(sockopt_refused_for_privilege(o, r));
  if (o->rule == SOCKOPT_BY_VALUE && o->value != SOCKOPT_STRING)
    assert_true(sockopt_may_need_privilege(o, p->deny_val, p->deny_len));
  note_checked();
}

/* Root, with the capabilities, is not refused the same value. */
static void check_root_twin(const struct probe *p, const struct sockopt *o) {
  int r = set_on_fresh(p, p->deny_val, p->deny_len,
                       p->root_setup ? p->root_setup : p->setup);

  if (r >= SOCKET_FAILED)
    return;
  if (r == o->deny_errno)
    fail_msg("%s: root is refused too (%s): not a privilege rule", p->name,
             strerrorname_np(r));
  note_checked();
}

void test_privilege_rules(void **state) {
  int res[2 * N_PROBES];
  int rc;

  lo_index_value = lo_ifindex;
  find_denied_congestion();
  rc = run_unprivileged(probe_child, NULL, res, 2 * N_PROBES);
  if (rc < 0) {
    note_skip("privilege rules", "cannot drop to nobody here (%s)",
              strerror(-rc));
    skip();
  }
  for (size_t i = 0; i < N_PROBES; i++) {
    const struct probe *p = &probes[i];
    const struct sockopt *o = named(p->name);

    assert_true(o->rule != SOCKOPT_FREE);
    if (kernel < o->since) {
      note_skip(p->name, "the rule holds from a later kernel");
      continue;
    }
    if (p->deny_val == cc_denied && !cc_denied[0]) {
      note_skip(p->name, "every available algorithm is allowed to all");
      check_free(p, o, res[2 * i]);
      continue;
    }
    check_free(p, o, res[2 * i]);
    if (p->free_only)
      continue;
    check_denied(p, o, res[2 * i + 1]);
    if (have_net_caps() && res[2 * i + 1] != ENOPROTOOPT)
      check_root_twin(p, o);
  }
}

/* Issue 14's first case, spelled out: nobody binds an unbound socket to
 * "lo", and is refused rebinding (to another device or to none). */
static void bindtodevice_child(const void *arg, int *res, size_t n) {
  int fd = open_sock(UDP4);
  char other[IF_NAMESIZE] = "";

  if (fd < 0) {
    res[0] = SOCKET_FAILED - fd;
    return;
  }
  if (mc_ifindex)
    if_indextoname((unsigned)mc_ifindex, other);
  res[0] = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) ? errno : 0;
  res[1] = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "", 0) ? errno : 0;
  if (other[0])
    res[2] = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, other,
                        (socklen_t)strlen(other) + 1)
                 ? errno
                 : 0;
  res[3] = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) ? errno : 0;
  close(fd);
}

void test_bindtodevice(void **state) {
  int res[4];

  if (kernel < SOCKOPT_KERNEL(5, 7, 0)) {
    note_skip("SO_BINDTODEVICE", "free binding needs Linux 5.7");
    skip();
  }
  if (run_unprivileged(bindtodevice_child, NULL, res, 4) < 0)
    skip();
  assert_int_equal(res[0], 0);
  assert_int_equal(res[1], EPERM);
  if (res[2] != NOT_RUN)
    assert_int_equal(res[2], EPERM);
  assert_int_equal(res[3], EPERM); /* the same device again, too */
  assert_true(sockopt_refused_for_privilege(named("SO_BINDTODEVICE"), EPERM));
  note_checked();
}
