/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for proto/sockopts*.c, the one table of socket options: the
 * pure checks psockd and the client make with it (value sizes, privilege
 * by value, which refusals to escalate), each refusal next to its accepted
 * twin; the table's own consistency; and docs/socket-options.md, whose
 * table rows must be exactly what `test_sockopts --doc` prints from the
 * table. test_sockopts_kernel.c holds the table against the running kernel.
 */
#include <errno.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "sockopts.h"

static const struct sockopt *named(const char *name) {
  const struct sockopt *o = sockopt_by_name(name, strlen(name));

  if (!o)
    fail_msg("%s is not in the table", name);
  return o;
}

/* ---- the pure functions ---- */

static void test_lookup(void **state) {
  const struct sockopt *o = sockopt_lookup(SOL_SOCKET, SO_MARK);

  assert_non_null(o);
  assert_string_equal(o->name, "SO_MARK");
  assert_ptr_equal(named("SO_MARK"), o);
  assert_ptr_equal(named("TCP_NODELAY"),
                   sockopt_lookup(IPPROTO_TCP, TCP_NODELAY));
  /* Refused: unknown pairs, prefixes, NULL. */
  assert_null(sockopt_lookup(SOL_SOCKET, 9999));
  assert_null(sockopt_lookup(12345, SO_MARK));
  assert_null(sockopt_by_name("SO_MAR", 6));
  assert_null(sockopt_by_name("SO_MARKX", 8));
  assert_null(sockopt_by_name(NULL, 0));
  assert_null(sockopt_at(sockopt_count()));
  assert_non_null(sockopt_at(sockopt_count() - 1));
}

static void test_check_set_bounds(void **state) {
  int v = 1;
  char buf[32] = "lo";

  assert_int_equal(sockopt_check_set(named("SO_MARK"), &v, sizeof(v)), 0);
  assert_int_equal(sockopt_check_set(named("SO_MARK"), &v, 3), -EINVAL);
  assert_int_equal(sockopt_check_set(named("SO_MARK"), buf, 5), -EINVAL);
  assert_int_equal(sockopt_check_set(named("SO_MARK"), NULL, 4), -EINVAL);
  /* IPv4 takes one byte as well as an int, not nothing. */
  assert_int_equal(sockopt_check_set(named("IP_TOS"), buf, 1), 0);
  assert_int_equal(sockopt_check_set(named("IP_TOS"), buf, 0), -EINVAL);
  /* An interface name: empty (unbind) up to IFNAMSIZ. */
  assert_int_equal(sockopt_check_set(named("SO_BINDTODEVICE"), NULL, 0), 0);
  assert_int_equal(sockopt_check_set(named("SO_BINDTODEVICE"), buf, 16), 0);
  assert_int_equal(sockopt_check_set(named("SO_BINDTODEVICE"), buf, 17),
                   -EINVAL);
  assert_int_equal(
      sockopt_check_set(named("SO_LINGER"), buf, sizeof(struct linger)), 0);
  assert_int_equal(sockopt_check_set(named("SO_LINGER"), buf, 4), -EINVAL);
  /* Never set through psockd: read-only, excluded, unknown. */
  assert_int_equal(sockopt_check_set(named("SO_TYPE"), &v, 4), -ENOPROTOOPT);
  assert_int_equal(sockopt_check_set(named("SO_ATTACH_FILTER"), buf, 16),
                   -ENOPROTOOPT);
  assert_int_equal(sockopt_check_set(named("SO_ATTACH_BPF"), &v, 4),
                   -ENOPROTOOPT);
  assert_int_equal(sockopt_check_set(named("TCP_ULP"), "tls", 4), -ENOPROTOOPT);
  assert_int_equal(sockopt_check_set(NULL, &v, 4), -ENOPROTOOPT);
}

