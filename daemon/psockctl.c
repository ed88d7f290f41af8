/* SPDX-License-Identifier: MIT */
/*
 * psockctl: the administrator's view of psockd's policy. `explain` shows
 * which rule decides a request, `check` lists every error of a policy
 * file, `dump` prints a policy in canonical form. `check` and `explain`
 * also warn about rules that a client holding an unconnected socket can
 * undo by itself (psockctl(8), WARNINGS).
 *
 * Trust boundary: run by the administrator (or anyone: it reads the policy
 * like any file and never talks to psockd or the network). Values are
 * parsed by the policy file's own parsers, so a name means here exactly
 * what it means in the file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "policy_internal.h"

#define EXIT_DENY 1
#define EXIT_USAGE 2
#define MAX_GROUPS 1024

struct subject_opts {
  const char *uid, *user, *gid, *group, *unit;
  bool unit_unknown;
  char *groups;
};

struct query_buf {
  struct policy_query q;
  struct sockaddr_storage ss;
  char abstract[POLICY_ABSTRACT_MAX];
  const char *arg[PK_N]; /* KEY=VALUE values as given */
};

static void usage(FILE *out) {
  fputs("Usage:\n"
        "  psockctl explain [--policy PATH] (--uid N | --user NAME)\n"
        "                   [--gid N | --group NAME] [--groups G1,G2,...]\n"
        "                   [--unit NAME | --unit-unknown] CALL [family=F] "
        "[type=T]\n"
        "                   [proto=P] [addr=IP|@NAME] [port=N] "
        "[option=NAME]\n"
        "  psockctl check [--strict] [--policy PATH]\n"
        "  psockctl dump [--policy PATH]\n"
        "  psockctl --help | --version\n"
        "\n"
        "explain prints the decision psockd would make and the rule that "
        "makes it;\n"
        "exit status 0 allow, 1 deny, 2 usage or policy errors.\n"
        "check exits 1 for errors, and with --strict for warnings too.\n"
        "Without --policy: " PSOCK_DEFAULT_POLICY_PATH
        " if it exists, else the\n"
        "built-in default policy. See psockd.policy(5).\n",
        out);
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...) {
  va_list ap;

  fputs("psockctl: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nTry 'psockctl --help'.\n", stderr);
  return EXIT_USAGE;
}

/* Load --policy PATH, else the default path if it exists, else the
 * built-in policy, and say which after prefix. Errors are reported; returns
 * 0 or -1. */
static int load_policy(const char *path, const char *prefix,
                       struct policy **ret) {
  unsigned nerrors = 0;
  int r;

  if (!path && access(PSOCK_DEFAULT_POLICY_PATH, F_OK) == 0)
    path = PSOCK_DEFAULT_POLICY_PATH;
  if (!path) {
    r = policy_load_default(ret);
    if (r < 0)
      fprintf(stderr, "psockctl: default policy: %s\n", strerror(-r));
    else
      printf("%spolicy: default policy (%s does not exist)\n", prefix,
             PSOCK_DEFAULT_POLICY_PATH);
    return r < 0 ? -1 : 0;
  }
  r = policy_load_file(path, stderr, &nerrors, ret);
  if (r == -EINVAL)
    fprintf(stderr, "psockctl: %s: %u error%s\n", path, nerrors,
            nerrors == 1 ? "" : "s");
  else if (r < 0)
    fprintf(stderr, "psockctl: %s: %s\n", path, strerror(-r));
  else
    printf("%spolicy: %s\n", prefix, path);
  return r < 0 ? -1 : 0;
}

static int parse_id(const char *s, uint32_t *ret) {
  return pol_parse_u32(s, strlen(s), UINT32_MAX - 1, ret);
}

/* A group given as a number or a name. */
static int parse_group(const char *s, gid_t *ret) {
  struct group *gr;
  uint32_t v;

  if (parse_id(s, &v) == 0) {
    *ret = v;
    return 0;
  }
  gr = getgrnam(s);
  if (!gr)
    return usage_error("unknown group '%s'", s);
  *ret = gr->gr_gid;
  return 0;
}

static int parse_groups(char *list, gid_t *groups, size_t *n) {
  char *save = NULL;

  *n = 0;
  for (char *g = strtok_r(list, ",", &save); g;
       g = strtok_r(NULL, ",", &save)) {
    if (*n == MAX_GROUPS)
      return usage_error("too many groups in --groups");
    if (parse_group(g, &groups[(*n)++]) != 0)
      return EXIT_USAGE;
  }
  return 0;
}

