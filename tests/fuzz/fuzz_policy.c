/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the policy (daemon/policy_parse.c with its keys and
 * names, policy_load.c, the decision and dumps in policy_check.c, the lint in
 * policy_lint.c): any bytes as a policy file.
 *
 * Oracles, besides the sanitizers, for a policy p that parses:
 *  - policy_dump(p) parses back to a policy equal to p (policy_equal);
 *  - it and policy_dump_resolved(p) (what the master hands the sandboxed
 *    roles: numeric ids, one rule per line) parse to policies that decide
 *    as p does: for a fixed set of subjects and queries (every call, inet
 *    and inet6 addresses and ports, abstract unix names with NULs and the
 *    characters the file syntax escapes, a unix path, an option) the
 *    same allow and the same errno;
 *  - every decision is an allow with errno 0 or a denial with EACCES or
 *    EPERM, and names its rule;
 *  - what policy_scope_of() calls free for a subject (the policy page,
 *    issue 16) policy_check() allows it for a sample of addresses (IPv4,
 *    IPv6, v4-mapped, any, broadcast) and ports (bind: 0 and 1024 up);
 *    a batch kind's socket requests are allowed;
 *  - the lint runs.
 *
 * Seeds: tests/fuzz/corpus/policy/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "policy.h"
#include "policy_internal.h"
#include "policy_page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---------------------------------------------------- subjects, queries */

static const gid_t groups[] = {5, 6000};

static const struct policy_subject subjects[] = {
    {.uid = 0, .gid = 0},
    {.uid = 1000,
     .gid = 1000,
     .groups = groups,
     .n_groups = 2,
     .unit = "app@1.service"},
    {.uid = 65534, .gid = 65534, .unit_unknown = true},
    {.uid = 1000, .gid = 100, .unit = "user@1000.service/a.service"},
};

#define N_QUERIES 24
static struct policy_query queries[N_QUERIES];
static struct sockaddr_in sin_lo, sin_far;
static struct sockaddr_in6 sin6_lo, sin6_mapped;
static struct sockaddr_un sun_path, sun_abstract;
static socklen_t sun_abstract_len;

