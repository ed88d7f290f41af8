/* SPDX-License-Identifier: MIT */
/*
 * policy_names: the names a policy uses and their values, with the value
 * parsers shared by the file parser (policy_parse.c), the dump (policy.c)
 * and psockctl, so that a name means the same everywhere. Socket option
 * names are not kept here: they are the entries of the one socket option
 * table (proto/sockopts.h) that the client, the workers and psockd-priv
 * read too. Names are fixed tables, never getprotobyname(), whose answer
 * depends on /etc/protocols.
 *
 * This is the bottom of the policy code: it calls nothing of the parser or
 * the decision.
 *
 * Trust boundary: none; every function here is pure.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "policy_internal.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

const struct pol_name pol_call_names[] = {
    {"socket", POLICY_SOCKET},
    {"bind", POLICY_BIND},
    {"connect", POLICY_CONNECT},
    {"sendto", POLICY_SENDTO},
    {"listen", POLICY_LISTEN},
    {"lookup", POLICY_LOOKUP},
    {"reverse", POLICY_REVERSE},
    {"setsockopt", POLICY_SETSOCKOPT},
    {NULL, 0},
};

const struct pol_name pol_family_names[] = {
    {"unix", AF_UNIX},
    {"inet", AF_INET},
    {"inet6", AF_INET6},
    {"netlink", AF_NETLINK},
    {"packet", AF_PACKET},
    {"tipc", AF_TIPC},
    {NULL, 0},
};

const struct pol_name pol_type_names[] = {
    {"stream", SOCK_STREAM}, {"dgram", SOCK_DGRAM},         {"raw", SOCK_RAW},
    {"rdm", SOCK_RDM},       {"seqpacket", SOCK_SEQPACKET}, {NULL, 0},
};

const struct pol_name pol_ip_proto_names[] = {
    {"tcp", IPPROTO_TCP},
    {"udp", IPPROTO_UDP},
    {"icmp", IPPROTO_ICMP},
    {"icmpv6", IPPROTO_ICMPV6},
    {"sctp", IPPROTO_SCTP},
    {"udplite", IPPROTO_UDPLITE},
    {"mptcp", IPPROTO_MPTCP},
    {"raw", IPPROTO_RAW},
    {NULL, 0},
};

const struct pol_name pol_netlink_proto_names[] = {
    {"route", NETLINK_ROUTE},
    {"sock_diag", NETLINK_SOCK_DIAG},
    {"xfrm", NETLINK_XFRM},
    {"audit", NETLINK_AUDIT},
    {"netfilter", NETLINK_NETFILTER},
    {"kobject_uevent", NETLINK_KOBJECT_UEVENT},
    {"generic", NETLINK_GENERIC},
    {NULL, 0},
};

const struct pol_name pol_errno_names[] = {
    {"EACCES", EACCES},
    {"EPERM", EPERM},
    {NULL, 0},
};

const char *const pol_key_names[PK_N] = {
    [PK_FAMILY] = "family", [PK_TYPE] = "type", [PK_PROTO] = "proto",
    [PK_ADDR] = "addr",     [PK_PORT] = "port", [PK_OPTION] = "option",
};

const char *const pol_who_names[PW_N] = {
    [PW_UID] = "uid",     [PW_USER] = "user", [PW_GID] = "gid",
    [PW_GROUP] = "group", [PW_UNIT] = "unit",
};

const uint32_t pol_key_calls[PK_N] = {
    [PK_FAMILY] = POL_ALL_CALLS & ~(BIT(POLICY_LOOKUP) | BIT(POLICY_REVERSE)),
    [PK_TYPE] = BIT(POLICY_SOCKET),
    [PK_PROTO] = BIT(POLICY_SOCKET),
    [PK_ADDR] = BIT(POLICY_BIND) | BIT(POLICY_CONNECT) | BIT(POLICY_SENDTO),
    [PK_PORT] = BIT(POLICY_BIND) | BIT(POLICY_CONNECT) | BIT(POLICY_SENDTO),
    [PK_OPTION] = BIT(POLICY_SETSOCKOPT),
};

int pol_name_find(const struct pol_name *tab, const char *name, size_t len) {
  for (; tab->name; tab++)
    if (strlen(tab->name) == len && memcmp(tab->name, name, len) == 0)
      return tab->value;
  return -1;
}

const char *pol_name_of(const struct pol_name *tab, int value) {
  for (; tab->name; tab++)
    if (tab->value == value)
      return tab->name;
  return NULL;
}

const char *policy_call_name(enum policy_call call) {
  const char *name = pol_name_of(pol_call_names, (int)call);

  return name ? name : "unknown";
}

/* --- socket options: the shared table ----------------------------------- */

static int option_index_of(const struct sockopt *o) {
  for (size_t i = 0; o && i < sockopt_count(); i++)
    if (sockopt_at(i) == o)
      return (int)i;
  return -1;
}

int pol_option_find(const char *name, size_t len) {
  return option_index_of(sockopt_by_name(name, len));
}

int pol_option_index(int level, int optname) {
  return option_index_of(sockopt_lookup(level, optname));
}

const struct sockopt *pol_option_at(uint32_t index) {
  return sockopt_at(index);
}

/* --- numbers and names -------------------------------------------------- */

