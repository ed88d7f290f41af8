/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the policy (daemon/policy.c, daemon/policy_parse.c): for
 * every kind of rule an allowed request next to its refused twin, rule
 * order, the "a missing key never widens a rule" semantics, the built-in
 * default policy, every parse error at its exact FILE:LINE:COL, and the
 * dump -> parse round trip.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"
#include "policy_internal.h"

#ifndef AF_TIPC
#define AF_TIPC 30
#endif

/* --- helpers ------------------------------------------------------------ */

static struct policy *load_at(const char *file, int line, const char *text) {
  struct policy *p = NULL;
  unsigned nerr = 99;
  int r = policy_load_string("t.conf", text, strlen(text), stderr, &nerr, &p);

  _assert_int_equal(r, 0, file, line);
  _assert_int_equal(nerr, 0, file, line);
  return p;
}
#define load(text) load_at(__FILE__, __LINE__, text)

/* Parsing text fails with exactly the error lines in expected. */
static void errors_at(const char *file, int line, const char *text, unsigned n,
                      const char *expected) {
  struct policy *p = (struct policy *)&n;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  unsigned nerr = 0;
  int r;

  assert_non_null(f);
  r = policy_load_string("t.conf", text, strlen(text), f, &nerr, &p);
  fclose(f);
  _assert_int_equal(r, -EINVAL, file, line);
  _assert_string_equal(buf, expected, file, line);
  _assert_int_equal(nerr, n, file, line);
  _assert_int_equal(p == (struct policy *)&n, 1, file, line); /* untouched */
  free(buf);
}
#define errors(text, n, expected)                                              \
  errors_at(__FILE__, __LINE__, text, n, expected)

struct qb {
  struct policy_query q;
  struct sockaddr_storage ss;
};

static const struct policy_query *qfam(struct qb *b, enum policy_call call,
                                       int family) {
  memset(b, 0, sizeof(*b));
  b->q.call = call;
  b->q.family = family;
  return &b->q;
}

static const struct policy_query *qsock(struct qb *b, int family, int type,
                                        int proto) {
  qfam(b, POLICY_SOCKET, family);
  b->q.type = type;
  b->q.proto = proto;
  return &b->q;
}

/* bind/connect/sendto to ip:port (an IPv6 address if ip has a ':'). */
static const struct policy_query *qaddr(struct qb *b, enum policy_call call,
                                        int family, const char *ip, int port) {
  struct sockaddr_in *sin = (struct sockaddr_in *)&b->ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&b->ss;

  qfam(b, call, family);
  if (strchr(ip, ':')) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
    b->q.addrlen = sizeof(*sin6);
  } else {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
    b->q.addrlen = sizeof(*sin);
  }
  b->q.addr = (struct sockaddr *)&b->ss;
  return &b->q;
}

static const struct policy_query *qopt(struct qb *b, int family, int level,
                                       int optname) {
  qfam(b, POLICY_SETSOCKOPT, family);
  b->q.level = level;
  b->q.optname = optname;
  return &b->q;
}

static const struct policy_subject *subj(struct policy_subject *s, uid_t uid,
                                         gid_t gid) {
  *s = (struct policy_subject){.uid = uid, .gid = gid};
  return s;
}

static void decide_at(const char *file, int line, const struct policy *p,
                      const struct policy_subject *s,
                      const struct policy_query *q, bool allow, int error,
                      const char *rule) {
  struct policy_decision d;

  memset(&d, 0x55, sizeof(d));
  policy_check(p, s, q, &d);
  _assert_int_equal(d.allow, allow, file, line);
  _assert_int_equal(d.error, error, file, line);
  _assert_string_equal(d.rule, rule, file, line);
}
#define ALLOW(p, s, q, rule)                                                   \
  decide_at(__FILE__, __LINE__, p, s, q, true, 0, rule)
#define DENY(p, s, q, err, rule)                                               \
  decide_at(__FILE__, __LINE__, p, s, q, false, err, rule)
#define NOMATCH(p, s, q) DENY(p, s, q, EACCES, "no rule matched")
/* No rule matched a request that mirrors a missing capability. */
#define NOMATCH_EPERM(p, s, q) DENY(p, s, q, EPERM, "no rule matched")

/* --- who ---------------------------------------------------------------- */

static void test_who_anyone_uid_user(void **state) {
  struct policy_subject s;
  struct qb b;
  struct passwd *pw = getpwnam("root");
  struct policy *p = load("allow anyone lookup\n"
                          "allow uid=1000,1001 reverse\n"
                          "allow user=root socket family=any type=any "
                          "proto=any\n");

  assert_non_null(pw);
  ALLOW(p, subj(&s, 4242, 4242), qfam(&b, POLICY_LOOKUP, 0), "t.conf:1");
  ALLOW(p, subj(&s, 1000, 5), qfam(&b, POLICY_REVERSE, 0), "t.conf:2");
  ALLOW(p, subj(&s, 1001, 5), qfam(&b, POLICY_REVERSE, 0), "t.conf:2");
  NOMATCH(p, subj(&s, 1002, 5), qfam(&b, POLICY_REVERSE, 0));
  ALLOW(p, subj(&s, pw->pw_uid, 7), qsock(&b, AF_INET, SOCK_RAW, 1),
        "t.conf:3");
  NOMATCH_EPERM(p, subj(&s, 1000, 0), qsock(&b, AF_INET, SOCK_RAW, 1));
  policy_free(p);
}

static void test_who_gid_group(void **state) {
  struct group *gr = getgrnam("root");
  gid_t supp[] = {3, 100}, other[] = {3, 7};
  struct policy_subject s;
  struct qb b;
  struct policy *p = load("allow gid=100 lookup\n"
                          "allow group=root reverse\n");

  assert_non_null(gr);
  /* gid= and group= match the primary group... */
  ALLOW(p, subj(&s, 1000, 100), qfam(&b, POLICY_LOOKUP, 0), "t.conf:1");
  ALLOW(p, subj(&s, 1000, gr->gr_gid), qfam(&b, POLICY_REVERSE, 0), "t.conf:2");
  /* ...or any supplementary group... */
  subj(&s, 1000, 5);
  s.groups = supp;
  s.n_groups = 2;
  ALLOW(p, &s, qfam(&b, POLICY_LOOKUP, 0), "t.conf:1");
  supp[0] = gr->gr_gid;
  ALLOW(p, &s, qfam(&b, POLICY_REVERSE, 0), "t.conf:2");
  /* ...and nothing else. */
  s.groups = other;
  NOMATCH(p, &s, qfam(&b, POLICY_LOOKUP, 0));
  NOMATCH(p, &s, qfam(&b, POLICY_REVERSE, 0));
  policy_free(p);
}

static void test_who_unit(void **state) {
  struct policy_subject s;
  struct qb b;
  const struct policy_query *q = qfam(&b, POLICY_LOOKUP, 0);
  struct policy *p = load("allow unit=foo.service lookup\n"
                          "allow unit=app@*.service lookup\n"
                          "allow unit=web-* lookup\n"
                          "allow unit=user@*.service/*.scope lookup\n");

  subj(&s, 1000, 1000);
  s.unit = "foo.service";
  ALLOW(p, &s, q, "t.conf:1");
  s.unit = "app@1.service";
  ALLOW(p, &s, q, "t.conf:2");
  s.unit = "app@.service"; /* '*' matches nothing too */
  ALLOW(p, &s, q, "t.conf:2");
  s.unit = "web-front.socket";
  ALLOW(p, &s, q, "t.conf:3");
  s.unit = "user@1000.service/app-firefox.scope";
  ALLOW(p, &s, q, "t.conf:4");
  /* Refused twins: near misses, a user unit of the same name, no unit. */
  s.unit = "foo.service.d";
  NOMATCH(p, &s, q);
  s.unit = "xfoo.service";
  NOMATCH(p, &s, q);
  s.unit = "app@1.socket";
  NOMATCH(p, &s, q);
  s.unit = "user@1000.service/foo.service";
  NOMATCH(p, &s, q);
  s.unit = "user@1000.service/app@1.service";
  NOMATCH(p, &s, q);
  s.unit = "user@1000.service/x/y.scope"; /* '*' stops at '/' */
  NOMATCH(p, &s, q);
  s.unit = "";
  NOMATCH(p, &s, q);
  s.unit = NULL;
  NOMATCH(p, &s, q);
  policy_free(p);
}

static void test_who_all_keys_must_match(void **state) {
  struct policy_subject s;
  struct qb b;
  const struct policy_query *q = qfam(&b, POLICY_LOOKUP, 0);
  struct policy *p = load("allow uid=1000 gid=50 unit=a.service lookup\n");

  subj(&s, 1000, 50);
  s.unit = "a.service";
  ALLOW(p, &s, q, "t.conf:1");
  s.uid = 1001;
  NOMATCH(p, &s, q);
  s.uid = 1000;
  s.gid = 51;
  NOMATCH(p, &s, q);
  s.gid = 50;
  s.unit = "b.service";
  NOMATCH(p, &s, q);
  policy_free(p);
}

/*
 * What the master hands its roles: the resolved dump, names as ids.
 * A rule with both uid= and user= (and gid= and group=, which different
 * groups of one client may each match) parses back and decides exactly
 * as the original, on the same line.
 */
