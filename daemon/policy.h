/* SPDX-License-Identifier: MIT */
/*
 * policy: who may do what. Default deny, first match wins.
 *
 * A policy is an ordered list of rules read from a file, a sealed memfd or
 * the built-in default. Each request is described as a policy_query;
 * policy_check() walks the rules and returns the first whose subject
 * ("who") and object ("what") both match, or a denial by "no rule
 * matched". The decision names the deciding rule ("FILE:LINE" or "default
 * policy:N") for the reply, the log and `psockctl explain`, and carries the
 * errno the client gets: the kernel's own answer for what the refusal
 * mirrors (EPERM for a raw or packet socket or a privileged option, EACCES
 * otherwise), unless a deny rule's errno= says another.
 *
 * The code comes in three parts that call only downwards:
 *   names     policy_names.c: value names, their tables and parsers
 *             (shared with psockctl); option names are proto/sockopts.h's
 *   parser    policy_load.c (file, fd, default text) -> policy_parse.c
 *             (rules) -> policy_parse_keys.c (KEY=VALUE values); it owns
 *             the in-memory form (policy_free)
 *   decision  policy_check.c: policy_check, policy_dump, policy_equal;
 *             above it policy_scope.c (what a policy leaves open to a
 *             subject: the policy page, sendto_restricted); beside
 *             it policy_lint.c (warnings for psockctl)
 * The parser and the decision never call each other: they meet only in
 * the in-memory form (policy_internal.h).
 *
 * Trust boundary: the file is written by the administrator; the query is
 * built by the daemon from a decoded client request (addresses already
 * resolved to numeric form) and the kernel's view of the peer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

/* What a request asks for, as policy sees it. */
enum policy_call {
  POLICY_SOCKET,     /* socket(), socketpair(), fromfd: family/type/proto */
  POLICY_BIND,       /* bind(): local address and port */
  POLICY_CONNECT,    /* connect(), create_connection(): destination */
  POLICY_SENDTO,     /* sendto(): destination */
  POLICY_LISTEN,     /* listen() */
  POLICY_LOOKUP,     /* forward name lookups and service/protocol db */
  POLICY_REVERSE,    /* getnameinfo, gethostbyaddr, getfqdn */
  POLICY_SETSOCKOPT, /* a privileged socket option */
  POLICY_N_CALLS
};

/* Who is asking, from the kernel (SO_PEERCRED, /proc, cgroup). */
struct policy_subject {
  uid_t uid;
  gid_t gid;
  const gid_t *groups; /* supplementary groups */
  size_t n_groups;
  const char *unit; /* systemd unit from the cgroup, or NULL for none */
  /*
   * The unit could not be known: the client's pid is not visible in
   * psockd's pid namespace (SO_PEERCRED pid 0), or there is no pidfd to
   * prove the cgroup text was the client's. A missing unit never widens:
   * every deny rule with unit= then matches (as far as its other WHO keys
   * do) and no allow rule with unit= does. unit is ignored when set.
   */
  bool unit_unknown;
};

/* Longest abstract AF_UNIX name: sun_path without its leading NUL. */
#define POLICY_ABSTRACT_MAX 107

struct policy_query {
  enum policy_call call;
  int family; /* POLICY_SOCKET, and the socket's family elsewhere */
  int type;   /* POLICY_SOCKET: base type (no SOCK_NONBLOCK/CLOEXEC) */
  int proto;  /* POLICY_SOCKET */
  /* POLICY_BIND / CONNECT / SENDTO: numeric address (NULL otherwise).
   * For inet and inet6 a sockaddr_in or sockaddr_in6 (either on either
   * family's socket); for unix a sockaddr_un or NULL. */
  const struct sockaddr *addr;
  socklen_t addrlen;
  /*
   * POLICY_BIND / CONNECT / SENDTO on a unix socket to an abstract name:
   * the name's bytes without the leading NUL (may hold NULs), at most
   * POLICY_ABSTRACT_MAX. NULL for a path or no name. When NULL and addr is
   * a sockaddr_un whose sun_path starts with NUL, the name is read from
   * addr (addrlen tells its length), so an abstract name is never judged
   * as a path.
   */
  const void *abstract;
  size_t abstract_len;
  int level, optname; /* POLICY_SETSOCKOPT */
};

