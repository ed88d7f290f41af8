/* SPDX-License-Identifier: MIT */
/*
 * The policy tools, run as commands: `psockd --check-config` and
 * `--dump-policy`, `psockctl check`, `dump` and `explain`.
 *
 * - A bad file: every error on a line of its own as FILE:LINE:COL, exit
 *   status non-zero; a good file: exit status 0.
 * - A dump parses back and dumps again to the same rules (round trip), for
 *   a file using every feature and for the built-in default policy, which
 *   is also the one psockd.policy(5) lists.
 * - explain prints the decision and the deciding rule (exit status 0 allow,
 *   1 deny, 2 usage), and agrees with what a real psockd decides for a
 *   client running as nobody; it takes abstract unix names (addr=@NAME)
 *   and clients whose unit is unknown.
 * - check and explain warn about rules that a client holding an
 *   unconnected socket can undo by itself (a policy that warns next to its
 *   twin that does not); check exits 1 for warnings only with --strict.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "config.h"
#include "harness.h"
#include "policy_util.h"

static struct {
  char dir[POL_PATH_MAX];
  char bad[POL_FILE_MAX], good[POL_FILE_MAX], rich[POL_FILE_MAX];
  char twin[POL_FILE_MAX], units[POL_FILE_MAX];
  const char *psockd, *psockctl;
  unsigned good_mark, good_deny, good_connect;
  gid_t supp_gid;
  char supp_name[64];
  bool have_default; /* no /etc/psockd/policy.conf: the built-in policy */
} fx;

/* --------------------------------------------------------------- files */

/* Several mistakes on several lines: all of them are reported. */
static const char bad_text[] =
    "# several mistakes, all reported\n"
    "allow anyone lookup\n"
    "allow\n"
    "deny nobody socket family=inet6 type=stream proto=udp port=1\n"
    "allow anyone connect family=inet addr=1.2.3.4/24,::1/200 port=99999\n"
    "allow anyone lookup\n"
    "frob\n";

static const char *const bad_errors[] = {
    ":3:6: missing WHO (expected anyone, uid=, user=, gid=, group= or unit=)",
    ":3:6: missing calls (expected a list such as socket,connect or all)",
    /* One literal per message: clang warns of concatenation in arrays. */
    (":4:6: unknown WHO 'nobody' (expected anyone, uid=, user=, gid=, group= "
     "or unit=)"),
    ":4:55: port= does not apply to any call of this rule",
    ":5:39: '1.2.3.4/24' has bits set after the /24 prefix",
    ":5:54: bad prefix length '200' (expected 0-128)",
    ":5:63: port 99999 is larger than 65535",
    ":7:1: unknown action 'frob' (expected allow or deny)",
};

#define N_BAD_ERRORS (sizeof(bad_errors) / sizeof(bad_errors[0]))

/* Everything the syntax has: continuation lines, comments, CRLF, every
 * WHO key, numbers and names, ranges, IPv4 and IPv6 networks. */
static void write_rich(void) {
  char text[4096];

  snprintf(
      text, sizeof(text),
      "# every feature of the syntax\r\n"
      "allow uid=0,1000 user=root gid=5 group=root unit=a.service,b@*.service "
      "\\\n"
      "  all family=any type=any proto=any addr=any port=any option=any\n"
      "deny anyone socket,bind family=packet,tipc,99 errno=EPERM # why\n"
      "\n"
      "\t deny gid=100,%u group=%s connect,sendto "
      "addr=10.0.0.0/8,::ffff:0:0/96,::1,fe80::/10 port=0,1-1023,8080\n"
      "allow anyone socket family=inet,inet6,netlink type=stream,dgram,raw,7 "
      "proto=0,tcp,udp,icmp,icmpv6,sctp,udplite,raw,route,255\n"
      "allow user=%s setsockopt family=inet,inet6 "
      "option=SO_MARK,SO_PRIORITY,IPV6_TRANSPARENT\n"
      "allow anyone bind,listen family=unix,inet addr=127.0.0.0/8 "
      "port=1024-65535\n"
      "deny anyone reverse errno=EACCES\n"
      "allow unit=user@*.service/x.service lookup,reverse\n"
      "allow uid=0 bind,connect family=unix addr=@/tmp/.X11-unix/X?,"
      "@odd\\x00\\x20\\*\\\\x*\n",
      (unsigned)fx.supp_gid, fx.supp_name, pol_nobody_user());
  pol_write_file(fx.rich, text);
}

