/* SPDX-License-Identifier: MIT */
/*
 * policy_sendto_restricted() (HelloReply.sendto_restricted): may the policy
 * refuse a subject some sendto() destination? psock-run's seccomp mode
 * stops a program's own sendto/sendmsg/sendmmsg with a destination only
 * when it may, so a false answer must never be wrong; each case that says
 * "free" sits next to the one rule that makes it "restricted".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

static bool restricted(const char *text, uid_t uid) {
  struct policy_subject who = {.uid = uid, .gid = uid};
  struct policy *p = NULL;
  unsigned nerr = 0;
  bool r;

  assert_int_equal(
      policy_load_string("t.conf", text, strlen(text), stderr, &nerr, &p), 0);
  r = policy_sendto_restricted(p, &who);
  policy_free(p);
  return r;
}

#define SOCKETS "allow uid=1000 socket family=inet,inet6,netlink\n"
#define ALL_DEST                                                               \
  SOCKETS "allow uid=1000 connect,sendto family=inet,inet6,netlink addr=any "  \
          "port=any\n"

static void test_default_policy_is_free(void **state) {
  struct policy_subject who = {.uid = 1000, .gid = 1000};
  struct policy *p = NULL;

  assert_int_equal(policy_load_default(&p), 0);
  assert_false(policy_sendto_restricted(p, &who));
  policy_free(p);
}

static void test_no_rule_restricts(void **state) {
  assert_true(restricted(SOCKETS "allow uid=1000 lookup\n", 1000));
  /* No socket to send on: nothing to refuse. */
  assert_false(restricted("allow uid=1000 lookup\n", 1000));
  assert_false(restricted(ALL_DEST, 1000));
  /* The rule is for someone else, who gets sockets too. */
  assert_true(restricted("allow anyone socket family=inet\n" ALL_DEST, 1001));
}

static void test_narrow_allow_restricts(void **state) {
  assert_true(restricted(SOCKETS "allow uid=1000 sendto "
                                 "family=inet,inet6,netlink "
                                 "addr=127.0.0.0/8 port=any\n",
                         1000));
  assert_true(restricted(SOCKETS "allow uid=1000 sendto "
                                 "family=inet,inet6,netlink addr=any "
                                 "port=53\n",
                         1000));
  /* One family left out... */
  assert_true(restricted(SOCKETS "allow uid=1000 sendto family=inet,netlink "
                                 "addr=any port=any\n",
                         1000));
  /* ... that the user gets no socket of. */
  assert_false(restricted("allow uid=1000 socket family=inet\n"
                          "allow uid=1000 sendto family=inet,netlink "
                          "addr=any port=any\n",
                          1000));
  /* A narrower allow first, the broad one after: everything is allowed. */
  assert_false(restricted("allow uid=1000 sendto family=inet addr=10.0.0.0/8 "
                          "port=53\n" ALL_DEST,
                          1000));
}

static void test_deny_restricts(void **state) {
  assert_true(restricted("deny uid=1000 sendto family=inet addr=10.0.0.0/8 "
                         "port=any\n" ALL_DEST,
                         1000));
  /* After the broad allow it decides nothing. */
  assert_false(restricted(ALL_DEST "deny uid=1000 sendto family=inet "
                                   "addr=10.0.0.0/8 port=any\n",
                          1000));
  /* A deny of another family's sendto restricts that family. */
  assert_true(restricted("deny anyone sendto family=netlink\n" ALL_DEST, 1000));
  /* A key sendto never carries: the rule never matches a sendto. */
  assert_false(
      restricted("deny anyone socket,sendto type=dgram\n" ALL_DEST, 1000));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_policy_is_free),
      cmocka_unit_test(test_no_rule_restricts),
      cmocka_unit_test(test_narrow_allow_restricts),
      cmocka_unit_test(test_deny_restricts),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