static void make_queries(void) {
  static const char app[] = "app-1\0*\\";
  static const char comma[] = "x,y#z";
  static const char x11[] = "/tmp/.X11-unix/X0";
  size_t n = 0;

  sin_lo = (struct sockaddr_in){.sin_family = AF_INET,
                                .sin_port = htons(80),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  sin_far = (struct sockaddr_in){.sin_family = AF_INET,
                                 .sin_port = htons(22),
                                 .sin_addr.s_addr = htonl(0x0a010203)};
  sin6_lo = (struct sockaddr_in6){.sin6_family = AF_INET6,
                                  .sin6_port = htons(1),
                                  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  sin6_mapped =
      (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_port = htons(1023)};
  sin6_mapped.sin6_addr.s6_addr[10] = sin6_mapped.sin6_addr.s6_addr[11] = 0xff;
  sin6_mapped.sin6_addr.s6_addr[12] = 127;
  sin6_mapped.sin6_addr.s6_addr[15] = 1;
  sun_path = (struct sockaddr_un){.sun_family = AF_UNIX};
  memcpy(sun_path.sun_path, "/run/x.sock", 12);
  sun_abstract = (struct sockaddr_un){.sun_family = AF_UNIX};
  memcpy(sun_abstract.sun_path + 1, "psock-a", 7);
  sun_abstract_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 8);

#define Q(...) queries[n++] = (struct policy_query){__VA_ARGS__}
  Q(.call = POLICY_SOCKET, .family = AF_INET, .type = SOCK_STREAM);
  Q(.call = POLICY_SOCKET, .family = AF_INET6, .type = SOCK_DGRAM,
    .proto = IPPROTO_UDP);
  Q(.call = POLICY_SOCKET, .family = AF_INET, .type = SOCK_RAW,
    .proto = IPPROTO_ICMP);
  Q(.call = POLICY_SOCKET, .family = AF_PACKET, .type = SOCK_RAW,
    .proto = 0x0300);
  Q(.call = POLICY_SOCKET, .family = AF_NETLINK, .type = SOCK_RAW);
  Q(.call = POLICY_SOCKET, .family = AF_UNIX, .type = SOCK_SEQPACKET);
  Q(.call = POLICY_BIND, .family = AF_INET, .addr = (struct sockaddr *)&sin_lo,
    .addrlen = sizeof(sin_lo));
  Q(.call = POLICY_BIND, .family = AF_INET6,
    .addr = (struct sockaddr *)&sin6_mapped, .addrlen = sizeof(sin6_mapped));
  Q(.call = POLICY_CONNECT, .family = AF_INET,
    .addr = (struct sockaddr *)&sin_far, .addrlen = sizeof(sin_far));
  Q(.call = POLICY_CONNECT, .family = AF_INET6,
    .addr = (struct sockaddr *)&sin6_lo, .addrlen = sizeof(sin6_lo));
  Q(.call = POLICY_SENDTO, .family = AF_INET6,
    .addr = (struct sockaddr *)&sin_lo, .addrlen = sizeof(sin_lo));
  Q(.call = POLICY_CONNECT, .family = AF_UNIX,
    .addr = (struct sockaddr *)&sun_path, .addrlen = sizeof(sun_path));
  Q(.call = POLICY_CONNECT, .family = AF_UNIX,
    .addr = (struct sockaddr *)&sun_abstract, .addrlen = sun_abstract_len);
  Q(.call = POLICY_BIND, .family = AF_UNIX, .abstract = app,
    .abstract_len = sizeof(app) - 1);
  Q(.call = POLICY_SENDTO, .family = AF_UNIX, .abstract = comma,
    .abstract_len = sizeof(comma) - 1);
  Q(.call = POLICY_CONNECT, .family = AF_UNIX, .abstract = x11,
    .abstract_len = sizeof(x11) - 1);
  Q(.call = POLICY_BIND, .family = AF_UNIX, .abstract = "", .abstract_len = 0);
  Q(.call = POLICY_CONNECT, .family = AF_INET);
  Q(.call = POLICY_LISTEN, .family = AF_INET);
  Q(.call = POLICY_LISTEN, .family = AF_UNIX);
  Q(.call = POLICY_LOOKUP);
  Q(.call = POLICY_REVERSE);
  Q(.call = POLICY_SETSOCKOPT, .family = AF_INET, .level = SOL_SOCKET,
    .optname = SO_MARK);
  Q(.call = POLICY_SETSOCKOPT, .family = AF_INET6, .level = 12345,
    .optname = 1);
#undef Q
  if (n != N_QUERIES)
    abort();
}

/* --------------------------------------------------------------- oracles */

static _Noreturn void fail(const char *what, size_t s, size_t i,
                           const struct policy_decision *a,
                           const struct policy_decision *b) {
  fprintf(stderr, "fuzz_policy: %s (subject %zu, query %zu)", what, s, i);
  if (a)
    fprintf(stderr, ": %s %d (%s)", a->allow ? "allow" : "deny", a->error,
            a->rule);
  if (b)
    fprintf(stderr, " against %s %d (%s)", b->allow ? "allow" : "deny",
            b->error, b->rule);
  fputc('\n', stderr);
  abort();
}

static void check_decision(const struct policy_decision *d, size_t s,
                           size_t i) {
  if (d->allow ? d->error != 0 : (d->error != EACCES && d->error != EPERM))
    fail("a decision with a wrong errno", s, i, d, NULL);
  if (!memchr(d->rule, '\0', sizeof(d->rule)) || !d->rule[0])
    fail("a decision without a rule", s, i, NULL, NULL);
}

/* p and q decide alike (allow and errno; the rules' names differ). */
static void same_decisions(const struct policy *p, const struct policy *q,
                           const char *what) {
  for (size_t s = 0; s < sizeof(subjects) / sizeof(subjects[0]); s++)
    for (size_t i = 0; i < N_QUERIES; i++) {
      struct policy_decision a, b;

      policy_check(p, &subjects[s], &queries[i], &a);
      policy_check(q, &subjects[s], &queries[i], &b);
      check_decision(&a, s, i);
      check_decision(&b, s, i);
      if (a.allow != b.allow || a.error != b.error)
        fail(what, s, i, &a, &b);
    }
}

/* policy_check() of call in family to a at port: must allow (subject s). */
static void free_call_allowed(const struct policy *p, size_t s,
                              enum policy_call call, int family,
                              const struct sockaddr_storage *a, uint16_t port) {
  struct sockaddr_storage ss = *a;
  struct policy_query q = {.call = call, .family = family};
  struct policy_decision d;

  if (ss.ss_family == AF_INET) {
    ((struct sockaddr_in *)&ss)->sin_port = htons(port);
    q.addrlen = sizeof(struct sockaddr_in);
  } else {
    ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
    q.addrlen = sizeof(struct sockaddr_in6);
  }
  q.addr = call == POLICY_LISTEN ? NULL : (struct sockaddr *)&ss;
  if (call == POLICY_LISTEN)
    q.addrlen = 0;
  policy_check(p, &subjects[s], &q, &d);
  if (!d.allow) {
    fprintf(stderr, "fuzz_policy: call %d family %d port %u\n", (int)call,
            family, port);
    fail("a call the scope calls free is refused", s, 0, &d, NULL);
  }
}

/* What the page would say free or batched, policy_check() allows. */
static void scope_is_sound(const struct policy *p) {
  const struct policy_free_call *calls = policy_free_calls;
  static const uint16_t ports[] = {0, 1, 22, 80, 1023, 1024, 8080, 65535};
  static const char *const hosts[] = {
      "127.0.0.1", "10.1.2.3",         "0.0.0.0",     "255.255.255.255",
      "::1",       "::ffff:127.0.0.1", "2001:db8::1", "::"};
  struct sockaddr_storage addrs[sizeof(hosts) / sizeof(hosts[0])];

  for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
    memset(&addrs[h], 0, sizeof(addrs[h]));
    if (inet_pton(AF_INET, hosts[h],
                  &((struct sockaddr_in *)&addrs[h])->sin_addr) == 1)
      addrs[h].ss_family = AF_INET;
    else if (inet_pton(AF_INET6, hosts[h],
                       &((struct sockaddr_in6 *)&addrs[h])->sin6_addr) == 1)
      addrs[h].ss_family = AF_INET6;
    else
      abort();
  }
  for (size_t s = 0; s < sizeof(subjects) / sizeof(subjects[0]); s++) {
    struct policy_scope sc;

    policy_scope_of(p, &subjects[s], &sc);
    for (size_t c = 0; c < POLICY_N_FREE_CALLS; c++) {
      if (!(sc.free & calls[c].bit))
        continue;
      for (size_t h = 0; h < sizeof(addrs) / sizeof(addrs[0]); h++)
        for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
          if (calls[c].call != POLICY_BIND || ports[i] == 0 || ports[i] >= 1024)
            free_call_allowed(p, s, calls[c].call, calls[c].family, &addrs[h],
                              ports[i]);
    }
    for (uint32_t kind = 1; kind <= PSOCK_BATCH_UDP6; kind <<= 1)
      if ((sc.batch & kind) && !policy_allows_batch(p, &subjects[s], kind))
        fail("a batch kind the policy does not allow", s, 0, NULL, NULL);
  }
}