/*
 * good.conf warns twice: nobody is refused connects to 10.0.0.0/8 and
 * allowed only ports 1-1023 elsewhere, yet gets unconnected inet sockets
 * from line 2 and can connect them anywhere itself. Its twin grants no
 * socket (connected sockets only, through create_connection): no warning.
 */
static void write_good(void) {
  struct pol_text t = {0}, twin = {0};

  pol_add(&t, "# a small policy for explain");
  pol_add(&t, "allow anyone socket family=inet type=stream,dgram proto=0");
  fx.good_deny = pol_add(&t,
                         "deny user=%s connect family=inet "
                         "addr=10.0.0.0/8 errno=EPERM",
                         pol_nobody_user());
  fx.good_connect =
      pol_add(&t, "allow anyone connect family=inet addr=any port=1-1023");
  fx.good_mark = pol_add(&t,
                         "allow gid=%u setsockopt family=inet "
                         "option=SO_MARK",
                         (unsigned)fx.supp_gid);
  pol_write_file(fx.good, t.buf);
  pol_add(&twin, "# good.conf without sockets: connected sockets only");
  pol_add(&twin, "deny user=%s connect family=inet addr=10.0.0.0/8 errno=EPERM",
          pol_nobody_user());
  pol_add(&twin, "allow anyone connect family=inet addr=any port=1-1023");
  pol_write_file(fx.twin, twin.buf);
}

/* unit= rules, for clients whose unit psockd cannot know. */
static void write_units(void) {
  struct pol_text t = {0};

  pol_add(&t, "deny unit=sshd.service lookup");
  pol_add(&t, "allow unit=*.service reverse");
  pol_add(&t, "allow anyone lookup");
  pol_write_file(fx.units, t.buf);
}

/* ------------------------------------------------------------- helpers */

/* Run argv; fail the test unless it exits with status want. */
static void run_expect(const char *const *argv, int want, char **out,
                       char **err) {
  char *o = NULL, *e = NULL;
  int r = pol_run(argv, &o, &e);

  if (r != want) {
    fprintf(stderr, "$");
    for (size_t i = 0; argv[i]; i++)
      fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, "\nstdout:\n%sstderr:\n%s", o, e);
    free(o);
    free(e);
    fail_msg("exit status %d, expected %d", r, want);
  }
  if (out)
    *out = o;
  else
    free(o);
  if (err)
    *err = e;
  else
    free(e);
}

static void assert_contains(const char *text, const char *needle) {
  if (!text || !strstr(text, needle))
    fail_msg("expected \"%s\" in:\n%s", needle, text ? text : "(nothing)");
}

/* Lines of text that look like "PREFIX:LINE:COL: ...". */
static unsigned located_lines(const char *text, const char *prefix) {
  unsigned n = 0;
  size_t plen = strlen(prefix);

  for (const char *l = text; *l;) {
    const char *end = strchrnul(l, '\n');
    unsigned line, col;
    char colon;

    if (strncmp(l, prefix, plen) == 0 &&
        sscanf(l + plen, ":%u:%u%c", &line, &col, &colon) == 3 && colon == ':')
      n++;
    l = *end ? end + 1 : end;
  }
  return n;
}

/* text without its first line (a dump's comment naming its source). */
static const char *after_first_line(const char *text) {
  const char *nl = strchr(text, '\n');

  return nl ? nl + 1 : "";
}

