/* SPDX-License-Identifier: MIT */
/*
 * policy_scope (issue 16): what a policy leaves open to one subject, for
 * the policy page. A call is "free" when the policy allows the subject
 * every request of it in the family (policy_allows_every()): a client
 * makes a free call without asking psockd, so a free answer must never be
 * wrong. A socket kind is batched when the policy allows it outright
 * (policy_allows_batch()). Each case that says "free" sits next to the one
 * rule that takes it away; --audit-allow (authz) leaves nothing free.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "authz.h"
#include "policy.h"
#include "policy_page.h"

#define NOBODY 65534
#define ALL_FREE 0xffu
#define ALL_BATCH                                                              \
  (PSOCK_BATCH_TCP4 | PSOCK_BATCH_UDP4 | PSOCK_BATCH_TCP6 | PSOCK_BATCH_UDP6)
#define CONNECT_BITS (PSOCK_FREE_CONNECT_INET | PSOCK_FREE_CONNECT_INET6)
#define BIND_BITS (PSOCK_FREE_BIND_INET | PSOCK_FREE_BIND_INET6)

static struct policy *load(const char *text) {
  struct policy *p = NULL;
  unsigned nerr = 0;

  assert_int_equal(
      policy_load_string("t.conf", text, strlen(text), stderr, &nerr, &p), 0);
  return p;
}

static struct policy_scope scope_of(const char *text,
                                    const struct policy_subject *who) {
  struct policy *p = load(text);
  struct policy_scope s;

  policy_scope_of(p, who, &s);
  policy_free(p);
  return s;
}

static const struct policy_subject nobody = {.uid = NOBODY, .gid = NOBODY};

/* The default policy's rules for everyone, as psockd --dump-policy shows
 * them, after the rules a test puts first. */
#define DEFAULT_ANYONE                                                         \
  "allow anyone socket family=inet,inet6 type=stream proto=0,tcp\n"            \
  "allow anyone socket family=inet,inet6 type=dgram proto=0,udp\n"             \
  "allow anyone connect,sendto family=inet,inet6,netlink addr=any "            \
  "port=any\n"                                                                 \
  "allow anyone bind family=inet,inet6,netlink addr=any port=0,1024-65535\n"   \
  "allow anyone listen family=inet,inet6\n"

static void test_default_policy(void **state) {
  const struct policy_subject root = {.uid = 0, .gid = 0};
  struct policy *p = NULL;
  struct policy_scope s;

  assert_int_equal(policy_load_default(&p), 0);
  policy_scope_of(p, &nobody, &s);
  assert_int_equal(s.free, ALL_FREE);
  assert_int_equal(s.batch, ALL_BATCH);
  policy_scope_of(p, &root, &s);
  assert_int_equal(s.free, ALL_FREE);
  assert_int_equal(s.batch, ALL_BATCH);
  policy_free(p);
  /* The same rules written out: the same scope. */
  s = scope_of(DEFAULT_ANYONE, &nobody);
  assert_int_equal(s.free, ALL_FREE);
  assert_int_equal(s.batch, ALL_BATCH);
  /* No policy, no rule: nothing. */
  policy_scope_of(NULL, &nobody, &s);
  assert_int_equal(s.free | s.batch, 0);
  s = scope_of("allow anyone lookup\n", &nobody);
  assert_int_equal(s.free | s.batch, 0);
}

static void test_deny_one_port(void **state) {
  struct policy_scope s;

  /* Connect to port 25 refused over IPv4: IPv4 connect is not free, the
   * rest is. */
  s = scope_of("deny anyone connect family=inet port=25\n" DEFAULT_ANYONE,
               &nobody);
  assert_int_equal(s.free, ALL_FREE & ~PSOCK_FREE_CONNECT_INET);
  assert_int_equal(s.batch, ALL_BATCH);
  /* Without family=, both families. */
  s = scope_of("deny anyone connect port=25\n" DEFAULT_ANYONE, &nobody);
  assert_int_equal(s.free, ALL_FREE & ~CONNECT_BITS);
  /* A bind deny of a privileged port: a client never binds one itself
   * (it asks psockd), so bind stays free... */
  s = scope_of("deny anyone bind port=80\n" DEFAULT_ANYONE, &nobody);
  assert_int_equal(s.free, ALL_FREE);
  /* ... and of an unprivileged one it is not. */
  s = scope_of("deny anyone bind port=8080\n" DEFAULT_ANYONE, &nobody);
  assert_int_equal(s.free, ALL_FREE & ~BIND_BITS);
  /* After the broad allow the deny decides nothing. */
  s = scope_of(DEFAULT_ANYONE "deny anyone connect port=25\n", &nobody);
  assert_int_equal(s.free, ALL_FREE);
  /* A deny of listen. */
  s = scope_of("deny anyone listen family=inet6\n" DEFAULT_ANYONE, &nobody);
  assert_int_equal(s.free, ALL_FREE & ~PSOCK_FREE_LISTEN_INET6);
}