static void test_resolved_dump_keeps_user_and_group(void **state) {
  struct group *gr = getgrnam("root");
  gid_t supp[] = {100};
  struct policy_subject s;
  struct policy *p, *r;
  struct qb b;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);

  assert_non_null(gr);
  assert_non_null(f);
  p = load("allow uid=0 user=root lookup\n"
           "\n"
           "allow gid=100 group=root reverse\n");
  policy_dump_resolved(p, f);
  fclose(f);
  assert_string_equal(text, "allow uid=0 user=0 lookup\n"
                            "\n"
                            "allow gid=100 group=0 reverse\n");
  r = load(text);
  for (int i = 0; i < 2; i++) {
    const struct policy *x = i ? r : p;
    ALLOW(x, subj(&s, 0, 0), qfam(&b, POLICY_LOOKUP, 0), "t.conf:1");
    NOMATCH(x, subj(&s, 1, 0), qfam(&b, POLICY_LOOKUP, 0));
    /* gid 100 by a supplementary group, root by the primary one */
    subj(&s, 1000, gr->gr_gid);
    s.groups = supp;
    s.n_groups = 1;
    ALLOW(x, &s, qfam(&b, POLICY_REVERSE, 0), "t.conf:3");
    s.n_groups = 0;
    NOMATCH(x, &s, qfam(&b, POLICY_REVERSE, 0));
  }
  /* Digits are an id, never a name to look up; too large is an error. */
  errors("allow user=4294967295 lookup\n", 1,
         "t.conf:1:12: bad user '4294967295' (expected a number below "
         "4294967295)\n");
  policy_free(r);
  policy_free(p);
  free(text);
}

/* --- what --------------------------------------------------------------- */

/* A rule for one call admits that call and no other. */
static void test_each_call(void **state) {
  static const char *const rules[POLICY_N_CALLS] = {
      [POLICY_SOCKET] = "allow anyone socket family=any type=any proto=any",
      [POLICY_BIND] = "allow anyone bind family=any addr=any port=any",
      [POLICY_CONNECT] = "allow anyone connect family=any addr=any port=any",
      [POLICY_SENDTO] = "allow anyone sendto family=any addr=any port=any",
      [POLICY_LISTEN] = "allow anyone listen family=any",
      [POLICY_LOOKUP] = "allow anyone lookup",
      [POLICY_REVERSE] = "allow anyone reverse",
      [POLICY_SETSOCKOPT] = "allow anyone setsockopt family=any option=any",
  };
  struct policy_subject s;
  struct qb b;

  subj(&s, 1000, 1000);
  for (int c = 0; c < POLICY_N_CALLS; c++) {
    struct policy *p = load(rules[c]);

    for (int q = 0; q < POLICY_N_CALLS; q++) {
      const struct policy_query *pq =
          q == POLICY_SOCKET       ? qsock(&b, AF_INET, SOCK_STREAM, 0)
          : q == POLICY_SETSOCKOPT ? qopt(&b, AF_INET, SOL_SOCKET, SO_MARK)
          : (q == POLICY_BIND || q == POLICY_CONNECT || q == POLICY_SENDTO)
              ? qaddr(&b, (enum policy_call)q, AF_INET, "127.0.0.1", 80)
              : qfam(&b, (enum policy_call)q, AF_INET);

      if (q == c)
        ALLOW(p, &s, pq, "t.conf:1");
      else if (q == POLICY_SETSOCKOPT)
        NOMATCH_EPERM(p, &s, pq);
      else
        NOMATCH(p, &s, pq);
    }
    policy_free(p);
  }
}

static void test_family_type_proto(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p =
      load("allow anyone socket family=inet6 type=stream proto=tcp\n"
           "allow anyone socket family=2 type=2 proto=17\n"
           "allow anyone socket family=netlink type=raw proto=route\n"
           "allow anyone socket family=any type=seqpacket proto=6\n");

  subj(&s, 1000, 1000);
  ALLOW(p, &s, qsock(&b, AF_INET6, SOCK_STREAM, IPPROTO_TCP), "t.conf:1");
  NOMATCH(p, &s, qsock(&b, AF_INET, SOCK_STREAM, IPPROTO_TCP));
  NOMATCH(p, &s, qsock(&b, AF_INET6, SOCK_DGRAM, IPPROTO_TCP));
  NOMATCH(p, &s, qsock(&b, AF_INET6, SOCK_STREAM, 0));
  /* Numbers mean the same as names. */
  ALLOW(p, &s, qsock(&b, AF_INET, SOCK_DGRAM, IPPROTO_UDP), "t.conf:2");
  NOMATCH(p, &s, qsock(&b, AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE));
  /* SOCK_NONBLOCK / SOCK_CLOEXEC are not part of the type. */
  ALLOW(p, &s, qsock(&b, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP),
        "t.conf:2");
  /* "route" is NETLINK_ROUTE (0) in netlink only. */
  ALLOW(p, &s, qsock(&b, AF_NETLINK, SOCK_RAW, 0), "t.conf:3");
  NOMATCH(p, &s, qsock(&b, AF_NETLINK, SOCK_RAW, 9));
  /* A protocol name means its family's protocol: tcp (6) is not
   * NETLINK_XFRM (6); the number 6 is 6 anywhere. */
  NOMATCH(p, &s, qsock(&b, AF_NETLINK, SOCK_STREAM, 6));
  ALLOW(p, &s, qsock(&b, AF_NETLINK, SOCK_SEQPACKET, 6), "t.conf:4");
  policy_free(p);
  p = load("allow anyone socket family=any type=any proto=tcp\n");
  ALLOW(p, &s, qsock(&b, AF_INET, SOCK_RAW, IPPROTO_TCP), "t.conf:1");
  NOMATCH(p, &s, qsock(&b, AF_NETLINK, SOCK_RAW, IPPROTO_TCP));
  NOMATCH_EPERM(p, &s, qsock(&b, AF_PACKET, SOCK_RAW, IPPROTO_TCP));
  policy_free(p);
}

static void test_addr_cidr(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p =
      load("allow anyone connect family=inet,inet6 addr=10.0.0.0/8,192.0.2.7 "
           "port=any\n"
           "allow anyone sendto family=inet6 addr=fd00::/8,::1 port=any\n"
           "allow anyone bind family=inet,inet6 addr=0.0.0.0/0 port=any\n");

  subj(&s, 1000, 1000);
  ALLOW(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "10.1.2.3", 1), "t.conf:1");
  ALLOW(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "10.255.255.255", 1),
        "t.conf:1");
  NOMATCH(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "11.0.0.0", 1));
  NOMATCH(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "9.255.255.255", 1));
  /* A bare address is a /32 or /128. */
  ALLOW(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "192.0.2.7", 1), "t.conf:1");
  NOMATCH(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "192.0.2.8", 1));
  ALLOW(p, &s, qaddr(&b, POLICY_SENDTO, AF_INET6, "fd12:3456::1", 1),
        "t.conf:2");
  NOMATCH(p, &s, qaddr(&b, POLICY_SENDTO, AF_INET6, "fe80::1", 1));
  ALLOW(p, &s, qaddr(&b, POLICY_SENDTO, AF_INET6, "::1", 1), "t.conf:2");
  NOMATCH(p, &s, qaddr(&b, POLICY_SENDTO, AF_INET6, "::2", 1));
  /* IPv4 CIDRs see IPv4-mapped IPv6 addresses... */
  ALLOW(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET6, "::ffff:10.9.8.7", 1),
        "t.conf:1");
  NOMATCH(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET6, "::ffff:11.9.8.7", 1));
  /* ...but not other IPv6 addresses with the same low bits. */
  NOMATCH(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET6, "::10.9.8.7", 1));
  NOMATCH(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET6, "64:ff9b::10.9.8.7", 1));
  /* 0.0.0.0/0 is every IPv4 address, and no IPv6 one. */
  ALLOW(p, &s, qaddr(&b, POLICY_BIND, AF_INET, "203.0.113.1", 1), "t.conf:3");
  ALLOW(p, &s, qaddr(&b, POLICY_BIND, AF_INET6, "::ffff:203.0.113.1", 1),
        "t.conf:3");
  NOMATCH(p, &s, qaddr(&b, POLICY_BIND, AF_INET6, "2001:db8::1", 1));
  policy_free(p);
}

/* A v4 deny cannot be bypassed through an inet6 socket. */
static void test_v4_mapped_deny(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p =
      load("deny anyone connect,sendto addr=169.254.169.254\n"
           "allow anyone connect,sendto family=any addr=any port=any\n");

  subj(&s, 1000, 1000);
  DENY(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "169.254.169.254", 80), EACCES,
       "t.conf:1");
  DENY(p, &s, qaddr(&b, POLICY_SENDTO, AF_INET6, "::ffff:169.254.169.254", 80),
       EACCES, "t.conf:1");
  ALLOW(p, &s,
        qaddr(&b, POLICY_CONNECT, AF_INET6, "::ffff:169.254.169.253", 80),
        "t.conf:2");
  /* An inet6 UDP socket may send to an AF_INET address: judged as one. */
  DENY(p, &s, qaddr(&b, POLICY_SENDTO, AF_INET6, "169.254.169.254", 80), EACCES,
       "t.conf:1");
  policy_free(p);
}

static void test_port(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p =
      load("allow anyone bind family=inet,inet6 addr=any port=0,1024-65535\n"
           "allow anyone connect family=inet addr=any port=53\n");

  subj(&s, 1000, 1000);
  ALLOW(p, &s, qaddr(&b, POLICY_BIND, AF_INET, "0.0.0.0", 0), "t.conf:1");
  ALLOW(p, &s, qaddr(&b, POLICY_BIND, AF_INET6, "::", 1024), "t.conf:1");
  ALLOW(p, &s, qaddr(&b, POLICY_BIND, AF_INET, "0.0.0.0", 65535), "t.conf:1");
  NOMATCH(p, &s, qaddr(&b, POLICY_BIND, AF_INET, "0.0.0.0", 1));
  NOMATCH(p, &s, qaddr(&b, POLICY_BIND, AF_INET6, "::", 1023));
  ALLOW(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "192.0.2.1", 53), "t.conf:2");
  NOMATCH(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "192.0.2.1", 54));
  NOMATCH(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "192.0.2.1", 0));
  policy_free(p);
}

