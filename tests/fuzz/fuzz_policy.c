/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the policy parser (daemon/policy_parse.c): any bytes
 * as a policy file. A policy that parses must dump and parse back to an
 * equal policy; anything else (a crash, a leak, a sanitizer report, or a
 * round trip that changes the policy) is a bug. The lint runs on every
 * policy that parses too.
 *
 * Seeds: tests/fuzz/corpus/policy/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct policy *p) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  struct policy *q = NULL;

  if (!f)
    return;
  policy_dump(p, f);
  if (fclose(f) != 0) {
    free(text);
    return;
  }
  if (policy_load_string("dump", text, len, NULL, NULL, &q) != 0 ||
      !policy_equal(p, q))
    abort();
  policy_free(q);
  free(text);
}

static void lint(const struct policy *p) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);

  if (!f)
    return;
  policy_lint(p, f);
  fclose(f);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct policy *p = NULL;
  unsigned nerrors = 0;

  if (policy_load_string("fuzz", (const char *)data, size, NULL, &nerrors,
                         &p) == 0) {
    round_trip(p);
    lint(p);
    policy_free(p);
  }
  return 0;
}
