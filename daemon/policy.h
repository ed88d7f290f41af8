/* SPDX-License-Identifier: MIT */
/*
 * policy: who may do what. Default deny, first match wins.
 *
 * A policy is an ordered list of rules read from a file (or the built-in
 * default). Each request is described as a policy_query; policy_check()
 * walks the rules and returns the first whose subject ("who") and object
 * ("what") both match, or a denial by "no rule matched". The decision names
 * the deciding rule ("FILE:LINE" or "default policy:N") for the reply, the
 * log and `psockctl explain`.
 *
 * Trust boundary: the file is written by the administrator; the query is
 * built by the daemon from a decoded client request (addresses already
 * resolved to numeric form) and the kernel's view of the peer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
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
  const char *unit; /* systemd unit from the cgroup, or NULL */
  /* The unit could not be learnt: unit= deny rules match, allow rules on
   * a unit do not. */
  bool unit_unknown;
};

struct policy_query {
  enum policy_call call;
  int family; /* POLICY_SOCKET, and the socket's family elsewhere */
  int type;   /* POLICY_SOCKET: base type (no SOCK_NONBLOCK/CLOEXEC) */
  int proto;  /* POLICY_SOCKET */
  /* POLICY_BIND / CONNECT / SENDTO: numeric address (NULL otherwise). */
  const struct sockaddr *addr;
  socklen_t addrlen;
  int level, optname; /* POLICY_SETSOCKOPT */
};

struct policy_rule;

struct policy_decision {
  bool allow;
  int error; /* EACCES or EPERM when denied, 0 when allowed */
  /* "FILE:LINE", "default policy:N", "no rule matched", or "invalid
   * request" for a query policy cannot describe (e.g. an inet connect
   * without an inet address). A long FILE is cut from the left. */
  char rule[96];
};

struct policy;

/*
 * Parse the policy file at path. On success returns 0 and *ret. On failure
 * returns -EINVAL (syntax or meaning: every error has been written to errs
 * as "FILE:LINE:COL: message" lines, and the count is in *ret_nerrors) or
 * -errno if the file cannot be read. errs may be NULL.
 */
int policy_load_file(const char *path, FILE *errs, unsigned *ret_nerrors,
                     struct policy **ret);

/* Parse policy text held in memory; name is used in error locations. */
int policy_load_string(const char *name, const char *text, size_t len,
                       FILE *errs, unsigned *ret_nerrors, struct policy **ret);

/* The built-in default policy (see psockd.policy(5)). */
int policy_load_default(struct policy **ret);

/* Parse the policy text held in fd (a sealed memfd: read with mmap), or
 * the built-in default policy if fd < 0. Errors as policy_load_string(). */
int policy_load_fd(int fd, const char *name, FILE *errs, unsigned *ret_nerrors,
                   struct policy **ret);

/* Decide. Never fails: anything unexpected is a denial. */
void policy_check(const struct policy *p, const struct policy_subject *who,
                  const struct policy_query *q, struct policy_decision *ret);

/* Write p in the file syntax, so that the output parses back to p. */
void policy_dump(const struct policy *p, FILE *out);

/*
 * Write p for psockd's sandboxed roles: every rule on its own line number,
 * user= and group= as the uid= and gid= they resolved to, so that the text
 * parses to the same decisions without the name service (which the roles'
 * system call filters do not allow).
 */
void policy_dump_resolved(const struct policy *p, FILE *out);

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
 * protocol names (tcp, udp, icmp, ...) for AF_INET/AF_INET6, "route" for
 * AF_NETLINK; a number is accepted for any family.
 */
int policy_call_from_name(const char *name);
int policy_family_from_name(const char *name);
int policy_type_from_name(const char *name);
int policy_proto_from_name(const char *name, int family);
int policy_option_from_name(const char *name, int *ret_level, int *ret_optname);