static void test_option(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p =
      load("allow anyone setsockopt family=inet option=SO_MARK,IP_TRANSPARENT\n"
           "allow uid=0 setsockopt family=any option=any\n");

  subj(&s, 1000, 1000);
  ALLOW(p, &s, qopt(&b, AF_INET, SOL_SOCKET, SO_MARK), "t.conf:1");
  ALLOW(p, &s, qopt(&b, AF_INET, IPPROTO_IP, IP_TRANSPARENT), "t.conf:1");
  /* A refused privileged option answers the kernel's EPERM... */
  NOMATCH_EPERM(p, &s, qopt(&b, AF_INET, SOL_SOCKET, SO_PRIORITY));
  NOMATCH_EPERM(p, &s, qopt(&b, AF_INET6, IPPROTO_IPV6, IPV6_TRANSPARENT));
  NOMATCH_EPERM(p, &s, qopt(&b, AF_INET6, SOL_SOCKET, SO_MARK));
  /* ...or the option's own answer: SO_DEBUG's is EACCES. */
  NOMATCH(p, &s, qopt(&b, AF_INET, SOL_SOCKET, SO_DEBUG));
  /* An option not in the table matches option=any only. */
  NOMATCH_EPERM(p, &s, qopt(&b, AF_INET, SOL_SOCKET, 9999));
  ALLOW(p, subj(&s, 0, 0), qopt(&b, AF_INET, SOL_SOCKET, 9999), "t.conf:2");
  policy_free(p);
}

/* --- semantics ---------------------------------------------------------- */

static void test_first_match_wins(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p = load("deny uid=1000 lookup errno=EPERM\n"
                          "allow anyone lookup\n"
                          "deny anyone lookup\n");

  DENY(p, subj(&s, 1000, 1), qfam(&b, POLICY_LOOKUP, 0), EPERM, "t.conf:1");
  ALLOW(p, subj(&s, 1001, 1), qfam(&b, POLICY_LOOKUP, 0), "t.conf:2");
  policy_free(p);
}

static void test_missing_key_allow(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p = load("allow anyone socket family=inet type=stream\n"
                          "allow anyone bind family=inet,unix addr=127.0.0.1\n"
                          "allow anyone connect family=inet,unix port=80\n");

  subj(&s, 1000, 1000);
  /* No proto=: the allow rule does not match, whatever the proto. */
  NOMATCH(p, &s, qsock(&b, AF_INET, SOCK_STREAM, 0));
  NOMATCH(p, &s, qsock(&b, AF_INET, SOCK_STREAM, IPPROTO_TCP));
  /* No port= / addr=: inet requests do not match... */
  NOMATCH(p, &s, qaddr(&b, POLICY_BIND, AF_INET, "127.0.0.1", 8080));
  NOMATCH(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "127.0.0.1", 80));
  /* ...but unix ones carry no address or port, so need none. */
  ALLOW(p, &s, qfam(&b, POLICY_BIND, AF_UNIX), "t.conf:2");
  ALLOW(p, &s, qfam(&b, POLICY_CONNECT, AF_UNIX), "t.conf:3");
  policy_free(p);
}

static void test_missing_key_deny(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p = load("deny anyone socket family=packet\n"
                          "deny anyone all family=tipc errno=EPERM\n"
                          "deny anyone connect addr=10.0.0.0/8\n"
                          "allow anyone socket family=any type=any proto=any\n"
                          "allow anyone connect family=any addr=any port=any\n"
                          "allow anyone lookup\n");

  subj(&s, 1000, 1000);
  /* A deny rule without type=/proto= matches every type and proto; without
   * errno= it answers as the kernel would (EPERM: CAP_NET_RAW). */
  DENY(p, &s, qsock(&b, AF_PACKET, SOCK_RAW, 768), EPERM, "t.conf:1");
  DENY(p, &s, qsock(&b, AF_PACKET, SOCK_DGRAM, 0), EPERM, "t.conf:1");
  ALLOW(p, &s, qsock(&b, AF_INET, SOCK_RAW, 1), "t.conf:4");
  DENY(p, &s, qsock(&b, AF_TIPC, SOCK_RDM, 0), EPERM, "t.conf:2");
  DENY(p, &s, qfam(&b, POLICY_CONNECT, AF_TIPC), EPERM, "t.conf:2");
  /* A deny key only matches requests that carry its attribute: lookups
   * have no family, unix connects no address. */
  ALLOW(p, &s, qfam(&b, POLICY_LOOKUP, 0), "t.conf:6");
  ALLOW(p, &s, qfam(&b, POLICY_CONNECT, AF_UNIX), "t.conf:5");
  DENY(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "10.0.0.1", 1), EACCES,
       "t.conf:3");
  ALLOW(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "11.0.0.1", 1), "t.conf:5");
  policy_free(p);
}

static void test_invalid_request(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p = load("allow anyone all family=any type=any proto=any "
                          "addr=any port=any option=any\n");

  subj(&s, 1000, 1000);
  /* An inet bind without an (inet) address is not something to allow. */
  DENY(p, &s, qfam(&b, POLICY_BIND, AF_INET), EACCES, "invalid request");
  qaddr(&b, POLICY_CONNECT, AF_INET6, "::1", 1);
  b.q.addrlen = sizeof(struct sockaddr_in6) - 1;
  DENY(p, &s, &b.q, EACCES, "invalid request");
  qaddr(&b, POLICY_CONNECT, AF_INET, "127.0.0.1", 1);
  b.ss.ss_family = AF_UNSPEC;
  DENY(p, &s, &b.q, EACCES, "invalid request");
  qfam(&b, POLICY_N_CALLS, AF_INET);
  DENY(p, &s, &b.q, EACCES, "invalid request");
  DENY(p, &s, qsock(&b, -1, SOCK_STREAM, 0), EACCES, "invalid request");
  DENY(p, &s, qsock(&b, AF_INET, SOCK_STREAM, -1), EACCES, "invalid request");
  DENY(p, NULL, qfam(&b, POLICY_LOOKUP, 0), EACCES, "invalid request");
  /* The twin: the same policy allows a well-formed request. */
  ALLOW(p, &s, qaddr(&b, POLICY_BIND, AF_INET, "127.0.0.1", 1), "t.conf:1");
  policy_free(p);
}

static void test_empty_policy_denies(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p = load("# nothing\n\n   \n");

  assert_int_equal(policy_n_rules(p), 0);
  NOMATCH(p, subj(&s, 0, 0), qfam(&b, POLICY_LOOKUP, 0));
  policy_free(p);
}

/* --- the default policy ------------------------------------------------- */

/* An abstract unix name as a query: in the query's own fields, or in a
 * sockaddr_un (addrlen says how long the name is). */
static const struct policy_query *qabs(struct qb *b, enum policy_call call,
                                       const char *name, size_t len) {
  qfam(b, call, AF_UNIX);
  b->q.abstract = name;
  b->q.abstract_len = len;
  return &b->q;
}

static const struct policy_query *qabs_sun(struct qb *b, enum policy_call call,
                                           const char *name, size_t len) {
  struct sockaddr_un *sun = (struct sockaddr_un *)&b->ss;

  qfam(b, call, AF_UNIX);
  sun->sun_family = AF_UNIX;
  assert_true(len < sizeof(sun->sun_path));
  memcpy(sun->sun_path + 1, name, len);
  b->q.addr = (struct sockaddr *)sun;
  b->q.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
  return &b->q;
}