/* uid, then gid and groups: given, else from the user's passwd entry. */
static int build_subject(struct subject_opts *o, struct policy_subject *s,
                         gid_t *groups) {
  struct passwd *pw = NULL;
  uint32_t uid;
  int n = MAX_GROUPS;

  if (!o->uid == !o->user)
    return usage_error("explain needs exactly one of --uid, --user");
  if (o->gid && o->group)
    return usage_error("--gid and --group exclude each other");
  if (o->user && !(pw = getpwnam(o->user)))
    return usage_error("unknown user '%s'", o->user);
  if (o->uid && parse_id(o->uid, &uid) < 0)
    return usage_error("bad uid '%s'", o->uid);
  if (o->uid)
    pw = getpwuid(uid);
  s->uid = o->uid ? uid : pw->pw_uid;
  if (o->gid || o->group) {
    if (o->gid && parse_id(o->gid, &uid) < 0)
      return usage_error("bad gid '%s'", o->gid);
    s->gid = uid;
    if (o->group && parse_group(o->group, &s->gid) != 0)
      return EXIT_USAGE;
  } else if (pw) {
    s->gid = pw->pw_gid;
  } else {
    return usage_error("uid %s has no passwd entry: give --gid", o->uid);
  }
  s->groups = groups;
  s->n_groups = 0;
  if (o->groups)
    return parse_groups(o->groups, groups, &s->n_groups);
  if (pw && getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) >= 0)
    s->n_groups = (size_t)n;
  return 0;
}

/* An abstract unix name, "@NAME" with the policy file's escapes. */
static int set_abstract(struct query_buf *b, const char *s) {
  int n = policy_abstract_from_text(s + 1, b->abstract);

  if (n == -ENAMETOOLONG)
    return usage_error("abstract name '%s' is too long (at most %d bytes)", s,
                       POLICY_ABSTRACT_MAX);
  if (n < 0)
    return usage_error("bad escape in abstract name '%s' (expected \\\\, "
                       "\\*, \\? or \\xHH)",
                       s);
  b->q.abstract = b->abstract;
  b->q.abstract_len = (size_t)n;
  return 0;
}

static int set_addr(struct query_buf *b, const char *s) {
  struct sockaddr_in *sin = (struct sockaddr_in *)&b->ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&b->ss;

  if (s[0] == '@')
    return set_abstract(b, s);
  if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    b->q.addrlen = sizeof(*sin);
  } else if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    b->q.addrlen = sizeof(*sin6);
  } else {
    return usage_error("bad address '%s' (expected an IP address or @NAME)", s);
  }
  b->q.addr = (struct sockaddr *)&b->ss;
  return 0;
}

static int set_port(struct query_buf *b, const char *s) {
  uint32_t port;

  if (pol_parse_u32(s, strlen(s), POL_PORT_MAX, &port) < 0)
    return usage_error("bad port '%s'", s);
  /* sin_port and sin6_port are at the same place. */
  ((struct sockaddr_in *)&b->ss)->sin_port = htons((uint16_t)port);
  return 0;
}

/* KEY=VALUE arguments into b->arg, checked against the call. */
static int collect_keys(struct query_buf *b, char **argv, int argc) {
  for (int i = 0; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    int k = -1;

    for (int j = 0; eq && j < PK_N; j++)
      if (strlen(pol_key_names[j]) == (size_t)(eq - argv[i]) &&
          strncmp(argv[i], pol_key_names[j], (size_t)(eq - argv[i])) == 0)
        k = j;
    if (k < 0)
      return usage_error("unknown argument '%s'", argv[i]);
    if (b->arg[k])
      return usage_error("duplicate argument '%s'", argv[i]);
    if (!(pol_key_calls[k] & (1u << b->q.call)))
      return usage_error("'%s' does not apply to this call", argv[i]);
    b->arg[k] = eq + 1;
  }
  return 0;
}

static int need(const struct query_buf *b, int k) {
  if (b->arg[k])
    return 0;
  fprintf(stderr, "psockctl: %s needs %s=\n", policy_call_name(b->q.call),
          pol_key_names[k]);
  return EXIT_USAGE;
}

/* The family, given or implied by addr=. */
static int resolve_family(struct query_buf *b) {
  const char **a = b->arg;

  if (a[PK_ADDR] && set_addr(b, a[PK_ADDR]) != 0)
    return EXIT_USAGE;
  if (a[PK_FAMILY]) {
    b->q.family = policy_family_from_name(a[PK_FAMILY]);
    if (b->q.family < 0)
      return usage_error("unknown family '%s'", a[PK_FAMILY]);
  } else if (b->q.addr) {
    b->q.family = b->q.addr->sa_family;
  } else if (b->q.abstract) {
    b->q.family = AF_UNIX;
  } else if (pol_key_calls[PK_FAMILY] & (1u << b->q.call)) {
    return need(b, PK_FAMILY);
  }
  return 0;
}