static void test_check_get(void **state) {
  assert_int_equal(sockopt_check_get(named("SO_TYPE"), 100), sizeof(int));
  assert_int_equal(sockopt_check_get(named("SO_TYPE"), 2), 2);
  assert_int_equal(sockopt_check_get(named("TCP_INFO"), 104), 104);
  assert_int_equal(sockopt_check_get(named("SO_BINDTODEVICE"), 64), 16);
  /* Refused: getsockopts that read input, map pages, create fds. */
  assert_int_equal(sockopt_check_get(named("TCP_ZEROCOPY_RECEIVE"), 64),
                   -ENOPROTOOPT);
  assert_int_equal(sockopt_check_get(named("IP_MSFILTER"), 64), -ENOPROTOOPT);
  assert_int_equal(sockopt_check_get(named("SO_ATTACH_FILTER"), 64),
                   -ENOPROTOOPT);
  assert_int_equal(sockopt_check_get(named("MPTCP_FULL_INFO"), 64),
                   -ENOPROTOOPT);
  /* Write-only options are not read either. */
  assert_int_equal(sockopt_check_get(named("SO_RCVBUFFORCE"), 4), -ENOPROTOOPT);
  assert_int_equal(sockopt_check_get(NULL, 4), -ENOPROTOOPT);
}

static bool may_need_int(const char *name, int v) {
  return sockopt_may_need_privilege(named(name), &v, sizeof(v));
}

static void test_may_need_privilege(void **state) {
  unsigned char byte;
  struct {
    int clockid;
    unsigned flags;
  } tt = {CLOCK_MONOTONIC, 0}; /* struct sock_txtime */

  assert_false(may_need_int("SO_PRIORITY", 0));
  assert_false(may_need_int("SO_PRIORITY", 6));
  assert_true(may_need_int("SO_PRIORITY", 7));
  assert_true(may_need_int("SO_PRIORITY", -1));
  assert_false(may_need_int("SO_DEBUG", 0));
  assert_true(may_need_int("SO_DEBUG", 1));
  assert_false(may_need_int("IP_TRANSPARENT", 0));
  assert_true(may_need_int("IP_TRANSPARENT", 2));
  assert_false(may_need_int("SO_PREFER_BUSY_POLL", 0));
  assert_true(may_need_int("SO_PREFER_BUSY_POLL", 1));
  /* IPv4's one-byte form is judged by that byte. */
  byte = 0;
  assert_false(sockopt_may_need_privilege(named("IP_TRANSPARENT"), &byte, 1));
  byte = 1;
  assert_true(sockopt_may_need_privilege(named("IP_TRANSPARENT"), &byte, 1));
  /* A structure by its first int: SO_TXTIME's clockid. */
  assert_false(sockopt_may_need_privilege(named("SO_TXTIME"), &tt, sizeof(tt)));
  tt.clockid = CLOCK_TAI;
  assert_true(sockopt_may_need_privilege(named("SO_TXTIME"), &tt, sizeof(tt)));
  /* No value to judge: assume it may. */
  assert_true(sockopt_may_need_privilege(named("SO_PRIORITY"), NULL, 0));
  /* Always, by state, by the host's list: may. */
  assert_true(may_need_int("SO_MARK", 0));
  assert_true(may_need_int("TCP_REPAIR", 0));
  assert_true(may_need_int("SO_BINDTOIFINDEX", 1));
  assert_true(sockopt_may_need_privilege(named("SO_BINDTODEVICE"), "lo", 3));
  assert_true(sockopt_may_need_privilege(named("TCP_CONGESTION"), "reno", 5));
  /* Free: never. */
  assert_false(may_need_int("SO_REUSEADDR", 1));
  assert_false(may_need_int("TCP_REPAIR_QUEUE", 1));
  assert_false(may_need_int("IP_HDRINCL", 1));
  assert_false(sockopt_may_need_privilege(NULL, NULL, 0));
}