static void test_default_policy(void **state) {
  struct policy_subject s, root;
  struct policy *p = NULL;
  struct qb b;
  const char *const rl = "default policy:";
  char rule[64];

#define R(n) (snprintf(rule, sizeof(rule), "%s%d", rl, n), rule)
  assert_int_equal(policy_load_default(&p), 0);
  assert_string_equal(policy_source(p), "default policy");
  assert_int_equal(policy_n_rules(p), 11);
  subj(&s, 65534, 65534);
  subj(&root, 0, 0);

  /* 1: root may do anything, abstract unix names included. */
  ALLOW(p, &root, qsock(&b, AF_PACKET, SOCK_RAW, htons(3)), R(1));
  ALLOW(p, &root, qsock(&b, AF_INET, SOCK_RAW, IPPROTO_RAW), R(1));
  ALLOW(p, &root, qsock(&b, AF_UNIX, SOCK_STREAM, 0), R(1));
  ALLOW(p, &root, qopt(&b, AF_INET, SOL_SOCKET, SO_MARK), R(1));
  ALLOW(p, &root, qaddr(&b, POLICY_BIND, AF_INET, "0.0.0.0", 80), R(1));
  ALLOW(p, &root, qabs(&b, POLICY_CONNECT, "/tmp/.X11-unix/X0", 17), R(1));
  ALLOW(p, &root, qfam(&b, POLICY_CONNECT, AF_UNIX), R(1));

  /* 2-4: every inet stream, datagram and seqpacket protocol. */
  ALLOW(p, &s, qsock(&b, AF_INET, SOCK_STREAM, 0), R(2));
  ALLOW(p, &s, qsock(&b, AF_INET6, SOCK_STREAM, IPPROTO_TCP), R(2));
  ALLOW(p, &s, qsock(&b, AF_INET, SOCK_STREAM, IPPROTO_SCTP), R(2));
  ALLOW(p, &s, qsock(&b, AF_INET6, SOCK_STREAM, 262 /* MPTCP */), R(2));
  ALLOW(p, &s, qsock(&b, AF_INET6, SOCK_DGRAM, IPPROTO_UDP), R(3));
  ALLOW(p, &s, qsock(&b, AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE), R(3));
  ALLOW(p, &s, qsock(&b, AF_INET, SOCK_SEQPACKET, 0), R(4));
  ALLOW(p, &s, qsock(&b, AF_INET6, SOCK_SEQPACKET, IPPROTO_SCTP), R(4));
  NOMATCH(p, &s, qsock(&b, AF_INET, SOCK_STREAM, IPPROTO_UDP));
  NOMATCH(p, &s, qsock(&b, AF_INET, SOCK_SEQPACKET, IPPROTO_TCP));
  /* 5-6: ICMP echo through datagram ("ping") sockets only... */
  ALLOW(p, &s, qsock(&b, AF_INET, SOCK_DGRAM, IPPROTO_ICMP), R(5));
  ALLOW(p, &s, qsock(&b, AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6), R(6));
  NOMATCH(p, &s, qsock(&b, AF_INET6, SOCK_DGRAM, IPPROTO_ICMP));
  NOMATCH(p, &s, qsock(&b, AF_INET, SOCK_DGRAM, IPPROTO_ICMPV6));
  /* ...never raw sockets, nor packet sockets: EPERM, as the kernel says. */
  NOMATCH_EPERM(p, &s, qsock(&b, AF_INET, SOCK_RAW, IPPROTO_ICMP));
  NOMATCH_EPERM(p, &s, qsock(&b, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
  NOMATCH_EPERM(p, &s, qsock(&b, AF_INET, SOCK_RAW, IPPROTO_TCP));
  NOMATCH_EPERM(p, &s, qsock(&b, AF_INET, SOCK_RAW, IPPROTO_RAW));
  NOMATCH_EPERM(p, &s, qsock(&b, AF_PACKET, SOCK_RAW, htons(3)));
  NOMATCH_EPERM(p, &s, qsock(&b, AF_PACKET, SOCK_DGRAM, 0));
  /* 7: NETLINK_ROUTE and NETLINK_SOCK_DIAG, no other netlink. */
  ALLOW(p, &s, qsock(&b, AF_NETLINK, SOCK_RAW, 0), R(7));
  ALLOW(p, &s, qsock(&b, AF_NETLINK, SOCK_DGRAM, 0), R(7));
  ALLOW(p, &s, qsock(&b, AF_NETLINK, SOCK_RAW, 4 /* sock_diag */), R(7));
  NOMATCH(p, &s, qsock(&b, AF_NETLINK, SOCK_RAW, 9 /* audit */));
  NOMATCH(p, &s, qsock(&b, AF_NETLINK, SOCK_RAW, 16 /* generic */));
  /* No unix sockets: clients make their own. */
  NOMATCH(p, &s, qsock(&b, AF_UNIX, SOCK_SEQPACKET, 0));
  NOMATCH(p, &s, qsock(&b, AF_UNIX, SOCK_STREAM, 0));
  NOMATCH(p, &s, qsock(&b, AF_TIPC, SOCK_RDM, 0));

  /* 8: connect and send anywhere over inet, inet6 and netlink... */
  ALLOW(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "192.0.2.1", 22), R(8));
  ALLOW(p, &s, qaddr(&b, POLICY_SENDTO, AF_INET6, "2001:db8::1", 53), R(8));
  ALLOW(p, &s, qfam(&b, POLICY_CONNECT, AF_NETLINK), R(8));
  NOMATCH(p, &s, qfam(&b, POLICY_CONNECT, AF_TIPC));
  /* ...never to an abstract unix name (nor a unix path). */
  NOMATCH(p, &s, qabs(&b, POLICY_CONNECT, "/tmp/.X11-unix/X0", 17));
  NOMATCH(p, &s, qabs_sun(&b, POLICY_SENDTO, "/tmp/.X11-unix/X0", 17));
  NOMATCH(p, &s, qabs(&b, POLICY_BIND, "", 0));
  NOMATCH(p, &s, qfam(&b, POLICY_CONNECT, AF_UNIX));

  /* 9: bind port 0 and unprivileged ports; 1-1023 answer EACCES. */
  NOMATCH(p, &s, qaddr(&b, POLICY_BIND, AF_INET, "0.0.0.0", 80));
  NOMATCH(p, &s, qaddr(&b, POLICY_BIND, AF_INET6, "::", 1023));
  NOMATCH(p, &s, qaddr(&b, POLICY_BIND, AF_INET6, "::", 1));
  ALLOW(p, &s, qaddr(&b, POLICY_BIND, AF_INET, "0.0.0.0", 8080), R(9));
  ALLOW(p, &s, qaddr(&b, POLICY_BIND, AF_INET6, "::1", 0), R(9));
  ALLOW(p, &s, qaddr(&b, POLICY_BIND, AF_INET6, "::1", 1024), R(9));
  ALLOW(p, &s, qfam(&b, POLICY_BIND, AF_NETLINK), R(9));
  NOMATCH(p, &s, qfam(&b, POLICY_BIND, AF_UNIX));
  NOMATCH(p, &s, qfam(&b, POLICY_BIND, AF_PACKET));

  /* 10: listen on inet sockets; 11: lookups. */
  ALLOW(p, &s, qfam(&b, POLICY_LISTEN, AF_INET6), R(10));
  NOMATCH(p, &s, qfam(&b, POLICY_LISTEN, AF_UNIX));
  NOMATCH(p, &s, qfam(&b, POLICY_LISTEN, AF_NETLINK));
  ALLOW(p, &s, qfam(&b, POLICY_LOOKUP, 0), R(11));
  ALLOW(p, &s, qfam(&b, POLICY_REVERSE, 0), R(11));

  /* No privileged option: EPERM, or SO_DEBUG's own EACCES. */
  NOMATCH_EPERM(p, &s, qopt(&b, AF_INET, SOL_SOCKET, SO_MARK));
  NOMATCH_EPERM(p, &s, qopt(&b, AF_INET, SOL_SOCKET, SO_BINDTODEVICE));
  NOMATCH_EPERM(p, &s, qopt(&b, AF_INET6, IPPROTO_IPV6, IPV6_TRANSPARENT));
  NOMATCH(p, &s, qopt(&b, AF_INET, SOL_SOCKET, SO_DEBUG));
#undef R
  policy_free(p);
}

/* --- parse errors ------------------------------------------------------- */

struct err_case {
  const char *text, *error;
};

/* Each bad rule alone: exactly one error, at the offending token. */
static void test_each_error(void **state) {
  static const struct err_case cases[] = {
      {"permit anyone lookup",
       "1:1: unknown action 'permit' (expected allow or deny)"},
      {"allow anyone lookup,frob",
       "1:21: unknown call 'frob' (expected socket, bind, connect, sendto, "
       "listen, lookup, reverse, setsockopt, or all)"},
      {"allow anyone socket colour=red", "1:21: unknown key 'colour='"},
      {"allow anyone socket family=inet,bogus type=any proto=any",
       "1:33: unknown family 'bogus' (expected unix, inet, inet6, netlink, "
       "packet, tipc, a number, or any)"},
      {"allow anyone socket family=inet type=flat proto=any",
       "1:38: unknown type 'flat' (expected stream, dgram, raw, rdm, "
       "seqpacket, a number, or any)"},
      {"allow anyone socket family=inet type=any proto=tcpp",
       "1:48: unknown proto 'tcpp' (expected 0, tcp, udp, icmp, icmpv6, "
       "sctp, udplite, mptcp, raw, route, sock_diag, xfrm, audit, netfilter, "
       "kobject_uevent, generic, a number, or any)"},
      {"allow anyone connect family=inet addr=10.0.0.0/33 port=any",
       "1:48: bad prefix length '33' (expected 0-32)"},
      {"allow anyone connect family=inet6 addr=::/129 port=any",
       "1:43: bad prefix length '129' (expected 0-128)"},
      {"allow anyone connect family=inet addr=10.0.0.0/ port=any",
       "1:48: bad prefix length '' (expected 0-32)"},
      {"allow anyone connect family=inet addr=10.0.0.300 port=any",
       "1:39: bad address '10.0.0.300' (expected an IPv4 or IPv6 address)"},
      {"allow anyone connect family=inet6 addr=fe80::1%eth0 port=any",
       "1:40: bad address 'fe80::1%eth0' (expected an IPv4 or IPv6 "
       "address)"},
      {"allow anyone connect family=inet addr=10.0.0.1/8 port=any",
       "1:39: '10.0.0.1/8' has bits set after the /8 prefix"},
      {"allow anyone bind family=inet addr=any port=65536",
       "1:45: port 65536 is larger than 65535"},
      {"allow anyone bind family=inet addr=any port=1-70000",
       "1:47: port 70000 is larger than 65535"},
      {"allow anyone bind family=inet addr=any port=2000-1000",
       "1:45: reversed port range 2000-1000"},
      {"allow anyone bind family=inet addr=any port=-5",
       "1:45: bad port '' (expected N, N-M or any)"},
      {"allow anyone bind family=inet addr=any port=http",
       "1:45: bad port 'http' (expected N, N-M or any)"},
      {"allow anyone socket family=inet family=inet6 type=any proto=any",
       "1:33: duplicate key family="},
      {"allow uid=1 uid=2 lookup", "1:13: duplicate key uid="},
      {"deny anyone lookup errno=EPERM errno=EACCES",
       "1:32: duplicate key errno="},
      {"allow socket family=inet type=any proto=any",
       "1:7: missing WHO (expected anyone, uid=, user=, gid=, group= or "
       "unit=)"},
      {"allow anyone",
       "1:13: missing calls (expected a list such as socket,connect or all)"},
      {"allow anyone family=inet",
       "1:14: missing calls (expected a list such as socket,connect or all)"},
      {"allow anyone connect family=inet addr=any port=any option=SO_MARK",
       "1:52: option= does not apply to any call of this rule"},
      {"allow anyone lookup,reverse family=inet",
       "1:29: family= does not apply to any call of this rule"},
      {"allow anyone socket,listen family=inet type=any proto=any port=1",
       "1:59: port= does not apply to any call of this rule"},
      {"allow anyone lookup errno=EPERM",
       "1:21: errno= applies only to deny rules"},
      {"deny anyone lookup errno=ENOENT",
       "1:26: unknown errno 'ENOENT' (expected EACCES or EPERM)"},
      {"allow user=no-such-user-xyz lookup",
       "1:12: unknown user 'no-such-user-xyz'"},
      {"allow group=no-such-group-xyz lookup",
       "1:13: unknown group 'no-such-group-xyz'"},
      {"allow uid=abc lookup",
       "1:11: bad uid 'abc' (expected a number below 4294967295)"},
      {"allow gid=4294967295 lookup",
       "1:11: bad gid '4294967295' (expected a number below 4294967295)"},
      {"allow anyone socket family=any,inet type=any proto=any",
       "1:28: 'any' cannot be combined with other values"},
      {"allow anyone all,socket",
       "1:14: 'all' cannot be combined with other calls"},
      {"allow anyone socket family= type=any proto=any",
       "1:28: empty value for family="},
      {"allow uid= lookup", "1:11: empty value for uid="},
      {"allow anyone socket family=inet,,inet6 type=any proto=any",
       "1:33: empty value in list"},
      {"allow anyone uid=0 lookup",
       "1:14: 'anyone' cannot be combined with uid="},
      {"allow anyone lookup uid=0",
       "1:21: uid= belongs to WHO, which comes before the calls"},
      {"allow anyone lookup reverse",
       "1:21: expected KEY=VALUE, not 'reverse'"},
      {"allow anyone socket family=netlink type=raw proto=tcp",
       "1:51: 'tcp' is an IP protocol, but family= lists neither inet nor "
       "inet6"},
      {"allow anyone socket family=inet type=raw proto=0,route",
       "1:50: 'route' is a netlink protocol, but family= does not list "
       "netlink"},
      {"allow unit=foo$.service lookup",
       "1:15: invalid character in unit name 'foo$.service'"},
      {"allow anyone socket family=256 type=any proto=any",
       "1:28: family 256 out of range (0-255)"},
      {"allow anyone socket family=any type=16 proto=any",
       "1:37: type 16 out of range (0-15)"},
      {"allow anyone socket family=any type=any proto=65536",
       "1:47: proto 65536 out of range (0-65535)"},
      {"allow anyone\001 lookup", "1:13: invalid character 0x01"},
      {"\n\n  deny  anyone  lookup  errno=EBUSY  # comment\n",
       "3:31: unknown errno 'EBUSY' (expected EACCES or EPERM)"},
      {"allow anyone socket \\\n  family=inet \\\n  type=bad proto=any\n",
       "3:8: unknown type 'bad' (expected stream, dgram, raw, rdm, "
       "seqpacket, a number, or any)"},
      /* abstract unix names */
      {"allow anyone connect family=unix addr=@foo\\q",
       "1:43: bad escape in abstract name '@foo\\q' (expected \\\\, \\*, "
       "\\? or \\xHH)"},
      {"allow anyone connect family=unix addr=@a\\x4",
       "1:41: bad escape in abstract name '@a\\x4' (expected \\\\, \\*, "
       "\\? or \\xHH)"},
      {"allow anyone connect family=inet addr=@x port=any",
       "1:39: '@x' is an abstract unix name, but family= does not list unix"},
      {"allow anyone bind family=unix addr=10.0.0.0/8",
       "1:36: '10.0.0.0/8' is an IP address, but family= lists neither inet "
       "nor inet6"},
      {"allow anyone connect family=inet addr=any,10.0.0.0/8 port=any",
       "1:39: 'any' cannot be combined with other IP addresses"},
      {"allow anyone connect family=unix addr=@a,,@b",
       "1:42: empty value in list"},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char expected[512];

    snprintf(expected, sizeof(expected), "t.conf:%s\n", cases[i].error);
    errors(cases[i].text, 1, expected);
  }
}

static void test_every_error_reported(void **state) {
  errors("# several mistakes, all reported\n"
         "allow anyone lookup\n"
         "allow\n"
         "deny nobody socket family=inet6 type=stream proto=udp port=1\n"
         "allow anyone connect family=inet addr=1.2.3.4/24,::1/200 "
         "port=99999\n"
         "allow anyone lookup\n"
         "frob\n",
         8,
         "t.conf:3:6: missing WHO (expected anyone, uid=, user=, gid=, "
         "group= or unit=)\n"
         "t.conf:3:6: missing calls (expected a list such as socket,connect "
         "or all)\n"
         "t.conf:4:6: unknown WHO 'nobody' (expected anyone, uid=, user=, "
         "gid=, group= or unit=)\n"
         "t.conf:4:55: port= does not apply to any call of this rule\n"
         "t.conf:5:39: '1.2.3.4/24' has bits set after the /24 prefix\n"
         "t.conf:5:54: bad prefix length '200' (expected 0-128)\n"
         "t.conf:5:63: port 99999 is larger than 65535\n"
         "t.conf:7:1: unknown action 'frob' (expected allow or deny)\n");
  errors("frob\n", 1,
         "t.conf:1:1: unknown action 'frob' (expected allow "
         "or deny)\n");
}

static void test_too_many_fields(void **state) {
  char text[1024] = "allow anyone lookup";

  for (int i = 0; i < 30; i++)
    strcat(text, " x=1");
  /* The 33rd field is the 30th " x=1"; the rule is not parsed further. */
  errors(text, 1, "t.conf:1:137: too many fields in one rule\n");
}

/* --- syntax ------------------------------------------------------------- */

static void test_syntax(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p = load("# comment\r\n"
                          "\r\n"
                          "  \t allow\tanyone   lookup   # trailing comment\r\n"
                          "allow anyone socket family=inet \\\n"
                          "    type=stream \\   \n"
                          "    proto=tcp\n"
                          "deny anyone reverse#comment right after the calls\n"
                          "allow anyone listen family=inet \\");

  assert_int_equal(policy_n_rules(p), 4);
  subj(&s, 1000, 1000);
  ALLOW(p, &s, qfam(&b, POLICY_LOOKUP, 0), "t.conf:3");
  /* A continued rule is named by its first line. */
  ALLOW(p, &s, qsock(&b, AF_INET, SOCK_STREAM, IPPROTO_TCP), "t.conf:4");
  DENY(p, &s, qfam(&b, POLICY_REVERSE, 0), EACCES, "t.conf:7");
  ALLOW(p, &s, qfam(&b, POLICY_LISTEN, AF_INET), "t.conf:8");
  policy_free(p);
}

static void test_origin_truncation(void **state) {
  char name[201], text[] = "allow anyone lookup\n";
  struct policy_subject s;
  struct policy_decision d;
  struct policy *p = NULL;
  struct qb b;

  memset(name, 'a', 200);
  strcpy(name + 200 - 12, "/policy.conf");
  name[0] = '/';
  assert_int_equal(policy_load_string(name, text, strlen(text), NULL, NULL, &p),
                   0);
  policy_check(p, subj(&s, 1, 1), qfam(&b, POLICY_LOOKUP, 0), &d);
  /* The end of the path and the line survive. */
  assert_int_equal(strlen(d.rule), sizeof(d.rule) - 1);
  assert_memory_equal(d.rule, "...aaa", 6);
  assert_string_equal(d.rule + strlen(d.rule) - 14, "/policy.conf:1");
  policy_free(p);
}

static void test_load_file(void **state) {
  char path[] = "/tmp/psock-test-policy-XXXXXX";
  struct policy *p = NULL;
  unsigned nerr = 7;
  int fd = mkstemp(path);
  FILE *f;

  assert_true(fd >= 0);
  f = fdopen(fd, "w");
  fputs("allow anyone lookup\nallow anyone bogus\n", f);
  fclose(f);
  assert_int_equal(policy_load_file(path, NULL, &nerr, &p), -EINVAL);
  assert_int_equal(nerr, 1);
  f = fopen(path, "w");
  fputs("allow anyone lookup\n", f);
  fclose(f);
  assert_int_equal(policy_load_file(path, NULL, &nerr, &p), 0);
  assert_int_equal(nerr, 0);
  assert_string_equal(policy_source(p), path);
  policy_free(p);
  /* Too large to be a policy. */
  assert_int_equal(truncate(path, POL_MAX_FILE + 1), 0);
  assert_int_equal(policy_load_file(path, NULL, &nerr, &p), -EFBIG);
  unlink(path);
  assert_int_equal(policy_load_file(path, NULL, &nerr, &p), -ENOENT);
  assert_int_equal(policy_load_file("/", NULL, &nerr, &p), -EISDIR);
}

/* --- names shared with psockctl ----------------------------------------- */

static void test_names(void **state) {
  int level = 0, optname = 0;

  assert_int_equal(policy_call_from_name("setsockopt"), POLICY_SETSOCKOPT);
  assert_int_equal(policy_call_from_name("all"), -EINVAL);
  assert_string_equal(policy_call_name(POLICY_REVERSE), "reverse");
  assert_string_equal(policy_call_name(POLICY_N_CALLS), "unknown");
  assert_int_equal(policy_family_from_name("inet6"), AF_INET6);
  assert_int_equal(policy_family_from_name("17"), 17);
  assert_int_equal(policy_family_from_name("256"), -EINVAL);
  assert_int_equal(policy_family_from_name("any"), -EINVAL);
  assert_int_equal(policy_type_from_name("seqpacket"), SOCK_SEQPACKET);
  assert_int_equal(policy_type_from_name("x"), -EINVAL);
  assert_int_equal(policy_proto_from_name("icmpv6", AF_INET6), 58);
  assert_int_equal(policy_proto_from_name("tcp", AF_NETLINK), -EINVAL);
  assert_int_equal(policy_proto_from_name("route", AF_NETLINK), 0);
  assert_int_equal(policy_proto_from_name("route", AF_INET), -EINVAL);
  assert_int_equal(policy_proto_from_name("9", AF_NETLINK), 9);
  assert_int_equal(
      policy_option_from_name("IPV6_TRANSPARENT", &level, &optname), 0);
  assert_int_equal(level, IPPROTO_IPV6);
  assert_int_equal(optname, IPV6_TRANSPARENT);
  assert_int_equal(policy_option_from_name("so_mark", &level, &optname),
                   -EINVAL);
  /* Protocols an unprivileged user may open, and read-only netlink. */
  assert_int_equal(policy_proto_from_name("mptcp", AF_INET6), 262);
  assert_int_equal(policy_proto_from_name("udplite", AF_INET), 136);
  assert_int_equal(policy_proto_from_name("sock_diag", AF_NETLINK), 4);
  assert_int_equal(policy_proto_from_name("sock_diag", AF_INET), -EINVAL);
}

/* Every option of the shared table is a name here, and back. */
static void test_option_names_are_the_table(void **state) {
  char text[128], *dump_text = NULL;
  size_t len = 0;

  assert_true(sockopt_count() > 0);
  for (size_t i = 0; i < sockopt_count(); i++) {
    const struct sockopt *o = sockopt_at(i);
    struct policy *p;
    int level = -1, optname = -1;
    FILE *f;

    assert_int_equal(policy_option_from_name(o->name, &level, &optname), 0);
    assert_int_equal(level, o->level);
    assert_int_equal(optname, o->optname);
    snprintf(text, sizeof(text), "allow anyone setsockopt family=any option=%s",
             o->name);
    p = load(text);
    f = open_memstream(&dump_text, &len);
    policy_dump(p, f);
    fclose(f);
    assert_string_equal(dump_text, strcat(text, "\n"));
    free(dump_text);
    policy_free(p);
  }
}

/* --- abstract unix names ------------------------------------------------ */

static void test_abstract_names(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p =
      load("allow anyone connect family=unix addr=@/tmp/.X11-unix/X?\n"
           "allow anyone bind family=unix addr=@app-*-sock,@exact\n"
           "deny anyone connect,sendto family=unix addr=@dbus-*\n"
           "allow anyone sendto family=unix addr=@*\\x00nul\n"
           "allow anyone connect family=inet,inet6,unix addr=any port=any\n");

  subj(&s, 1000, 1000);
  /* '?' one byte, in the query's fields or in a sockaddr_un. */
  ALLOW(p, &s, qabs(&b, POLICY_CONNECT, "/tmp/.X11-unix/X0", 17), "t.conf:1");
  ALLOW(p, &s, qabs_sun(&b, POLICY_CONNECT, "/tmp/.X11-unix/X1", 17),
        "t.conf:1");
  NOMATCH(p, &s, qabs(&b, POLICY_CONNECT, "/tmp/.X11-unix/X10", 18));
  NOMATCH(p, &s, qabs(&b, POLICY_CONNECT, "/tmp/.X11-unix/X", 16));
  /* '*' any run of bytes, NULs and '/' included; literal names. */
  ALLOW(p, &s, qabs(&b, POLICY_BIND, "app--sock", 9), "t.conf:2");
  ALLOW(p, &s, qabs(&b, POLICY_BIND, "app-a/\0b-sock", 13), "t.conf:2");
  ALLOW(p, &s, qabs(&b, POLICY_BIND, "exact", 5), "t.conf:2");
  NOMATCH(p, &s, qabs(&b, POLICY_BIND, "exact\0", 6));
  NOMATCH(p, &s, qabs(&b, POLICY_BIND, "exac", 4));
  NOMATCH(p, &s, qabs(&b, POLICY_BIND, "app-x-sockx", 11));
  /* A deny rule with a pattern refuses those names only... */
  DENY(p, &s, qabs(&b, POLICY_CONNECT, "dbus-1234", 9), EACCES, "t.conf:3");
  DENY(p, &s, qabs(&b, POLICY_SENDTO, "dbus-", 5), EACCES, "t.conf:3");
  /* ...escapes name any byte, NUL too... */
  ALLOW(p, &s, qabs(&b, POLICY_SENDTO, "x\0nul", 5), "t.conf:4");
  ALLOW(p, &s, qabs(&b, POLICY_SENDTO, "\0nul", 4), "t.conf:4");
  NOMATCH(p, &s, qabs(&b, POLICY_SENDTO, "xnul", 4));
  /* ...and addr=any is every IP address, never an abstract name. */
  NOMATCH(p, &s, qabs(&b, POLICY_CONNECT, "other", 5));
  ALLOW(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "192.0.2.1", 1), "t.conf:5");
  /* A unix path carries no addr= (psockd does paths for root only, and
   * judges them in the handler): the first unix connect rule takes it. */
  ALLOW(p, &s, qfam(&b, POLICY_CONNECT, AF_UNIX), "t.conf:1");
  policy_free(p);
}