static int build_query(struct query_buf *b, char **argv, int argc) {
  const char **a = b->arg;
  bool inet;

  if (collect_keys(b, argv, argc) || resolve_family(b))
    return EXIT_USAGE;
  inet = b->q.family == AF_INET || b->q.family == AF_INET6;
  if (pol_key_calls[PK_ADDR] & (1u << b->q.call)) {
    if (b->q.abstract && b->q.family != AF_UNIX)
      return usage_error("addr=@NAME applies to family=unix");
    if (b->q.abstract && a[PK_PORT])
      return usage_error("port= does not apply to unix addresses");
    if (!b->q.abstract && (a[PK_ADDR] || a[PK_PORT]) && !inet)
      return usage_error("addr=IP and port= apply to inet and inet6");
    if (inet && (need(b, PK_ADDR) || need(b, PK_PORT)))
      return EXIT_USAGE;
    if (a[PK_PORT] && set_port(b, a[PK_PORT]))
      return EXIT_USAGE;
  }
  if (b->q.call == POLICY_SOCKET) {
    if (need(b, PK_TYPE))
      return EXIT_USAGE;
    b->q.type = policy_type_from_name(a[PK_TYPE]);
    if (b->q.type < 0)
      return usage_error("unknown type '%s'", a[PK_TYPE]);
    b->q.proto =
        a[PK_PROTO] ? policy_proto_from_name(a[PK_PROTO], b->q.family) : 0;
    if (b->q.proto < 0)
      return usage_error("unknown proto '%s' for this family", a[PK_PROTO]);
  }
  if (b->q.call != POLICY_SETSOCKOPT)
    return 0;
  if (need(b, PK_OPTION))
    return EXIT_USAGE;
  if (policy_option_from_name(a[PK_OPTION], &b->q.level, &b->q.optname) < 0)
    return usage_error("unknown option '%s'", a[PK_OPTION]);
  return 0;
}

static void print_subject(const struct policy_subject *s) {
  printf("who: uid=%u gid=%u groups=", s->uid, s->gid);
  for (size_t i = 0; i < s->n_groups; i++)
    printf("%s%u", i ? "," : "", s->groups[i]);
  printf("%s unit=%s\n", s->n_groups ? "" : "-",
         s->unit_unknown ? "(unknown)"
         : s->unit       ? s->unit
                         : "-");
}

/*
 * The first rule that gives this client an unconnected socket of family
 * (of a connection type for listen), found by asking policy_check() about
 * the usual types and protocols; NULL if none does.
 */
static bool socket_granted(const struct policy *p,
                           const struct policy_subject *s, int family,
                           bool listen, struct policy_decision *ret) {
  static const int types[] = {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM,
                              SOCK_RAW};
  static const int protos[] = {
      0,   IPPROTO_TCP,  IPPROTO_UDP,    IPPROTO_SCTP,
      262, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_UDPLITE};

  for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
    if (listen && types[t] != SOCK_STREAM && types[t] != SOCK_SEQPACKET)
      continue;
    for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
      struct policy_query q = {.call = POLICY_SOCKET,
                               .family = family,
                               .type = types[t],
                               .proto = protos[i]};

      policy_check(p, s, &q, ret);
      if (ret->allow)
        return true;
    }
  }
  return false;
}

/* After a refusal of bind/connect/sendto/listen: can the client do it
 * itself on a socket psockd gives it? (psockctl(8), WARNINGS) */
static unsigned warn_unenforced(const struct policy *p,
                                const struct policy_subject *s,
                                const struct query_buf *b,
                                const struct policy_decision *d) {
  const char *what = policy_call_name(b->q.call);
  const char *fam = pol_name_of(pol_family_names, b->q.family);
  struct policy_decision sd;
  uint32_t port;

  if (d->allow || strcmp(d->rule, "invalid request") == 0 ||
      (b->q.call != POLICY_CONNECT && b->q.call != POLICY_SENDTO &&
       b->q.call != POLICY_BIND && b->q.call != POLICY_LISTEN))
    return 0;
  /* The kernel refuses privileged ports to the holder too. */
  if (b->q.call == POLICY_BIND && b->arg[PK_PORT] &&
      pol_parse_u32(b->arg[PK_PORT], strlen(b->arg[PK_PORT]), POL_PORT_MAX,
                    &port) == 0 &&
      port >= 1 && port <= POL_PRIV_PORT_END)
    return 0;
  if (!socket_granted(p, s, b->q.family, b->q.call == POLICY_LISTEN, &sd))
    return 0;
  if (strchr(d->rule, ':'))
    fprintf(stderr, "warning: rule %s refuses this %s", d->rule, what);
  else
    fprintf(stderr, "warning: no rule allows this %s", what);
  fprintf(stderr,
          ", but rule %s gives this client unconnected %s sockets: on a "
          "socket it holds, it makes this call itself and the kernel does "
          "not ask psockd\n"
          "note: the refusal binds only clients that must ask psockd: grant "
          "connect without socket (psockd's create_connection hands back "
          "connected sockets), or run the client under psock-run "
          "--mode=seccomp\n",
          sd.rule, fam ? fam : "such");
  return 1;
}