struct policy_decision {
  bool allow;
  int error; /* the errno to answer when denied (EACCES, EPERM), else 0 */
  /* "FILE:LINE", "default policy:N", "no rule matched", or "invalid
   * request" for a query policy cannot describe (e.g. an inet connect
   * without an inet address). A long FILE is cut from the left. */
  char rule[96];
};

struct policy;

/*
 * Parse the policy file at path. On success returns 0 and *ret. On failure
 * returns -EINVAL (syntax or meaning: every error has been written to errs
 * as "FILE:LINE:COL: message" lines, and the count is in *ret_nerrors),
 * -EFBIG for a file over 1 MiB, or -errno if the file cannot be read.
 * errs and ret_nerrors may be NULL; *ret is untouched on failure.
 */
int policy_load_file(const char *path, FILE *errs, unsigned *ret_nerrors,
                     struct policy **ret);

/*
 * Parse the policy text held in fd, named name in error locations and
 * decisions. fd < 0 means the built-in default policy (name is ignored).
 * Otherwise fd is normally a memfd (or regular file) holding the whole
 * text from offset 0: one sealed against writing and shrinking
 * (F_SEAL_WRITE | F_SEAL_SHRINK) is read through mmap, an unsealed one is
 * copied first with pread (its offset is neither used nor changed). A pipe
 * or character device is read from where it is to its end. fd stays open.
 * fd < 0: the built-in default policy. Returns as policy_load_file()
 * (-EISDIR for a directory).
 */
int policy_load_fd(int fd, const char *name, FILE *errs, unsigned *ret_nerrors,
                   struct policy **ret);

/* Parse policy text held in memory; name is used in error locations. */
int policy_load_string(const char *name, const char *text, size_t len,
                       FILE *errs, unsigned *ret_nerrors, struct policy **ret);

/* The built-in default policy (see psockd.policy(5)). */
int policy_load_default(struct policy **ret);

/* Decide. Never fails: anything unexpected is a denial. */
void policy_check(const struct policy *p, const struct policy_subject *who,
                  const struct policy_query *q, struct policy_decision *ret);

/*
 * The errno a refusal of q answers when no rule says otherwise: what the
 * kernel answers an unprivileged caller (EPERM for a raw inet/inet6 or any
 * packet socket, the option's own answer for a privileged socket option,
 * EACCES for a privileged port and everything else).
 */
int policy_default_errno(const struct policy_query *q);

/*
 * What a policy leaves open to one subject (policy_scope.c; the policy
 * page of proto/policy_page.h, issue 16).
 *
 * policy_allows_every(): does p allow who every request of call in
 * family? call is POLICY_BIND, POLICY_CONNECT, POLICY_SENDTO or
 * POLICY_LISTEN; family AF_INET, AF_INET6 or AF_NETLINK (anything else:
 * false). Every request means every address (of either inet family, on
 * either inet socket) and every port, but for bind only port 0 and ports
 * 1024-65535: the range the kernel leaves to unprivileged processes by
 * default (net.ipv4.ip_unprivileged_port_start 1024), which a client
 * binds itself; it asks psockd for ports below, and for any bind the
 * kernel refuses for lack of privilege. Rules are walked in order as
 * policy_check() walks them: a deny rule who and the family may match for
 * some such request answers no; an allow rule that matches every one of
 * them answers yes; a narrower allow rule is passed over (what it matches
 * is allowed, the rest falls through); no rule left: the default denial,
 * no. A yes is never wrong; a no may be conservative.
 */
bool policy_allows_every(const struct policy *p,
                         const struct policy_subject *who,
                         enum policy_call call, int family);