static void test_abstract_edges(void **state) {
  char big[POLICY_ABSTRACT_MAX + 1];
  struct policy_subject s;
  struct qb b;
  struct policy *p = load("allow anyone bind family=unix addr=@*\n"
                          "deny anyone connect addr=@*\n"
                          "allow anyone connect family=unix\n");

  subj(&s, 1000, 1000);
  memset(big, 'a', sizeof(big));
  /* The empty name and the longest name match '*'. */
  ALLOW(p, &s, qabs(&b, POLICY_BIND, "", 0), "t.conf:1");
  ALLOW(p, &s, qabs(&b, POLICY_BIND, big, POLICY_ABSTRACT_MAX), "t.conf:1");
  ALLOW(p, &s, qabs_sun(&b, POLICY_BIND, big, POLICY_ABSTRACT_MAX - 1),
        "t.conf:1");
  /* A longer name is no name a socket can have. */
  DENY(p, &s, qabs(&b, POLICY_BIND, big, sizeof(big)), EACCES,
       "invalid request");
  qabs_sun(&b, POLICY_BIND, big, POLICY_ABSTRACT_MAX);
  b.q.addrlen++;
  DENY(p, &s, &b.q, EACCES, "invalid request");
  /* A deny rule without family= catches abstract connects; a unix path
   * (no addr=) goes on to the allow rule without addr=, which in turn
   * never admits an abstract name. */
  DENY(p, &s, qabs(&b, POLICY_CONNECT, "x", 1), EACCES, "t.conf:2");
  ALLOW(p, &s, qfam(&b, POLICY_CONNECT, AF_UNIX), "t.conf:3");
  policy_free(p);
  p = load("allow anyone connect family=unix\n");
  NOMATCH(p, &s, qabs(&b, POLICY_CONNECT, "x", 1));
  ALLOW(p, &s, qfam(&b, POLICY_CONNECT, AF_UNIX), "t.conf:1");
  policy_free(p);
}