int pol_parse_u32(const char *s, size_t len, uint32_t max, uint32_t *ret) {
  uint64_t v = 0;

  if (len == 0)
    return -EINVAL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -EINVAL;
    v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > max)
      return -ERANGE;
  }
  *ret = (uint32_t)v;
  return 0;
}

int pol_parse_named(const struct pol_name *tab, const char *s, size_t len,
                    uint32_t max, uint32_t *ret) {
  int v = pol_name_find(tab, s, len);

  if (v >= 0) {
    *ret = (uint32_t)v;
    return 0;
  }
  return pol_parse_u32(s, len, max, ret);
}

int pol_parse_proto(const char *s, size_t len, uint32_t *ret_value,
                    enum pol_ns *ret_ns) {
  int v = pol_name_find(pol_ip_proto_names, s, len);
  enum pol_ns ns = PNS_IP;
  uint32_t n;
  int r;

  if (v < 0) {
    v = pol_name_find(pol_netlink_proto_names, s, len);
    ns = PNS_NETLINK;
  }
  if (v >= 0) {
    *ret_value = (uint32_t)v;
    *ret_ns = ns;
    return 0;
  }
  r = pol_parse_u32(s, len, POL_PROTO_MAX, &n);
  if (r < 0)
    return r;
  *ret_value = n;
  *ret_ns = PNS_NUM;
  return 0;
}

/* --- abstract AF_UNIX names --------------------------------------------- */

static int hex_digit(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* One escape at s[i] == '\\': the byte, and its length in *ret_n. */
static int decode_escape(const char *s, size_t len, size_t i, size_t *ret_n) {
  int hi, lo;

  if (i + 1 < len && s[i + 1] != '\0' && strchr("\\*?", s[i + 1])) {
    *ret_n = 2;
    return (unsigned char)s[i + 1];
  }
  if (i + 3 < len && s[i + 1] == 'x' && (hi = hex_digit(s[i + 2])) >= 0 &&
      (lo = hex_digit(s[i + 3])) >= 0) {
    *ret_n = 4;
    return hi * 16 + lo;
  }
  return -1;
}

int pol_decode_abstract(const char *s, size_t len, bool glob, uint16_t *out,
                        size_t max, size_t *ret_bad) {
  size_t n = 0;

  for (size_t i = 0; i < len;) {
    size_t step = 1;
    int el;

    if (s[i] == '\\') {
      el = decode_escape(s, len, i, &step);
      if (el < 0) {
        *ret_bad = i;
        return -EINVAL;
      }
    } else if (glob && s[i] == '*') {
      el = POL_GLOB_STAR;
    } else if (glob && s[i] == '?') {
      el = POL_GLOB_ONE;
    } else {
      el = (unsigned char)s[i];
    }
    if (n == max)
      return -ENAMETOOLONG;
    out[n++] = (uint16_t)el;
    i += step;
  }
  return (int)n;
}

/* Bytes written as themselves: printable ASCII but for the escape, the
 * glob characters, the list separator and the comment sign. */
static bool plain_byte(unsigned ch) {
  return ch > 0x20 && ch < 0x7f && !strchr("\\*?,#", (int)ch);
}

void pol_write_abstract(const struct pol_abstract *a, FILE *out) {
  for (size_t i = 0; i < a->len; i++) {
    unsigned el = a->pat[i];

    if (el == POL_GLOB_STAR)
      fputc('*', out);
    else if (el == POL_GLOB_ONE)
      fputc('?', out);
    else if (el == '*' || el == '?')
      fprintf(out, "\\%c", (int)el);
    else if (plain_byte(el))
      fputc((int)el, out);
    else /* also '\\': "\\" at the end of a line would continue it */
      fprintf(out, "\\x%02x", el);
  }
}

int policy_abstract_from_text(const char *text, char out[POLICY_ABSTRACT_MAX]) {
  uint16_t el[POLICY_ABSTRACT_MAX];
  size_t bad;
  int n = pol_decode_abstract(text, strlen(text), false, el,
                              POLICY_ABSTRACT_MAX, &bad);

  for (int i = 0; i < n; i++)
    out[i] = (char)el[i];
  return n;
}

/* --- lookups for psockctl ----------------------------------------------- */

int policy_call_from_name(const char *name) {
  int v = pol_name_find(pol_call_names, name, strlen(name));

  return v < 0 ? -EINVAL : v;
}

int policy_family_from_name(const char *name) {
  uint32_t v;

  if (pol_parse_named(pol_family_names, name, strlen(name), POL_FAMILY_MAX,
                      &v) < 0)
    return -EINVAL;
  return (int)v;
}

int policy_type_from_name(const char *name) {
  uint32_t v;

  if (pol_parse_named(pol_type_names, name, strlen(name), POL_TYPE_MAX, &v) < 0)
    return -EINVAL;
  return (int)v;
}

int policy_proto_from_name(const char *name, int family) {
  enum pol_ns ns;
  uint32_t v;

  if (pol_parse_proto(name, strlen(name), &v, &ns) < 0)
    return -EINVAL;
  if ((ns == PNS_IP && family != AF_INET && family != AF_INET6) ||
      (ns == PNS_NETLINK && family != AF_NETLINK))
    return -EINVAL;
  return (int)v;
}

int policy_option_from_name(const char *name, int *ret_level,
                            int *ret_optname) {
  const struct sockopt *o = sockopt_by_name(name, strlen(name));

  if (!o)
    return -EINVAL;
  *ret_level = o->level;
  *ret_optname = o->optname;
  return 0;
}