/*
 * Dump path (NULL: the default policy) with psockd, write the dump to a
 * file, check that file and dump it again: the same rules. Returns the
 * first dump (caller frees).
 */
static char *assert_round_trip(const char *path, const char *name) {
  char file[POL_FILE_MAX], source[POL_FILE_MAX + 32], *one, *two, *out;
  const char *dump1[] = {fx.psockd, "--dump-policy", "--policy", path, NULL};
  const char *dump0[] = {fx.psockd, "--dump-policy", NULL};
  const char *check[] = {fx.psockd, "--check-config", "--policy", file, NULL};
  const char *again[] = {fx.psockd, "--dump-policy", "--policy", file, NULL};

  snprintf(file, sizeof(file), "%s/%s.dump", fx.dir, name);
  run_expect(path ? dump1 : dump0, 0, &one, NULL);
  snprintf(source, sizeof(source), "# policy in force: %s\n",
           path ? path : "default policy");
  if (strncmp(one, source, strlen(source)) != 0)
    fail_msg("the dump does not start with \"%s\":\n%s", source, one);
  pol_write_file(file, one);
  run_expect(check, 0, &out, NULL);
  free(out);
  run_expect(again, 0, &two, NULL);
  if (strcmp(after_first_line(one), after_first_line(two)) != 0)
    fail_msg("dump of the dump differs:\n%s---\n%s", one, two);
  /* psockctl dump writes the same rules. */
  {
    const char *ctl1[] = {fx.psockctl, "dump", "--policy", file, NULL};
    const char *ctl0[] = {fx.psockctl, "dump", NULL};
    char *three;

    run_expect(path ? ctl1 : ctl0, 0, &three, NULL);
    if (strcmp(after_first_line(one), after_first_line(three)) != 0)
      fail_msg("psockctl dump differs from psockd's:\n%s---\n%s", one, three);
    free(three);
  }
  free(two);
  return one;
}

/* ------------------------------------------------- psockd --check-config */

static void test_check_config_reports_every_error(void **state) {
  const char *argv[] = {fx.psockd, "--check-config", "--policy", fx.bad, NULL};
  char *out, *err, want[POL_FILE_MAX + 160];

  run_expect(argv, 1, &out, &err);
  for (size_t i = 0; i < N_BAD_ERRORS; i++) {
    snprintf(want, sizeof(want), "%s%s\n", fx.bad, bad_errors[i]);
    assert_contains(err, want);
  }
  /* ... and nothing else that claims a location. */
  assert_int_equal(located_lines(err, fx.bad), N_BAD_ERRORS);
  snprintf(want, sizeof(want), "psockd: %s: %zu error(s)", fx.bad,
           N_BAD_ERRORS);
  assert_contains(err, want);
  assert_string_equal(out, "");
  free(out);
  free(err);
}

static void test_check_config_good_file(void **state) {
  const char *files[] = {fx.good, fx.rich};

  for (size_t i = 0; i < 2; i++) {
    const char *argv[] = {fx.psockd, "--check-config", "--policy", files[i],
                          NULL};
    char *out, *err, want[POL_FILE_MAX + 16];

    run_expect(argv, 0, &out, &err);
    snprintf(want, sizeof(want), "%s: OK\n", files[i]);
    assert_string_equal(out, want);
    assert_string_equal(err, "");
    free(out);
    free(err);
  }
}

static void test_check_config_missing_file(void **state) {
  char path[POL_FILE_MAX + 16];
  const char *argv[] = {fx.psockd, "--check-config", "--policy", path, NULL};
  char *err;

  snprintf(path, sizeof(path), "%s/missing.conf", fx.dir);
  run_expect(argv, 1, NULL, &err);
  assert_contains(err, "No such file or directory");
  free(err);
}

/* ------------------------------------------------- psockd --dump-policy */