static void test_abstract_too_long(void **state) {
  char text[512], name[POLICY_ABSTRACT_MAX + 2], expected[512];

  memset(name, 'n', sizeof(name) - 1);
  name[sizeof(name) - 1] = '\0';
  snprintf(text, sizeof(text), "allow anyone bind family=unix addr=@%s", name);
  snprintf(expected, sizeof(expected),
           "t.conf:1:36: abstract name '@%.63s' is too long (a name has at "
           "most 107 bytes)\n",
           name);
  errors(text, 1, expected);
  /* Stars are no bytes: 107 bytes and a star fit. */
  name[sizeof(name) - 2] = '*';
  snprintf(text, sizeof(text), "allow anyone bind family=unix addr=@%s", name);
  policy_free(load(text));
}

static void test_abstract_from_text(void **state) {
  char out[POLICY_ABSTRACT_MAX];

  assert_int_equal(policy_abstract_from_text("/tmp/.X11-unix/X0", out), 17);
  assert_memory_equal(out, "/tmp/.X11-unix/X0", 17);
  /* '*' and '?' are bytes in a name; escapes are decoded. */
  assert_int_equal(policy_abstract_from_text("a*?\\x00\\\\\\*", out), 6);
  assert_memory_equal(out, "a*?\0\\*", 6);
  assert_int_equal(policy_abstract_from_text("bad\\", out), -EINVAL);
  assert_int_equal(policy_abstract_from_text("bad\\xg0", out), -EINVAL);
  assert_int_equal(policy_abstract_from_text("", out), 0);
}

/* --- a missing unit never widens ---------------------------------------- */