/* The enum psock_batch_kind bit of socket(family, type, proto) (type
 * without SOCK_NONBLOCK / SOCK_CLOEXEC), or 0 for a kind never batched. */
uint32_t policy_batch_kind(int family, int type, int proto);

/*
 * Does p allow who sockets of the batch kind outright: policy_check()
 * allows both forms of the request (proto 0 and IPPROTO_TCP or
 * IPPROTO_UDP), which need no privilege? false for 0 or several bits.
 */
bool policy_allows_batch(const struct policy *p,
                         const struct policy_subject *who, uint32_t kind);

/* The policy page's free bits: each, the call and family it stands for. */
struct policy_free_call {
  uint32_t bit; /* enum psock_free_call */
  enum policy_call call;
  int family;
};
#define POLICY_N_FREE_CALLS 8
extern const struct policy_free_call policy_free_calls[POLICY_N_FREE_CALLS];

/* The policy page's bits for who. */
struct policy_scope {
  uint32_t free;  /* enum psock_free_call: policy_allows_every() */
  uint32_t batch; /* enum psock_batch_kind: policy_allows_batch() */
};

/* Fill *ret with what p leaves open to who (NULL p: nothing). */
void policy_scope_of(const struct policy *p, const struct policy_subject *who,
                     struct policy_scope *ret);

/*
 * Could policy_check() refuse who a sendto() to some destination of a
 * family psockd sends to (inet, inet6, netlink), on a socket psockd may
 * give who? It could unless policy_allows_every(POLICY_SENDTO) says yes
 * for each of those families that some rule may give who a socket of
 * (families no rule gives who a socket of are left out). A true answer
 * may be conservative, a false one never is.
 */
bool policy_sendto_restricted(const struct policy *p,
                              const struct policy_subject *who);

/* Write p in the file syntax, so that the output parses back to p. */
void policy_dump(const struct policy *p, FILE *out);

/*
 * Write p for psockd's sandboxed roles: every rule on its own line number,
 * user= and group= as the uid= and gid= they resolved to, so that the text
 * parses to the same decisions without the name service (which the roles'
 * system call filters do not allow).
 */
void policy_dump_resolved(const struct policy *p, FILE *out);

/*
 * Write a warning to out for each rule of p that cannot be enforced for
 * clients that also get unconnected sockets (see psockctl(8)), and for
 * keys that have no effect. Returns the number of warnings.
 */
unsigned policy_lint(const struct policy *p, FILE *out);

/* Where p came from: a path or "default policy". */
const char *policy_source(const struct policy *p);

void policy_free(struct policy *p);

/* Name of a call for logs ("socket", "bind", ...). */
const char *policy_call_name(enum policy_call call);

/* Number of rules in p. */
size_t policy_n_rules(const struct policy *p);

/*
 * Value names, shared by the policy file parser and psockctl so that there
 * is one table. Each takes a NUL-terminated name or decimal number and
 * returns the value (>= 0) or -EINVAL; "any" is not a value here.
 *
 * policy_proto_from_name resolves names in the namespace of family: IP
 * protocol names (tcp, udp, icmp, mptcp, ...) for AF_INET/AF_INET6,
 * netlink protocol names (route, sock_diag, ...) for AF_NETLINK; a number
 * is accepted for any family. policy_option_from_name takes an option
 * name of the shared socket option table (proto/sockopts.h).
 */
int policy_call_from_name(const char *name);
int policy_family_from_name(const char *name);
int policy_type_from_name(const char *name);
int policy_proto_from_name(const char *name, int family);
int policy_option_from_name(const char *name, int *ret_level, int *ret_optname);

/*
 * Decode an abstract AF_UNIX name written as in a policy file after '@'
 * (without the '@'): bytes as written, with \\, \*, \? and \xHH escapes.
 * Returns the name's length (0..POLICY_ABSTRACT_MAX) with the bytes in out,
 * or -EINVAL (a bad escape) or -ENAMETOOLONG.
 */
int policy_abstract_from_text(const char *text, char out[POLICY_ABSTRACT_MAX]);