static void test_dump_policy_round_trip(void **state) {
  char *dump = assert_round_trip(fx.rich, "rich");

  /* Names stay names, numbers numbers; the continuation is one rule. */
  assert_contains(dump, "\nallow uid=0,1000 user=root gid=5 group=root "
                        "unit=a.service,b@*.service all family=any type=any "
                        "proto=any addr=any port=any option=any\n");
  assert_contains(dump, "\ndeny anyone socket,bind family=packet,tipc,99 "
                        "errno=EPERM\n");
  assert_contains(dump, " addr=10.0.0.0/8,::ffff:0.0.0.0/96,::1,fe80::/10 "
                        "port=0,1-1023,8080\n");
  /* An errno= given is written out (without one the kernel's is used). */
  assert_contains(dump, "\ndeny anyone reverse errno=EACCES\n");
  /* Abstract names: odd bytes as \xHH, glob characters escaped. */
  assert_contains(dump, " addr=@/tmp/.X11-unix/X?,@odd\\x00\\x20\\*\\x5cx*\n");
  free(dump);
}

/* The rules psockd.policy(5) lists under DEFAULT POLICY, one per line. */
static char *man_page_default(void) {
  const char *root = getenv("PSOCK_SOURCE_ROOT");
  char path[4096], *man, *sect, *end, *out;
  size_t n = 0;

  if (!root)
    fail_msg("PSOCK_SOURCE_ROOT is not set: run this test through meson");
  snprintf(path, sizeof(path), "%s/docs/man/psockd.policy.5", root);
  man = pol_read_file(path);
  if (!man)
    fail_msg("%s: %s", path, strerror(errno));
  sect = strstr(man, "\n.SH DEFAULT POLICY\n");
  assert_non_null(sect);
  sect = strstr(sect, "\n.nf\n");
  assert_non_null(sect);
  end = strstr(sect, "\n.fi\n");
  assert_non_null(end);
  out = calloc(1, (size_t)(end - sect) + 1);
  assert_non_null(out);
  /* "N  allow ..." lines: drop the rule number and its padding. */
  for (char *l = sect + 1; l < end;) {
    char *nl = strchr(l, '\n');
    char *p = l;

    while (*p >= '0' && *p <= '9')
      p++;
    if (p > l && *p == ' ') {
      while (*p == ' ')
        p++;
      memcpy(out + n, p, (size_t)(nl - p) + 1);
      n += (size_t)(nl - p) + 1;
    }
    l = nl + 1;
  }
  free(man);
  return out;
}

static void test_dump_default_policy_round_trip(void **state) {
  char *dump, *man;

  if (!fx.have_default)
    skip();
  dump = assert_round_trip(NULL, "default");
  man = man_page_default();
  if (strcmp(after_first_line(dump), man) != 0)
    fail_msg("psockd.policy(5) lists another default policy:\n%s---\n%s", man,
             after_first_line(dump));
  free(man);
  free(dump);
}

/* ---------------------------------------------------- psockctl check */

static void test_psockctl_check(void **state) {
  const char *good[] = {fx.psockctl, "check", "--policy", fx.good, NULL};
  const char *bad[] = {fx.psockctl, "check", "--policy", fx.bad, NULL};
  char *out, *err, want[POL_FILE_MAX + 160];

  run_expect(good, 0, &out, NULL);
  assert_contains(out, "\nOK: 4 rules, 2 warnings\n");
  free(out);

  run_expect(bad, 1, &out, &err);
  for (size_t i = 0; i < N_BAD_ERRORS; i++) {
    snprintf(want, sizeof(want), "%s%s\n", fx.bad, bad_errors[i]);
    assert_contains(err, want);
  }
  assert_int_equal(located_lines(err, fx.bad), N_BAD_ERRORS);
  snprintf(want, sizeof(want), "psockctl: %s: %zu errors\n", fx.bad,
           N_BAD_ERRORS);
  assert_contains(err, want);
  free(out);
  free(err);
}

/* Warnings: exit status 0 unless --strict; each names both rules and what
 * would enforce the restriction. The twin is clean. */