static void test_unit_unknown(void **state) {
  struct policy_subject s;
  struct qb b;
  const struct policy_query *q = qfam(&b, POLICY_LOOKUP, 0);
  struct policy *p = load("deny uid=1000 unit=sshd.service lookup\n"
                          "allow unit=*.service lookup\n"
                          "deny unit=x.service reverse\n"
                          "allow anyone reverse\n");

  subj(&s, 1000, 1000);
  /* Known units: the allow twin and the deny twin. */
  s.unit = "web.service";
  ALLOW(p, &s, q, "t.conf:2");
  s.unit = "sshd.service";
  DENY(p, &s, q, EACCES, "t.conf:1");
  /* Unknown: every deny rule with unit= matches, as far as its other WHO
   * keys do, and no allow rule with unit= does (whatever unit says). */
  s.unit_unknown = true;
  s.unit = "web.service";
  DENY(p, &s, q, EACCES, "t.conf:1");
  DENY(p, &s, qfam(&b, POLICY_REVERSE, 0), EACCES, "t.conf:3");
  s.uid = 1001;
  NOMATCH(p, &s, qfam(&b, POLICY_LOOKUP, 0));
  /* Known to be in no unit: unit= rules do not apply at all. */
  s.unit_unknown = false;
  s.unit = NULL;
  NOMATCH(p, &s, qfam(&b, POLICY_LOOKUP, 0));
  ALLOW(p, &s, qfam(&b, POLICY_REVERSE, 0), "t.conf:4");
  policy_free(p);
}

/* --- errno -------------------------------------------------------------- */

static void test_errno(void **state) {
  struct policy_subject s;
  struct qb b;
  struct policy *p =
      load("deny anyone socket family=inet type=raw proto=icmp errno=EACCES\n"
           "deny anyone socket family=inet,inet6 type=raw\n"
           "deny anyone bind family=inet addr=any port=1-1023\n"
           "deny anyone bind family=inet addr=any port=1024-2047 "
           "errno=EPERM\n"
           "deny anyone setsockopt family=any option=SO_MARK,SO_DEBUG\n"
           "deny anyone socket family=inet type=stream\n");
  struct policy_query q = {.call = POLICY_SOCKET, .family = AF_PACKET};

  subj(&s, 1000, 1000);
  /* errno= overrides... */
  DENY(p, &s, qsock(&b, AF_INET, SOCK_RAW, IPPROTO_ICMP), EACCES, "t.conf:1");
  DENY(p, &s, qaddr(&b, POLICY_BIND, AF_INET, "0.0.0.0", 1500), EPERM,
       "t.conf:4");
  /* ...else a deny rule answers as the kernel would. */
  DENY(p, &s, qsock(&b, AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP), EPERM,
       "t.conf:2");
  DENY(p, &s, qaddr(&b, POLICY_BIND, AF_INET, "0.0.0.0", 80), EACCES,
       "t.conf:3");
  DENY(p, &s, qopt(&b, AF_INET, SOL_SOCKET, SO_MARK), EPERM, "t.conf:5");
  DENY(p, &s, qopt(&b, AF_INET, SOL_SOCKET, SO_DEBUG), EACCES, "t.conf:5");
  DENY(p, &s, qsock(&b, AF_INET, SOCK_STREAM, 0), EACCES, "t.conf:6");
  /* No rule: the same answers. */
  NOMATCH_EPERM(p, &s, qsock(&b, AF_PACKET, SOCK_DGRAM, 0));
  NOMATCH(p, &s, qsock(&b, AF_NETLINK, SOCK_RAW, 0));
  NOMATCH(p, &s, qaddr(&b, POLICY_BIND, AF_INET6, "::", 22));
  NOMATCH(p, &s, qaddr(&b, POLICY_CONNECT, AF_INET, "192.0.2.1", 22));
  NOMATCH(p, &s, qfam(&b, POLICY_LOOKUP, 0));
  assert_int_equal(policy_default_errno(&q), EPERM);
  q.family = AF_INET;
  q.type = SOCK_RAW;
  assert_int_equal(policy_default_errno(&q), EPERM);
  q.family = AF_NETLINK;
  assert_int_equal(policy_default_errno(&q), EACCES);
  policy_free(p);
}

/* --- policy_load_fd ----------------------------------------------------- */

static int memfd_with(const char *text, bool seal) {
  int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  if (seal)
    assert_int_equal(
        fcntl(fd, F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL),
        0);
  return fd;
}

static void test_load_fd(void **state) {
  const char good[] = "allow anyone lookup\ndeny anyone reverse\n";
  struct policy_subject s;
  struct policy *p = NULL, *d = NULL;
  struct qb b;
  unsigned nerr = 9;
  char *errs = NULL;
  size_t errlen = 0;
  FILE *f;
  int fd, pipefd[2];

  subj(&s, 1000, 1000);
  /* A sealed memfd (mapped) and an unsealed one (copied): same policy,
   * named as told, the fd's offset untouched. */
  for (int seal = 0; seal < 2; seal++) {
    fd = memfd_with(good, seal);
    assert_int_equal(
        policy_load_fd(fd, "/etc/psockd/policy.conf", NULL, &nerr, &p), 0);
    assert_int_equal(nerr, 0);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)strlen(good));
    assert_string_equal(policy_source(p), "/etc/psockd/policy.conf");
    ALLOW(p, &s, qfam(&b, POLICY_LOOKUP, 0), "/etc/psockd/policy.conf:1");
    DENY(p, &s, qfam(&b, POLICY_REVERSE, 0), EACCES,
         "/etc/psockd/policy.conf:2");
    policy_free(p);
    close(fd);
  }
  /* An empty memfd is an empty policy, which denies everything. */
  fd = memfd_with("", true);
  assert_int_equal(policy_load_fd(fd, "empty", NULL, NULL, &p), 0);
  assert_int_equal(policy_n_rules(p), 0);
  policy_free(p);
  close(fd);
  /* Errors are counted and reported with the name. */
  fd = memfd_with("allow anyone lookup\nallow anyone frob\n", true);
  f = open_memstream(&errs, &errlen);
  p = (struct policy *)&nerr;
  assert_int_equal(policy_load_fd(fd, "m", f, &nerr, &p), -EINVAL);
  fclose(f);
  assert_int_equal(nerr, 1);
  assert_true(p == (struct policy *)&nerr); /* untouched */
  assert_non_null(strstr(errs, "m:2:14: unknown call 'frob'"));
  free(errs);
  close(fd);
  /* fd < 0: the built-in default policy, whatever the name. */
  assert_int_equal(policy_load_fd(-1, "ignored", NULL, &nerr, &p), 0);
  assert_int_equal(policy_load_default(&d), 0);
  assert_true(policy_equal(p, d));
  assert_string_equal(policy_source(p), "default policy");
  policy_free(p);
  policy_free(d);
  /* A pipe is read to its end. */
  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  assert_int_equal(write(pipefd[1], good, strlen(good)), (ssize_t)strlen(good));
  close(pipefd[1]);
  assert_int_equal(policy_load_fd(pipefd[0], "pipe", NULL, &nerr, &p), 0);
  assert_int_equal(policy_n_rules(p), 2);
  policy_free(p);
  close(pipefd[0]);
  /* Too large, a directory, a closed fd. */
  fd = memfd_with("", false);
  assert_int_equal(ftruncate(fd, POL_MAX_FILE + 1), 0);
  assert_int_equal(policy_load_fd(fd, "big", NULL, &nerr, &p), -EFBIG);
  close(fd);
  fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_int_equal(policy_load_fd(fd, "/", NULL, &nerr, &p), -EISDIR);
  close(fd);
  assert_int_equal(policy_load_fd(fd, "closed", NULL, &nerr, &p), -EBADF);
}

/* --- warnings: rules the holder of a socket can undo -------------------- */

static unsigned lint(const char *text, char **ret_out) {
  struct policy *p = load(text);
  size_t len = 0;
  FILE *f = open_memstream(ret_out, &len);
  unsigned n;

  assert_non_null(f);
  n = policy_lint(p, f);
  fclose(f);
  policy_free(p);
  return n;
}

static void lint_none(const char *text) {
  char *out = NULL;

  if (lint(text, &out) != 0)
    fail_msg("unexpected warnings for:\n%s---\n%s", text, out);
  free(out);
}

static void lint_one(const char *text, const char *where, const char *needle) {
  char *out = NULL, prefix[64];

  if (lint(text, &out) != 1 || !strstr(out, needle))
    fail_msg("expected one warning with \"%s\" for:\n%s---\n%s", needle, text,
             out);
  snprintf(prefix, sizeof(prefix), "%s: warning: ", where);
  assert_memory_equal(out, prefix, strlen(prefix));
  assert_non_null(strstr(out, "psock-run --mode=seccomp"));
  assert_non_null(strstr(out, "connect without socket"));
  free(out);
}

#define SOCK_TCP "allow anyone socket family=inet type=stream proto=0,tcp\n"
#define SOCK_UDP "allow uid=1000 socket family=inet type=dgram proto=0,udp\n"