/* Dump p with dump(), parse it back; the caller frees the result. */
static struct policy *dump_and_parse(const struct policy *p,
                                     void (*dump)(const struct policy *,
                                                  FILE *)) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  struct policy *q = NULL;

  if (!f)
    abort();
  dump(p, f);
  if (fclose(f) != 0)
    abort();
  if (policy_load_string("dump", text, len, stderr, NULL, &q) != 0) {
    fprintf(stderr, "fuzz_policy: a dump that does not parse:\n%.*s\n",
            (int)len, text);
    abort();
  }
  free(text);
  return q;
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
  static bool ready;
  struct policy *p = NULL, *q;
  unsigned nerrors = 0;

  if (!ready) {
    make_queries();
    ready = true;
  }
  if (policy_load_string("fuzz", (const char *)data, size, NULL, &nerrors,
                         &p) != 0)
    return 0;
  q = dump_and_parse(p, policy_dump);
  if (!policy_equal(p, q))
    fail("the dump parses to another policy", 0, 0, NULL, NULL);
  same_decisions(p, q, "the dump decides otherwise");
  policy_free(q);
  q = dump_and_parse(p, policy_dump_resolved);
  same_decisions(p, q, "the resolved dump decides otherwise");
  policy_free(q);
  scope_is_sound(p);
  lint(p);
  policy_free(p);
  return 0;
}