static void test_ports_allowed(void **state) {
  struct policy_scope s;

  /* Ranges that together cover every port, in any order. */
  s = scope_of("allow anyone connect,sendto,bind family=inet,inet6 addr=any "
               "port=1024-65535,1-1023,0\n",
               &nobody);
  assert_int_equal(
      s.free, ALL_FREE & ~(PSOCK_FREE_LISTEN_INET | PSOCK_FREE_LISTEN_INET6));
  /* One port missing. */
  s = scope_of("allow anyone connect family=inet,inet6 addr=any "
               "port=0-79,81-65535\n",
               &nobody);
  assert_int_equal(s.free, 0);
  /* The unprivileged ports: all bind needs, not all connect needs. */
  s = scope_of("allow anyone connect,bind family=inet,inet6 addr=any "
               "port=0,1024-65535\n",
               &nobody);
  assert_int_equal(s.free, BIND_BITS);
  /* Port 0 left out of bind: a bind to an ephemeral port would be
   * refused. */
  s = scope_of("allow anyone bind family=inet,inet6 addr=any "
               "port=1024-65535\n",
               &nobody);
  assert_int_equal(s.free, 0);
  /* A narrower allow first, the broad one after: everything allowed. */
  s = scope_of("allow anyone connect family=inet addr=10.0.0.0/8 port=53\n"
               "allow anyone connect family=inet addr=any port=any\n",
               &nobody);
  assert_int_equal(s.free, PSOCK_FREE_CONNECT_INET);
}

static void test_addresses(void **state) {
  struct policy_scope s;

  /* Connect to 127.0.0.1 port 80 only. */
  s = scope_of("allow anyone socket family=inet,inet6 type=stream "
               "proto=0,tcp\n"
               "allow anyone connect family=inet,inet6 addr=127.0.0.1 "
               "port=80\n",
               &nobody);
  assert_int_equal(s.free, 0);
  assert_int_equal(s.batch, PSOCK_BATCH_TCP4 | PSOCK_BATCH_TCP6);
  /* Any port, but one network: still not free. */
  s = scope_of("allow anyone connect family=inet addr=127.0.0.0/8 port=any\n",
               &nobody);
  assert_int_equal(s.free, 0);
  /* Both whole address spaces are every address; one is not (an inet6
   * socket reaches IPv4 addresses too, and the other way round). */
  s = scope_of("allow anyone connect family=inet addr=0.0.0.0/0,::/0 "
               "port=any\n",
               &nobody);
  assert_int_equal(s.free, PSOCK_FREE_CONNECT_INET);
  s = scope_of("allow anyone connect family=inet addr=0.0.0.0/0 port=any\n",
               &nobody);
  assert_int_equal(s.free, 0);
  /* A deny of one network takes connect away... */
  s = scope_of("deny anyone connect addr=10.0.0.0/8\n" DEFAULT_ANYONE, &nobody);
  assert_int_equal(s.free, ALL_FREE & ~CONNECT_BITS);
  /* ... one of abstract names only matches no inet request... */
  s = scope_of("deny anyone connect addr=@secret\n" DEFAULT_ANYONE, &nobody);
  assert_int_equal(s.free, ALL_FREE);
  /* ... nor does one with a key connect never carries. */
  s = scope_of("deny anyone socket,connect type=dgram\n" DEFAULT_ANYONE,
               &nobody);
  assert_int_equal(s.free, ALL_FREE);
  assert_int_equal(s.batch, ALL_BATCH & ~(PSOCK_BATCH_UDP4 | PSOCK_BATCH_UDP6));
}