static void test_psockctl_check_warnings(void **state) {
  const char *good[] = {fx.psockctl, "check", "--policy", fx.good, NULL};
  const char *strict[] = {fx.psockctl, "check", "--strict",
                          "--policy",  fx.good, NULL};
  const char *twin[] = {fx.psockctl, "check", "--strict",
                        "--policy",  fx.twin, NULL};
  char *out, *err, want[POL_RULE_MAX * 2 + 128];

  run_expect(good, 0, &out, &err);
  snprintf(want, sizeof(want),
           "%s: warning: this rule restricts connect for inet sockets, but "
           "rule %s may give the same clients unconnected inet sockets",
           pol_rule(fx.good, fx.good_deny), pol_rule(fx.good, 2));
  assert_contains(err, want);
  snprintf(want, sizeof(want), "%s: warning: this rule restricts connect",
           pol_rule(fx.good, fx.good_connect));
  assert_contains(err, want);
  assert_contains(err, "connect without socket");
  assert_contains(err, "psock-run --mode=seccomp");
  free(out);
  free(err);
  run_expect(strict, 1, &out, &err);
  assert_contains(out, "\nOK: 4 rules, 2 warnings\n");
  free(out);
  free(err);
  run_expect(twin, 0, &out, &err);
  assert_contains(out, "\nOK: 2 rules\n");
  assert_string_equal(err, "");
  free(out);
  free(err);
}

/* -------------------------------------------------- psockctl explain */

/* psockctl explain ARGS: the last line says allow (err NULL) or deny err,
 * and names line of fx.good, or "no rule matched" (line 0). */
struct explain_case {
  const char *args[10]; /* NULL-terminated */
  const char *err;
  unsigned line;
};

static void run_explain(const struct explain_case *c) {
  const char *argv[16] = {fx.psockctl, "explain", "--policy", fx.good};
  char *out, want[POL_RULE_MAX + 64], rule[POL_RULE_MAX + 8];
  size_t n = 4;

  for (size_t i = 0; c->args[i]; i++)
    argv[n++] = c->args[i];
  argv[n] = NULL;
  run_expect(argv, c->err ? 1 : 0, &out, NULL);
  snprintf(want, sizeof(want), "policy: %s\n", fx.good);
  assert_contains(out, want);
  if (c->line)
    snprintf(rule, sizeof(rule), "rule %s", pol_rule(fx.good, c->line));
  else
    snprintf(rule, sizeof(rule), "no rule matched");
  snprintf(want, sizeof(want), "\n%s%s%s (%s)\n", c->err ? "deny " : "allow",
           c->err ? c->err : "", "", rule);
  assert_contains(out, want);
  free(out);
}

static void test_psockctl_explain(void **state) {
  const char *nobody = pol_nobody_user();
  char gid[16];
  const struct explain_case cases[] = {
      {{"--user", nobody, "connect", "addr=192.0.2.1", "port=80"},
       NULL,
       fx.good_connect},
      {{"--user", nobody, "connect", "addr=10.1.2.3", "port=80"},
       "EPERM",
       fx.good_deny},
      /* root is not nobody: the deny rule does not apply to it */
      {{"--uid", "0", "connect", "addr=10.1.2.3", "port=80"},
       NULL,
       fx.good_connect},
      {{"--user", nobody, "connect", "addr=192.0.2.1", "port=8080"},
       "EACCES",
       0},
      /* a supplementary group */
      {{"--user", nobody, "--groups", gid, "setsockopt", "family=inet",
        "option=SO_MARK"},
       NULL,
       fx.good_mark},
      /* a privileged option refused: the kernel's EPERM */
      {{"--user", nobody, "setsockopt", "family=inet", "option=SO_MARK"},
       "EPERM",
       0},
  };

  snprintf(gid, sizeof(gid), "%u", (unsigned)fx.supp_gid);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    run_explain(&cases[i]);
}