static int explain(const char *path, struct subject_opts *o, char **argv,
                   int argc) {
  static gid_t groups[MAX_GROUPS];
  struct policy_subject s = {.unit = o->unit, .unit_unknown = o->unit_unknown};
  struct query_buf b = {0};
  struct policy_decision d;
  struct policy *p = NULL;
  int call;

  if (argc < 1)
    return usage_error("explain needs a CALL");
  call = policy_call_from_name(argv[0]);
  if (call < 0)
    return usage_error("unknown call '%s'", argv[0]);
  b.q.call = (enum policy_call)call;
  if (build_subject(o, &s, groups) || build_query(&b, argv + 1, argc - 1))
    return EXIT_USAGE;
  if (load_policy(path, "", &p) < 0)
    return EXIT_USAGE;
  print_subject(&s);
  policy_check(p, &s, &b.q, &d);
  if (d.allow) {
    printf("allow (rule %s)\n", d.rule);
  } else {
    const char *err = pol_name_of(pol_errno_names, d.error);

    printf("deny %s (%s%s)\n", err ? err : strerror(d.error),
           strchr(d.rule, ':') ? "rule " : "", d.rule);
  }
  fflush(stdout);
  warn_unenforced(p, &s, &b, &d);
  policy_free(p);
  return d.allow ? 0 : EXIT_DENY;
}

static int check_or_dump(const char *path, bool dump, bool strict) {
  struct policy *p = NULL;
  unsigned warnings = 0;
  size_t n;

  /* A dump must parse back: the source line is a comment there. */
  if (load_policy(path, dump ? "# " : "", &p) < 0)
    return EXIT_FAILURE;
  n = policy_n_rules(p);
  if (dump) {
    policy_dump(p, stdout);
  } else {
    fflush(stdout);
    warnings = policy_lint(p, stderr);
    printf("OK: %zu rule%s", n, n == 1 ? "" : "s");
    if (warnings)
      printf(", %u warning%s", warnings, warnings == 1 ? "" : "s");
    putchar('\n');
  }
  policy_free(p);
  if (fflush(stdout) != 0)
    return EXIT_FAILURE;
  return strict && warnings ? EXIT_FAILURE : 0;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"policy", required_argument, NULL, 'p'},
      {"uid", required_argument, NULL, 'u'},
      {"user", required_argument, NULL, 'U'},
      {"gid", required_argument, NULL, 'g'},
      {"group", required_argument, NULL, 'G'},
      {"groups", required_argument, NULL, 'S'},
      {"unit", required_argument, NULL, 'n'},
      {"unit-unknown", no_argument, NULL, 'k'},
      {"strict", no_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  struct subject_opts o = {0};
  const char *path = NULL, *cmd;
  bool is_explain, strict = false;
  int c;

  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'p':
      path = optarg;
      break;
    case 'u':
      o.uid = optarg;
      break;
    case 'U':
      o.user = optarg;
      break;
    case 'g':
      o.gid = optarg;
      break;
    case 'G':
      o.group = optarg;
      break;
    case 'S':
      o.groups = optarg;
      break;
    case 'n':
      o.unit = optarg;
      break;
    case 'k':
      o.unit_unknown = true;
      break;
    case 's':
      strict = true;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("psockctl %s\n", PSOCK_VERSION);
      return 0;
    default:
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (optind >= argc)
    return usage_error("missing command (explain, check or dump)");
  cmd = argv[optind++];
  is_explain = strcmp(cmd, "explain") == 0;
  if (!is_explain && strcmp(cmd, "check") != 0 && strcmp(cmd, "dump") != 0)
    return usage_error("unknown command '%s'", cmd);
  if (!is_explain && (o.uid || o.user || o.gid || o.group || o.groups ||
                      o.unit || o.unit_unknown || optind < argc))
    return usage_error("%s: only --policy%s applies", cmd,
                       strcmp(cmd, "check") == 0 ? " and --strict" : "");
  if (strict && strcmp(cmd, "check") != 0)
    return usage_error("--strict applies to check only");
  if (o.unit && o.unit_unknown)
    return usage_error("--unit and --unit-unknown exclude each other");
  if (is_explain)
    return explain(path, &o, argv + optind, argc - optind);
  return check_or_dump(path, strcmp(cmd, "dump") == 0, strict);
}