static void test_other_subjects(void **state) {
  const struct policy_subject user = {.uid = 1000, .gid = 1000};
  const gid_t groups[] = {4242};
  const struct policy_subject member = {
      .uid = 1001, .gid = 1001, .groups = groups, .n_groups = 1};
  const struct policy_subject in_unit = {
      .uid = NOBODY, .gid = NOBODY, .unit = "app.service"};
  const struct policy_subject unit_unknown = {
      .uid = NOBODY, .gid = NOBODY, .unit_unknown = true};
  const char *text = "deny uid=1000 connect family=inet\n"
                     "deny gid=4242 bind\n"
                     "deny unit=app.service sendto\n" DEFAULT_ANYONE;
  struct policy_scope s;

  /* Rules for someone else change nothing for nobody. */
  s = scope_of(text, &nobody);
  assert_int_equal(s.free, ALL_FREE);
  s = scope_of(text, &user);
  assert_int_equal(s.free, ALL_FREE & ~PSOCK_FREE_CONNECT_INET);
  s = scope_of(text, &member);
  assert_int_equal(s.free, ALL_FREE & ~BIND_BITS);
  s = scope_of(text, &in_unit);
  assert_int_equal(
      s.free, ALL_FREE & ~(PSOCK_FREE_SENDTO_INET | PSOCK_FREE_SENDTO_INET6));
  /* A unit psockd cannot know is in every deny rule's units... */
  s = scope_of(text, &unit_unknown);
  assert_int_equal(
      s.free, ALL_FREE & ~(PSOCK_FREE_SENDTO_INET | PSOCK_FREE_SENDTO_INET6));
  /* ... and in no allow rule's. */
  s = scope_of("allow unit=app.service connect family=inet addr=any "
               "port=any\n",
               &unit_unknown);
  assert_int_equal(s.free, 0);
  s = scope_of("allow unit=app.service connect family=inet addr=any "
               "port=any\n",
               &in_unit);
  assert_int_equal(s.free, PSOCK_FREE_CONNECT_INET);
  /* Allow rules for another uid give nobody nothing. */
  s = scope_of("allow uid=1000 all family=any type=any proto=any addr=any "
               "port=any\n",
               &nobody);
  assert_int_equal(s.free | s.batch, 0);
  s = scope_of("allow uid=1000 all family=any type=any proto=any addr=any "
               "port=any\n",
               &user);
  assert_int_equal(s.free, ALL_FREE);
  assert_int_equal(s.batch, ALL_BATCH);
}

static void test_batch_kinds(void **state) {
  struct policy_scope s;

  assert_int_equal(policy_batch_kind(AF_INET, SOCK_STREAM, 0),
                   PSOCK_BATCH_TCP4);
  assert_int_equal(policy_batch_kind(AF_INET, SOCK_STREAM, IPPROTO_TCP),
                   PSOCK_BATCH_TCP4);
  assert_int_equal(policy_batch_kind(AF_INET6, SOCK_DGRAM, IPPROTO_UDP),
                   PSOCK_BATCH_UDP6);
  assert_int_equal(policy_batch_kind(AF_INET, SOCK_STREAM, IPPROTO_SCTP), 0);
  assert_int_equal(policy_batch_kind(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), 0);
  assert_int_equal(policy_batch_kind(AF_INET, SOCK_RAW, 0), 0);
  assert_int_equal(policy_batch_kind(AF_NETLINK, SOCK_DGRAM, 0), 0);
  /* Both forms of the request must be allowed. */
  s = scope_of("allow anyone socket family=inet type=stream proto=tcp\n",
               &nobody);
  assert_int_equal(s.batch, 0);
  s = scope_of("allow anyone socket family=inet type=stream proto=0,tcp\n",
               &nobody);
  assert_int_equal(s.batch, PSOCK_BATCH_TCP4);
  /* A deny rule first. */
  s = scope_of("deny anyone socket family=inet6\n" DEFAULT_ANYONE, &nobody);
  assert_int_equal(s.batch, PSOCK_BATCH_TCP4 | PSOCK_BATCH_UDP4);
  /* A raw rule adds no batch kind. */
  s = scope_of("allow anyone socket family=inet type=raw proto=icmp\n",
               &nobody);
  assert_int_equal(s.batch, 0);
  assert_false(policy_allows_batch(NULL, &nobody, PSOCK_BATCH_TCP4));
}

/* --audit-allow: every allowed call must reach psockd to be recorded. */
static void test_audit_allow(void **state) {
  struct identity who = {.uid = NOBODY, .gid = NOBODY};
  struct policy *p = NULL;
  struct policy_scope s;
  struct authz *a;

  assert_int_equal(policy_load_default(&p), 0);
  authz_install(p);
  a = authz_get();
  authz_set_audit_allow(false);
  authz_scope(a, &who, &s);
  assert_int_equal(s.free, ALL_FREE);
  assert_int_equal(s.batch, ALL_BATCH);
  assert_true(authz_batchable(a, &who, AF_INET, SOCK_STREAM, 0));
  authz_set_audit_allow(true);
  authz_scope(a, &who, &s);
  assert_int_equal(s.free | s.batch, 0);
  assert_false(authz_batchable(a, &who, AF_INET, SOCK_STREAM, 0));
  authz_set_audit_allow(false);
  /* No policy: nothing. */
  authz_scope(NULL, &who, &s);
  assert_int_equal(s.free | s.batch, 0);
  authz_put(a);
  authz_shutdown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_policy),
      cmocka_unit_test(test_deny_one_port),
      cmocka_unit_test(test_ports_allowed),
      cmocka_unit_test(test_addresses),
      cmocka_unit_test(test_other_subjects),
      cmocka_unit_test(test_batch_kinds),
      cmocka_unit_test(test_audit_allow),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