static void test_psockctl_explain_usage_errors(void **state) {
  const char *nobody = pol_nobody_user();
  const char *const cases[][10] = {
      {fx.psockctl, "explain", "--policy", fx.good, "connect", NULL},
      /* an unknown call; a connect without port= */
      {fx.psockctl, "explain", "--policy", fx.good, "--user", nobody, "frob",
       NULL},
      {fx.psockctl, "explain", "--policy", fx.good, "--user", nobody, "connect",
       "addr=10.0.0.1", NULL},
      /* a policy with errors decides nothing */
      {fx.psockctl, "explain", "--policy", fx.bad, "--user", nobody, "lookup",
       NULL},
      {fx.psockctl, "frob", NULL},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    run_expect(cases[i], 2, NULL, NULL);
}

/* psockctl explain ARGS... on the default policy: the decision line. */
static void explain_default(const char *const *args, int status,
                            const char *want) {
  const char *argv[16] = {fx.psockctl, "explain"};
  size_t n = 2;
  char *out, line[128];

  for (size_t i = 0; args[i]; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  run_expect(argv, status, &out, NULL);
  assert_contains(out, "policy: default policy (");
  snprintf(line, sizeof(line), "\n%s\n", want);
  assert_contains(out, line);
  free(out);
}

static void test_psockctl_explain_default_policy(void **state) {
  const char *nobody = pol_nobody_user();
  const struct {
    const char *args[8];
    int status;
    const char *want;
  } cases[] = {
      /* packet and raw sockets: root only, refused with the kernel's EPERM */
      {{"--user", nobody, "socket", "family=packet", "type=raw"},
       1,
       "deny EPERM (no rule matched)"},
      {{"--uid", "0", "socket", "family=packet", "type=raw"},
       0,
       "allow (rule default policy:1)"},
      /* ICMP echo: ping sockets yes, raw ICMP no */
      {{"--user", nobody, "socket", "family=inet", "type=dgram", "proto=icmp"},
       0,
       "allow (rule default policy:5)"},
      {{"--user", nobody, "socket", "family=inet6", "type=dgram",
        "proto=icmpv6"},
       0,
       "allow (rule default policy:6)"},
      {{"--user", nobody, "socket", "family=inet", "type=raw", "proto=icmp"},
       1,
       "deny EPERM (no rule matched)"},
      /* what an unprivileged user may open */
      {{"--user", nobody, "socket", "family=inet6", "type=stream",
        "proto=mptcp"},
       0,
       "allow (rule default policy:2)"},
      {{"--user", nobody, "socket", "family=inet", "type=seqpacket",
        "proto=sctp"},
       0,
       "allow (rule default policy:4)"},
      {{"--user", nobody, "socket", "family=inet", "type=dgram",
        "proto=udplite"},
       0,
       "allow (rule default policy:3)"},
      {{"--user", nobody, "socket", "family=netlink", "type=raw",
        "proto=sock_diag"},
       0,
       "allow (rule default policy:7)"},
      {{"--user", nobody, "socket", "family=netlink", "type=raw",
        "proto=audit"},
       1,
       "deny EACCES (no rule matched)"},
      /* no unix sockets, no abstract names but root's */
      {{"--user", nobody, "socket", "family=unix", "type=stream"},
       1,
       "deny EACCES (no rule matched)"},
      {{"--user", nobody, "connect", "addr=@/tmp/.X11-unix/X0"},
       1,
       "deny EACCES (no rule matched)"},
      {{"--uid", "0", "connect", "addr=@/tmp/.X11-unix/X0"},
       0,
       "allow (rule default policy:1)"},
      /* privileged ports and options */
      {{"--user", nobody, "bind", "addr=0.0.0.0", "port=80"},
       1,
       "deny EACCES (no rule matched)"},
      {{"--user", nobody, "bind", "addr=0.0.0.0", "port=8080"},
       0,
       "allow (rule default policy:9)"},
      {{"--user", nobody, "setsockopt", "family=inet", "option=SO_MARK"},
       1,
       "deny EPERM (no rule matched)"},
  };
  const char *check[] = {fx.psockctl, "check", "--strict", NULL};
  char *out, *err;

  if (!fx.have_default)
    skip();
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    explain_default(cases[i].args, cases[i].status, cases[i].want);
  /* The default policy restricts nothing a socket's holder could undo. */
  run_expect(check, 0, &out, &err);
  assert_contains(out, "\nOK: 11 rules\n");
  assert_string_equal(err, "");
  free(out);
  free(err);
}

/* explain warns when it refuses what the client could do by itself. */
static void test_psockctl_explain_warns(void **state) {
  const char *nobody = pol_nobody_user();
  const char *warns[] = {fx.psockctl, "explain", "--policy", fx.good,
                         "--user",    nobody,    "connect",  "addr=10.1.2.3",
                         "port=80",   NULL};
  const char *quiet[] = {fx.psockctl, "explain", "--policy", fx.twin,
                         "--user",    nobody,    "connect",  "addr=10.1.2.3",
                         "port=80",   NULL};
  char *out, *err, want[POL_RULE_MAX * 2 + 64];

  run_expect(warns, 1, &out, &err);
  snprintf(want, sizeof(want),
           "warning: rule %s refuses this connect, but rule %s gives this "
           "client unconnected inet sockets",
           pol_rule(fx.good, fx.good_deny), pol_rule(fx.good, 2));
  assert_contains(err, want);
  assert_contains(err, "psock-run --mode=seccomp");
  free(out);
  free(err);
  /* The twin hands out connected sockets only: the refusal holds. */
  run_expect(quiet, 1, &out, &err);
  assert_contains(out, "\ndeny EPERM (rule ");
  assert_string_equal(err, "");
  free(out);
  free(err);
}

/* A client whose unit is unknown: unit= deny rules hold, allows do not. */
static void test_psockctl_explain_unit_unknown(void **state) {
  const char *nobody = pol_nobody_user();
  const struct {
    const char *args[10];
    int status;
    unsigned line;
  } cases[] = {
      {{"--user", nobody, "--unit", "web.service", "lookup"}, 0, 3},
      {{"--user", nobody, "--unit", "sshd.service", "lookup"}, 1, 1},
      {{"--user", nobody, "--unit-unknown", "lookup"}, 1, 1},
      {{"--user", nobody, "--unit", "web.service", "reverse"}, 0, 2},
      {{"--user", nobody, "--unit-unknown", "reverse"}, 1, 0},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *argv[16] = {fx.psockctl, "explain", "--policy", fx.units};
    char *out, want[POL_RULE_MAX + 32];
    size_t n = 4;

    for (size_t j = 0; cases[i].args[j]; j++)
      argv[n++] = cases[i].args[j];
    argv[n] = NULL;
    run_expect(argv, cases[i].status, &out, NULL);
    if (cases[i].line)
      snprintf(want, sizeof(want), "%s (rule %s)\n",
               cases[i].status ? "deny EACCES" : "allow",
               pol_rule(fx.units, cases[i].line));
    else
      snprintf(want, sizeof(want), "deny EACCES (no rule matched)\n");
    assert_contains(out, want);
    free(out);
  }
}

/* ---------------------------------- explain agrees with a real psockd */

static struct psockd_proc *agree_psockd;

/* nobody (with the supplementary group): what psockd decides. */
static int client_agree(void *arg) {
  psock_address a;
  psock_sock *s = psock_socket(AF_INET, SOCK_DGRAM, 0);

  CHECK(s != NULL);
  CHECK(psock_addr_inet(&a, "10.1.2.3", 80) == 0);
  CHECK(psock_connect(s, &a) == -1);
  CHECK(pol_denied(EPERM, pol_rule(fx.good, fx.good_deny), "connect",
                   "addr=inet:10.1.2.3:80") == 0);
  CHECK(psock_addr_inet(&a, "127.0.0.1", 9) == 0);
  CHECK(psock_connect(s, &a) == 0);
  CHECK(psock_setsockopt(s, SOL_SOCKET, SO_MARK, 7) == 0);
  psock_close(s);
  CHECK(psock_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) == NULL);
  CHECK(pol_denied(EPERM, "no rule matched", "socket",
                   "family=2 type=3 proto=1") == 0);
  return 0;
}

static void test_explain_agrees_with_psockd(void **state) {
  const char *nobody = pol_nobody_user();
  const char *args[] = {"--policy", fx.good, NULL};
  char gid[16];
  const struct explain_case cases[] = {
      {{"--user", nobody, "--groups", gid, "connect", "addr=10.1.2.3",
        "port=80"},
       "EPERM",
       fx.good_deny},
      {{"--user", nobody, "--groups", gid, "connect", "addr=127.0.0.1",
        "port=9"},
       NULL,
       fx.good_connect},
      {{"--user", nobody, "--groups", gid, "setsockopt", "family=inet",
        "option=SO_MARK"},
       NULL,
       fx.good_mark},
      {{"--user", nobody, "--groups", gid, "socket", "family=inet", "type=raw",
        "proto=icmp"},
       "EPERM",
       0},
  };
  int r;

  snprintf(gid, sizeof(gid), "%u", (unsigned)fx.supp_gid);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    run_explain(&cases[i]);
  agree_psockd = harness_start_psockd(args);
  r = harness_run_as(HARNESS_NOBODY_UID, HARNESS_NOBODY_GID, &fx.supp_gid, 1, 0,
                     client_agree, NULL);
  if (r == 0)
    pol_assert_audited(agree_psockd);
  harness_stop_psockd(agree_psockd);
  agree_psockd = NULL;
  assert_int_equal(r, 0);
}

/* ------------------------------------------------------------ fixtures */

static int setup(void **state) {
  fx.psockd = pol_binary("PSOCKD");
  fx.psockctl = pol_binary("PSOCKCTL");
  fx.have_default = access(PSOCK_DEFAULT_POLICY_PATH, F_OK) != 0;
  if (!fx.have_default)
    fprintf(stderr, "note: %s exists: the default policy is not tested\n",
            PSOCK_DEFAULT_POLICY_PATH);
  pol_audit_init();
  pol_other_group(&fx.supp_gid, fx.supp_name, sizeof(fx.supp_name));
  pol_make_dir(fx.dir);
  snprintf(fx.bad, sizeof(fx.bad), "%s/bad.conf", fx.dir);
  snprintf(fx.good, sizeof(fx.good), "%s/good.conf", fx.dir);
  snprintf(fx.rich, sizeof(fx.rich), "%s/rich.conf", fx.dir);
  snprintf(fx.twin, sizeof(fx.twin), "%s/twin.conf", fx.dir);
  snprintf(fx.units, sizeof(fx.units), "%s/units.conf", fx.dir);
  pol_write_file(fx.bad, bad_text);
  write_good();
  write_rich();
  write_units();
  return 0;
}

static int teardown(void **state) {
  pol_remove_dir(fx.dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_config_reports_every_error),
      cmocka_unit_test(test_check_config_good_file),
      cmocka_unit_test(test_check_config_missing_file),
      cmocka_unit_test(test_dump_policy_round_trip),
      cmocka_unit_test(test_dump_default_policy_round_trip),
      cmocka_unit_test(test_psockctl_check),
      cmocka_unit_test(test_psockctl_check_warnings),
      cmocka_unit_test(test_psockctl_explain),
      cmocka_unit_test(test_psockctl_explain_usage_errors),
      cmocka_unit_test(test_psockctl_explain_default_policy),
      cmocka_unit_test(test_psockctl_explain_warns),
      cmocka_unit_test(test_psockctl_explain_unit_unknown),
      cmocka_unit_test(test_explain_agrees_with_psockd),
  };

  return cmocka_run_group_tests_name("policy tools", tests, setup, teardown);
}