static void test_lint_unenforceable(void **state) {
  /* A deny on connect for clients that also get inet sockets... */
  lint_one(SOCK_TCP "deny anyone connect addr=10.0.0.0/8\n"
                    "allow anyone connect family=inet addr=any port=any\n",
           "t.conf:2", "rule t.conf:1 may give the same clients unconnected");
  /* ...its twin: connected sockets only (connect without socket). */
  lint_none("deny anyone connect addr=10.0.0.0/8\n"
            "allow anyone connect family=inet addr=any port=any\n");
  /* An allow rule that limits destinations, with no broader one... */
  lint_one(SOCK_UDP "allow anyone sendto family=inet addr=192.0.2.0/24 "
                    "port=53\n",
           "t.conf:2", "restricts sendto for inet sockets");
  /* ...twins: a broader rule for everyone, or other clients' sockets. */
  lint_none(SOCK_UDP "allow anyone sendto family=inet addr=192.0.2.0/24 "
                     "port=53\n"
                     "allow anyone sendto family=inet,inet6 addr=any "
                     "port=any\n");
  lint_none(SOCK_UDP "allow uid=1001 sendto family=inet addr=192.0.2.0/24 "
                     "port=53\n");
  /* bind: unprivileged ports only; privileged ones the kernel refuses. */
  lint_one(SOCK_TCP "deny anyone bind family=inet port=8000-8999\n", "t.conf:2",
           "restricts bind");
  lint_none(SOCK_TCP "deny anyone bind family=inet port=1-1023\n"
                     "allow anyone bind family=inet addr=any "
                     "port=0,1024-65535\n");
  lint_one(SOCK_TCP "allow anyone bind family=inet addr=127.0.0.1 port=any\n",
           "t.conf:2", "restricts bind");
  /* A grant of privileged ports restricts nothing the holder could do. */
  lint_none(SOCK_TCP "allow anyone bind family=inet addr=any port=80,443\n");
  /* listen: only where a connection type is granted. */
  lint_one(SOCK_TCP "deny anyone listen family=inet\n", "t.conf:2",
           "restricts listen");
  lint_none("allow anyone socket family=inet type=dgram proto=0\n"
            "deny anyone listen family=inet\n");
  /* Families: an inet6 restriction is not undone by inet sockets, an
   * abstract name is by unix sockets from psockd. */
  lint_none(SOCK_TCP "deny anyone connect family=inet6\n");
  lint_one("allow uid=0 socket family=unix type=any proto=any\n"
           "deny uid=0 connect family=unix addr=@dbus-*\n",
           "t.conf:2", "restricts connect for unix sockets");
  /* The default policy restricts nothing it cannot hold. */
  lint_none(pol_default_text);
}

static void test_lint_options(void **state) {
  char *out = NULL;

  /* Every option in today's table may need privilege: no warning. */
  for (size_t i = 0; i < sockopt_count(); i++) {
    const struct sockopt *o = sockopt_at(i);
    char text[128];

    snprintf(text, sizeof(text),
             "allow anyone setsockopt family=any "
             "option=%s\n",
             o->name);
    assert_int_equal(lint(text, &out), o->rule == SOCKOPT_FREE);
    free(out);
  }
}

/* --- dump -> parse round trip ------------------------------------------- */

static char *dump(const struct policy *p) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);

  assert_non_null(f);
  policy_dump(p, f);
  fclose(f);
  return buf;
}

static void round_trip(struct policy *p) {
  char *text = dump(p), *again;
  struct policy *q = NULL;

  assert_int_equal(
      policy_load_string("dump", text, strlen(text), stderr, NULL, &q), 0);
  assert_true(policy_equal(p, q));
  again = dump(q);
  assert_string_equal(text, again);
  free(again);
  free(text);
  policy_free(q);
}

static void test_round_trip_rich(void **state) {
  struct policy *p = load(
      "allow uid=0,1000 user=root gid=5 group=root unit=a.service,b@*.service "
      "all family=any type=any proto=any addr=any port=any option=any\n"
      "deny anyone socket,bind family=packet,tipc,99 errno=EPERM\n"
      "deny gid=100 connect,sendto addr=10.0.0.0/8,::ffff:0:0/96,::1 "
      "port=0,1-1023,8080\n"
      "allow anyone socket family=inet,inet6,netlink type=stream,dgram,raw,"
      "rdm,seqpacket,15 proto=0,tcp,udp,icmp,icmpv6,sctp,udplite,raw,route,"
      "262\n"
      "allow anyone setsockopt family=inet,inet6 option=SO_MARK,"
      "SO_BINDTODEVICE,SO_PRIORITY,SO_RCVBUFFORCE,SO_SNDBUFFORCE,SO_DEBUG,"
      "IP_TRANSPARENT,IPV6_TRANSPARENT\n"
      "allow anyone bind,connect,sendto family=unix,inet6 addr=2001:db8::/32,"
      "0.0.0.0/0,192.0.2.1 port=any\n"
      "deny unit=x.service listen,lookup,reverse errno=EACCES\n"
      "allow anyone bind,connect,sendto,listen,lookup,reverse,setsockopt,"
      "socket family=unix type=any proto=any addr=any port=any option=any\n");
  char *text = dump(p);

  /* Canonical: fixed key order, names where there are names, "all" for
   * every call, full-length prefixes left out; an errno= given is kept
   * (without it, the kernel's errno is answered). */
  assert_string_equal(
      text,
      "allow uid=0,1000 user=root gid=5 group=root unit=a.service,b@*.service "
      "all family=any type=any proto=any addr=any port=any option=any\n"
      "deny anyone socket,bind family=packet,tipc,99 errno=EPERM\n"
      "deny gid=100 connect,sendto addr=10.0.0.0/8,::ffff:0.0.0.0/96,::1 "
      "port=0,1-1023,8080\n"
      "allow anyone socket family=inet,inet6,netlink type=stream,dgram,raw,"
      "rdm,seqpacket,15 proto=0,tcp,udp,icmp,icmpv6,sctp,udplite,raw,route,"
      "262\n"
      "allow anyone setsockopt family=inet,inet6 option=SO_MARK,"
      "SO_BINDTODEVICE,SO_PRIORITY,SO_RCVBUFFORCE,SO_SNDBUFFORCE,SO_DEBUG,"
      "IP_TRANSPARENT,IPV6_TRANSPARENT\n"
      "allow anyone bind,connect,sendto family=unix,inet6 addr=2001:db8::/32,"
      "0.0.0.0/0,192.0.2.1 port=any\n"
      "deny unit=x.service listen,lookup,reverse errno=EACCES\n"
      "allow anyone all family=unix type=any proto=any addr=any port=any "
      "option=any\n");
  free(text);
  round_trip(p);
  policy_free(p);
}

/* Abstract names with every kind of byte come back as they went in. */
static void test_round_trip_abstract(void **state) {
  struct policy *p =
      load("allow uid=0 bind,connect family=unix,inet addr=any,@a\\*b\\?c*?,"
           "@\\x00\\x01\\x5C\\\\\\x2c\\x23\\x20\\xfF,@,@/tmp/.X11-unix/X0 "
           "port=any\n"
           "deny anyone connect addr=@*\\x5c\n");
  char *text = dump(p);

  /* Odd bytes escaped as \xHH (a backslash too: "\\" at the end of a
   * line would continue it), the glob characters as \* and \?. */
  assert_string_equal(text,
                      "allow uid=0 bind,connect family=unix,inet "
                      "addr=any,@a\\*b\\?c*?,@\\x00\\x01\\x5c\\x5c\\x2c\\x23"
                      "\\x20\\xff,@,@/tmp/.X11-unix/X0 port=any\n"
                      "deny anyone connect addr=@*\\x5c\n");
  free(text);
  round_trip(p);
  policy_free(p);
}

static void test_round_trip_default(void **state) {
  struct policy *p = NULL, *q;
  char *text;

  assert_int_equal(policy_load_default(&p), 0);
  round_trip(p);
  /* The dump is the embedded text itself: "default policy:N" is line N. */
  text = dump(p);
  assert_string_equal(text, pol_default_text);
  free(text);
  /* policy_equal tells policies apart. */
  q = load("allow anyone lookup\n");
  assert_false(policy_equal(p, q));
  policy_free(q);
  policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_who_anyone_uid_user),
      cmocka_unit_test(test_who_gid_group),
      cmocka_unit_test(test_who_unit),
      cmocka_unit_test(test_who_all_keys_must_match),
      cmocka_unit_test(test_resolved_dump_keeps_user_and_group),
      cmocka_unit_test(test_each_call),
      cmocka_unit_test(test_family_type_proto),
      cmocka_unit_test(test_addr_cidr),
      cmocka_unit_test(test_v4_mapped_deny),
      cmocka_unit_test(test_port),
      cmocka_unit_test(test_option),
      cmocka_unit_test(test_first_match_wins),
      cmocka_unit_test(test_missing_key_allow),
      cmocka_unit_test(test_missing_key_deny),
      cmocka_unit_test(test_invalid_request),
      cmocka_unit_test(test_empty_policy_denies),
      cmocka_unit_test(test_default_policy),
      cmocka_unit_test(test_each_error),
      cmocka_unit_test(test_every_error_reported),
      cmocka_unit_test(test_too_many_fields),
      cmocka_unit_test(test_syntax),
      cmocka_unit_test(test_origin_truncation),
      cmocka_unit_test(test_load_file),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_option_names_are_the_table),
      cmocka_unit_test(test_abstract_names),
      cmocka_unit_test(test_abstract_edges),
      cmocka_unit_test(test_abstract_too_long),
      cmocka_unit_test(test_abstract_from_text),
      cmocka_unit_test(test_unit_unknown),
      cmocka_unit_test(test_errno),
      cmocka_unit_test(test_load_fd),
      cmocka_unit_test(test_lint_unenforceable),
      cmocka_unit_test(test_lint_options),
      cmocka_unit_test(test_round_trip_rich),
      cmocka_unit_test(test_round_trip_abstract),
      cmocka_unit_test(test_round_trip_default),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