static void test_refused_for_privilege(void **state) {
  assert_true(sockopt_refused_for_privilege(named("SO_DEBUG"), EACCES));
  assert_false(sockopt_refused_for_privilege(named("SO_DEBUG"), EPERM));
  assert_true(sockopt_refused_for_privilege(named("SO_MARK"), EPERM));
  assert_true(sockopt_refused_for_privilege(named("SO_MARK"), -EPERM));
  assert_false(sockopt_refused_for_privilege(named("SO_MARK"), EINVAL));
  assert_true(sockopt_refused_for_privilege(named("SO_BINDTODEVICE"), EPERM));
  assert_false(sockopt_refused_for_privilege(named("SO_BINDTODEVICE"), ENODEV));
  assert_true(sockopt_refused_for_privilege(named("TCP_CONGESTION"), EPERM));
  assert_false(sockopt_refused_for_privilege(named("TCP_CONGESTION"), ENOENT));
  /* EPERM that no capability cures: do not escalate. */
  assert_false(sockopt_refused_for_privilege(named("TCP_REPAIR_QUEUE"), EPERM));
  assert_false(sockopt_refused_for_privilege(named("SO_LOCK_FILTER"), EPERM));
  assert_false(sockopt_refused_for_privilege(named("SO_REUSEADDR"), EPERM));
  assert_false(sockopt_refused_for_privilege(named("TCP_ULP"), EPERM));
  assert_false(sockopt_refused_for_privilege(NULL, EPERM));
}

static void test_kernel_versions(void **state) {
  assert_int_equal(sockopt_kernel_version("6.1.0-27-amd64"),
                   SOCKOPT_KERNEL(6, 1, 0));
  assert_int_equal(sockopt_kernel_version("6.18.44-fc-v1252"),
                   SOCKOPT_KERNEL(6, 18, 44));
  assert_int_equal(sockopt_kernel_version("5.7"), SOCKOPT_KERNEL(5, 7, 0));
  assert_int_equal(sockopt_kernel_version("4.19.325"),
                   SOCKOPT_KERNEL(4, 19, 255));
  assert_int_equal(sockopt_kernel_version("6.1-rc3"), SOCKOPT_KERNEL(6, 1, 0));
  assert_int_equal(sockopt_kernel_version("6"), 0);
  assert_int_equal(sockopt_kernel_version("linux"), 0);
  assert_int_equal(sockopt_kernel_version(""), 0);
  assert_int_equal(sockopt_kernel_version(NULL), 0);

  assert_true(
      sockopt_rule_holds(named("SO_BUSY_POLL"), SOCKOPT_KERNEL(6, 1, 0)));
  assert_false(
      sockopt_rule_holds(named("SO_BUSY_POLL"), SOCKOPT_KERNEL(6, 4, 0)));
  assert_true(
      sockopt_rule_holds(named("SO_BINDTODEVICE"), SOCKOPT_KERNEL(6, 18, 0)));
  assert_false(
      sockopt_rule_holds(named("SO_BINDTODEVICE"), SOCKOPT_KERNEL(5, 6, 0)));
  assert_false(sockopt_rule_holds(NULL, SOCKOPT_KERNEL(6, 1, 0)));
}

/* ---- the table's own consistency ---- */

static void test_table_sane(void **state) {
  size_t n = sockopt_count();

  assert_true(n > 150);
  for (size_t i = 0; i < n; i++) {
    const struct sockopt *o = sockopt_at(i);

    assert_non_null(o->name);
    assert_non_null(o->ctype);
    if (!o->name[0] || strpbrk(o->name, " \t|"))
      fail_msg("bad name \"%s\"", o->name);
    if (o->min_len > o->max_len)
      fail_msg("%s: min_len %u > max_len %u", o->name, o->min_len, o->max_len);
    if (o->until && o->until <= o->since)
      fail_msg("%s: until before since", o->name);
    for (size_t j = i + 1; j < n; j++) {
      const struct sockopt *p = sockopt_at(j);

      if (!strcmp(o->name, p->name))
        fail_msg("name %s twice", o->name);
      if (o->level == p->level && o->optname == p->optname)
        fail_msg("%s and %s share (%d, %d)", o->name, p->name, o->level,
                 o->optname);
    }
    assert_ptr_equal(sockopt_lookup(o->level, o->optname), o);
    assert_ptr_equal(sockopt_by_name(o->name, strlen(o->name)), o);
  }
}

static void test_table_rules_sane(void **state) {
  for (size_t i = 0; i < sockopt_count(); i++) {
    const struct sockopt *o = sockopt_at(i);

    assert_true(o->rule <= SOCKOPT_BY_STATE);
    if (sockopt_never(o)) {
      /* Documented exclusions: no size, a reason, no privilege rule. */
      if (o->max_len || o->get_len || !o->why || o->rule != SOCKOPT_FREE)
        fail_msg("%s: a never entry with sizes or a rule", o->name);
      continue;
    }
    if (o->max_len == 0 && o->get_len == 0)
      fail_msg("%s: neither set nor read (mark it never)", o->name);
    if (o->rule == SOCKOPT_FREE) {
      if (o->caps || o->deny_errno || o->until)
        fail_msg("%s: free but with a capability", o->name);
      continue;
    }
    if (!o->caps || !o->deny_errno || !o->since || !o->why)
      fail_msg("%s: a privilege rule needs caps, errno, since, why", o->name);
    if (o->max_len == 0)
      fail_msg("%s: privileged but never settable", o->name);
    if (o->rule == SOCKOPT_BY_VALUE && o->value != SOCKOPT_STRING &&
        o->free_min > o->free_max)
      fail_msg("%s: empty free range", o->name);
  }
}

static void test_table_keeps_the_seed_rules(void **state) {
  /* The eight entries every part of psock already relies on. */
  assert_int_equal(named("SO_MARK")->rule, SOCKOPT_PRIVILEGED);
  assert_int_equal(named("SO_PRIORITY")->free_max, 6);
  assert_int_equal(named("SO_RCVBUFFORCE")->deny_errno, EPERM);
  assert_int_equal(named("SO_SNDBUFFORCE")->deny_errno, EPERM);
  assert_int_equal(named("SO_DEBUG")->deny_errno, EACCES);
  assert_int_equal(named("SO_BINDTODEVICE")->rule, SOCKOPT_BY_STATE);
  assert_int_equal(named("SO_BINDTODEVICE")->since, SOCKOPT_KERNEL(5, 7, 0));
  assert_int_equal(named("IP_TRANSPARENT")->rule, SOCKOPT_BY_VALUE);
  assert_int_equal(named("IPV6_TRANSPARENT")->rule, SOCKOPT_BY_VALUE);
}

/* ---- docs/socket-options.md ---- */

static const char *level_name(int level) {
  switch (level) {
  case SOL_SOCKET:
    return "SOL_SOCKET";
  case IPPROTO_IP:
    return "IPPROTO_IP";
  case IPPROTO_IPV6:
    return "IPPROTO_IPV6";
  case IPPROTO_TCP:
    return "IPPROTO_TCP";
  case IPPROTO_UDP:
    return "IPPROTO_UDP";
  case IPPROTO_UDPLITE:
    return "IPPROTO_UDPLITE";
  case IPPROTO_SCTP:
    return "IPPROTO_SCTP";
  case IPPROTO_ICMPV6:
    return "IPPROTO_ICMPV6";
  case 255:
    return "SOL_RAW";
  case 263:
    return "SOL_PACKET";
  case 284:
    return "SOL_MPTCP";
  case 270:
    return "SOL_NETLINK";
  default:
    return "?";
  }
}

static void print_version(FILE *f, uint32_t v) {
  if (!v)
    fprintf(f, "?");
  else
    fprintf(f, "%u.%u", v >> 16, (v >> 8) & 0xff);
  if (v & 0xff)
    fprintf(f, ".%u", v & 0xff);
}

static void print_caps(FILE *f, uint64_t caps) {
  const char *sep = "";

  if (caps & SOCKOPT_CAP(CAP_NET_RAW)) {
    fprintf(f, "CAP_NET_RAW");
    sep = " or ";
  }
  if (caps & SOCKOPT_CAP(CAP_NET_ADMIN)) {
    fprintf(f, "%sCAP_NET_ADMIN", sep);
    sep = " or ";
  }
  if (caps & SOCKOPT_CAP(CAP_NET_BROADCAST))
    fprintf(f, "%sCAP_NET_BROADCAST", sep);
}

static void print_value(FILE *f, const struct sockopt *o) {
  fprintf(f, "%s", o->ctype);
  if (sockopt_never(o))
    return;
  if (o->max_len == o->min_len && o->max_len)
    fprintf(f, ", %u", o->max_len);
  else if (o->max_len)
    fprintf(f, ", %u..%u", o->min_len, o->max_len);
  if (!o->max_len)
    fprintf(f, ", read only");
  else if (!o->get_len)
    fprintf(f, ", set only");
}

static void print_who(FILE *f, const struct sockopt *o) {
  if (sockopt_never(o)) {
    fprintf(f, "never through psockd");
    return;
  }
  if (!o->max_len) {
    fprintf(f, "nobody");
    return;
  }
  if (o->rule == SOCKOPT_FREE) {
    fprintf(f, "anyone%s%s",
            o->flags & SOCKOPT_F_RAW ? ", on a raw socket" : "",
            o->flags & SOCKOPT_F_REPAIR ? ", in repair mode" : "");
    return;
  }
  if (o->rule == SOCKOPT_BY_VALUE)
    fprintf(f, "free values: anyone; others: ");
  else if (o->rule == SOCKOPT_BY_STATE)
    fprintf(f, "by state: anyone or ");
  print_caps(f, o->caps);
}

/* One row of the doc's table, as docs/socket-options.md must hold it. */
static void print_row(FILE *f, const struct sockopt *o) {
  fprintf(f, "| `%s` | %s | ", o->name, level_name(o->level));
  print_value(f, o);
  fprintf(f, " | ");
  print_who(f, o);
  fprintf(f, " | %s", o->why ? o->why : "-");
  if (o->rule != SOCKOPT_FREE)
    fprintf(f, "; refused: %s", strerrorname_np(o->deny_errno));
  fprintf(f, " | ");
  print_version(f, o->since);
  if (o->until) {
    fprintf(f, " to ");
    print_version(f, o->until);
  }
  fprintf(f, " |\n");
}

static void print_doc_table(FILE *f) {
  fprintf(f, "| Name | Level | Value | Who may set it | Rule | Since |\n");
  fprintf(f, "| --- | --- | --- | --- | --- | --- |\n");
  for (size_t i = 0; i < sockopt_count(); i++)
    print_row(f, sockopt_at(i));
}

static const char *doc_path;

static void test_doc_matches_table(void **state) {
  FILE *doc;
  char *text = NULL, *row = NULL;
  size_t text_len = 0, row_len = 0, missing = 0, rows = 0;

  if (!doc_path) {
    printf("skipped: no path to docs/socket-options.md given\n");
    skip();
  }
  doc = fopen(doc_path, "re");
  if (!doc)
    fail_msg("%s: %s", doc_path, strerror(errno));
  text = malloc(1 << 20);
  assert_non_null(text);
  text_len = fread(text, 1, (1 << 20) - 1, doc);
  text[text_len] = '\0';
  fclose(doc);
  for (size_t i = 0; i < sockopt_count(); i++) {
    FILE *m = open_memstream(&row, &row_len);

    print_row(m, sockopt_at(i));
    fclose(m);
    if (!strstr(text, row)) {
      printf("docs/socket-options.md lacks or differs: %s", row);
      missing++;
    }
    free(row);
    row = NULL;
  }
  /* And no row for an option the table no longer has. */
  for (const char *l = text; (l = strstr(l, "\n| `")); l++)
    rows++;
  free(text);
  if (rows != sockopt_count())
    fail_msg("docs/socket-options.md has %zu rows, the table %zu entries", rows,
             sockopt_count());
  if (missing)
    fail_msg("%zu rows differ: regenerate with test_sockopts --doc", missing);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lookup),
      cmocka_unit_test(test_check_set_bounds),
      cmocka_unit_test(test_check_get),
      cmocka_unit_test(test_may_need_privilege),
      cmocka_unit_test(test_refused_for_privilege),
      cmocka_unit_test(test_kernel_versions),
      cmocka_unit_test(test_table_sane),
      cmocka_unit_test(test_table_rules_sane),
      cmocka_unit_test(test_table_keeps_the_seed_rules),
      cmocka_unit_test(test_doc_matches_table),
  };

  if (argc > 1 && !strcmp(argv[1], "--doc")) {
    print_doc_table(stdout);
    return 0;
  }
  if (argc > 1)
    doc_path = argv[1];
  return cmocka_run_group_tests(tests, NULL, NULL);
}
