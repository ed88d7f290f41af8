/* SPDX-License-Identifier: MIT */
/*
 * sockopts_free: what the option table lets psockd do without privilege,
 * tried by an unprivileged child (part of test_sockopts_kernel): every
 * entry it may set is set with a value of the entry's min_len, every
 * entry it may read is read with a buffer of get_len, raw-only options on
 * a raw socket root opened, repair-mode options on a socket root put in
 * repair mode (and each refused outside, not for lack of privilege).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sockopts_test.h"

#define VALUE_MAX 512

/* ---- values and setup where zero bytes of min_len do not fit ---- */

typedef int (*prepare_fn)(int fd, unsigned char *buf, socklen_t *len);

static int put(unsigned char *buf, socklen_t *len, const void *v, size_t n) {
  memcpy(buf, v, n);
  *len = (socklen_t)n;
  return 0;
}

static int put_int(unsigned char *buf, socklen_t *len, int v) {
  return put(buf, len, &v, sizeof(v));
}

static int v_ttl(int fd, unsigned char *b, socklen_t *l) {
  return put_int(b, l, 64);
}
static int v_seconds(int fd, unsigned char *b, socklen_t *l) {
  return put_int(b, l, 60);
}
static int v_count(int fd, unsigned char *b, socklen_t *l) {
  return put_int(b, l, 5);
}
static int v_group1(int fd, unsigned char *b, socklen_t *l) {
  return put_int(b, l, 1);
}
static int v_in_reuseport_group(int fd, unsigned char *b, socklen_t *l) {
  int one = 1;

  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
    return -errno;
  return put_int(b, l, 0);
}
static int v_reno(int fd, unsigned char *b, socklen_t *l) {
  return put(b, l, "reno", 5);
}

static int v_md5sig(int fd, unsigned char *b, socklen_t *l) {
  struct tcp_md5sig m = {.tcpm_keylen = 4};
  struct sockaddr_in *sin = (struct sockaddr_in *)&m.tcpm_addr;

  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  memcpy(m.tcpm_key, "test", 4);
  return put(b, l, &m, sizeof(m));
}

/* Multicast: 224.0.0.251 / ff02::fb on the host's multicast interface,
 * sources from the documentation ranges. */
static void group_addr(int family, struct sockaddr_storage *ss, bool source) {
  memset(ss, 0, sizeof(*ss));
  ss->ss_family = (sa_family_t)family;
  if (family == AF_INET)
    inet_pton(AF_INET, source ? "192.0.2.99" : "224.0.0.251",
              &((struct sockaddr_in *)ss)->sin_addr);
  else
    inet_pton(AF_INET6, source ? "2001:db8::99" : "ff02::fb",
              &((struct sockaddr_in6 *)ss)->sin6_addr);
}

static int mc_level(int family) {
  return family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
}

static int set_or_errno(int fd, int level, int opt, const void *v, size_t n) {
  return setsockopt(fd, level, opt, v, (socklen_t)n) < 0 ? -errno : 0;
}

/* MCAST_* with struct group_req / group_source_req; steps before it. */
static int mcast(int fd, int family, unsigned char *b, socklen_t *l,
                 bool with_source, int pre1, int pre2) {
  struct group_req gr = {.gr_interface = (uint32_t)mc_ifindex};
  struct group_source_req gsr = {.gsr_interface = (uint32_t)mc_ifindex};
  int rc = 0;

  if (!mc_ifindex)
    return -ENODEV;
  group_addr(family, &gr.gr_group, false);
  group_addr(family, &gsr.gsr_group, false);
  group_addr(family, &gsr.gsr_source, true);
  if (pre1)
    rc = pre1 == MCAST_JOIN_GROUP
             ? set_or_errno(fd, mc_level(family), pre1, &gr, sizeof(gr))
             : set_or_errno(fd, mc_level(family), pre1, &gsr, sizeof(gsr));
  if (!rc && pre2)
    rc = set_or_errno(fd, mc_level(family), pre2, &gsr, sizeof(gsr));
  if (rc)
    return rc;
  return with_source ? put(b, l, &gsr, sizeof(gsr))
                     : put(b, l, &gr, sizeof(gr));
}

#define MCAST_PREPARES(fam, sfx)                                               \
  static int join_##sfx(int fd, unsigned char *b, socklen_t *l) {              \
    return mcast(fd, fam, b, l, false, 0, 0);                                  \
  }                                                                            \
  static int leave_##sfx(int fd, unsigned char *b, socklen_t *l) {             \
    return mcast(fd, fam, b, l, false, MCAST_JOIN_GROUP, 0);                   \
  }                                                                            \
  static int join_src_##sfx(int fd, unsigned char *b, socklen_t *l) {          \
    return mcast(fd, fam, b, l, true, 0, 0);                                   \
  }                                                                            \
  static int leave_src_##sfx(int fd, unsigned char *b, socklen_t *l) {         \
    return mcast(fd, fam, b, l, true, MCAST_JOIN_SOURCE_GROUP, 0);             \
  }                                                                            \
  static int block_##sfx(int fd, unsigned char *b, socklen_t *l) {             \
    return mcast(fd, fam, b, l, true, MCAST_JOIN_GROUP, 0);                    \
  }                                                                            \
  static int unblock_##sfx(int fd, unsigned char *b, socklen_t *l) {           \
    return mcast(fd, fam, b, l, true, MCAST_JOIN_GROUP, MCAST_BLOCK_SOURCE);   \
  }

MCAST_PREPARES(AF_INET, v4)
MCAST_PREPARES(AF_INET6, v6)

/* The IPv4 and IPv6 specific forms, after the same steps. */
static int ip_mreq_v(int fd, unsigned char *b, socklen_t *l, int pre1, int pre2,
                     bool source) {
  struct ip_mreq_source ms = {0};
  struct ip_mreq m = {0};
  int rc = 0;

  if (!mc_ifindex || !mc_addr4.s_addr)
    return -EADDRNOTAVAIL;
  inet_pton(AF_INET, "224.0.0.251", &m.imr_multiaddr);
  m.imr_interface = mc_addr4;
  ms.imr_multiaddr = m.imr_multiaddr;
  ms.imr_interface = mc_addr4;
  inet_pton(AF_INET, "192.0.2.99", &ms.imr_sourceaddr);
  if (pre1)
    rc = pre1 == IP_ADD_MEMBERSHIP
             ? set_or_errno(fd, IPPROTO_IP, pre1, &m, sizeof(m))
             : set_or_errno(fd, IPPROTO_IP, pre1, &ms, sizeof(ms));
  if (!rc && pre2)
    rc = set_or_errno(fd, IPPROTO_IP, pre2, &ms, sizeof(ms));
  if (rc)
    return rc;
  return source ? put(b, l, &ms, sizeof(ms)) : put(b, l, &m, sizeof(m));
}

static int ip_add(int fd, unsigned char *b, socklen_t *l) {
  return ip_mreq_v(fd, b, l, 0, 0, false);
}
static int ip_drop(int fd, unsigned char *b, socklen_t *l) {
  return ip_mreq_v(fd, b, l, IP_ADD_MEMBERSHIP, 0, false);
}
static int ip_add_src(int fd, unsigned char *b, socklen_t *l) {
  return ip_mreq_v(fd, b, l, 0, 0, true);
}
static int ip_drop_src(int fd, unsigned char *b, socklen_t *l) {
  return ip_mreq_v(fd, b, l, IP_ADD_SOURCE_MEMBERSHIP, 0, true);
}
static int ip_block(int fd, unsigned char *b, socklen_t *l) {
  return ip_mreq_v(fd, b, l, IP_ADD_MEMBERSHIP, 0, true);
}
static int ip_unblock(int fd, unsigned char *b, socklen_t *l) {
  return ip_mreq_v(fd, b, l, IP_ADD_MEMBERSHIP, IP_BLOCK_SOURCE, true);
}

static int ipv6_mreq_v(int fd, unsigned char *b, socklen_t *l, bool join) {
  struct ipv6_mreq m = {.ipv6mr_interface = (unsigned)mc_ifindex};

  if (!mc_ifindex)
    return -ENODEV;
  inet_pton(AF_INET6, "ff02::fb", &m.ipv6mr_multiaddr);
  if (join) {
    int rc = set_or_errno(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof(m));

    if (rc)
      return rc;
  }
  return put(b, l, &m, sizeof(m));
}
static int ipv6_join(int fd, unsigned char *b, socklen_t *l) {
  return ipv6_mreq_v(fd, b, l, false);
}
static int ipv6_leave(int fd, unsigned char *b, socklen_t *l) {
  return ipv6_mreq_v(fd, b, l, true);
}

struct special {
  const char *name;
  prepare_fn prepare;    /* NULL: zero bytes of min_len (free_min first) */
  int expect;            /* what nobody gets here: 0 (success) or errno */
  struct sock_kind kind; /* family 0: by the level */
};

static const struct special specials[] = {
    {"IP_TTL", v_ttl},
    {"TCP_KEEPIDLE", v_seconds},
    {"TCP_KEEPINTVL", v_seconds},
    {"TCP_KEEPCNT", v_count},
    {"TCP_SYNCNT", v_count},
    {"TCP_CONGESTION", v_reno},
    {"NETLINK_ADD_MEMBERSHIP", v_group1},
    {"NETLINK_DROP_MEMBERSHIP", v_group1},
    {"TCP_MD5SIG", v_md5sig},
    {"TCP_MD5SIG_EXT", v_md5sig},
    {"SO_PEEK_OFF", NULL, 0, UDP4},
    /* Restricted to AF_UNIX, AF_NETLINK and Bluetooth by 6.18. */
    {"SO_PASSCRED", NULL, 0, {AF_UNIX, SOCK_DGRAM, 0}},
    {"SO_PASSSEC", NULL, 0, {AF_UNIX, SOCK_DGRAM, 0}},
    /* Nothing attached, nothing joined: the kernel's own answer. */
    {"SO_DETACH_FILTER", NULL, ENOENT},
    {"SO_DETACH_REUSEPORT_BPF", v_in_reuseport_group, ENOENT},
    {"IPV6_LEAVE_ANYCAST", NULL, ENOENT},
    {"IP_ADD_MEMBERSHIP", ip_add},
    {"IP_DROP_MEMBERSHIP", ip_drop},
    {"IP_ADD_SOURCE_MEMBERSHIP", ip_add_src},
    {"IP_DROP_SOURCE_MEMBERSHIP", ip_drop_src},
    {"IP_BLOCK_SOURCE", ip_block},
    {"IP_UNBLOCK_SOURCE", ip_unblock},
    {"MCAST_JOIN_GROUP", join_v4},
    {"MCAST_LEAVE_GROUP", leave_v4},
    {"MCAST_JOIN_SOURCE_GROUP", join_src_v4},
    {"MCAST_LEAVE_SOURCE_GROUP", leave_src_v4},
    {"MCAST_BLOCK_SOURCE", block_v4},
    {"MCAST_UNBLOCK_SOURCE", unblock_v4},
    {"IPV6_JOIN_GROUP", ipv6_join},
    {"IPV6_LEAVE_GROUP", ipv6_leave},
    {"IPV6/MCAST_JOIN_GROUP", join_v6},
    {"IPV6/MCAST_LEAVE_GROUP", leave_v6},
    {"IPV6/MCAST_JOIN_SOURCE_GROUP", join_src_v6},
    {"IPV6/MCAST_LEAVE_SOURCE_GROUP", leave_src_v6},
    {"IPV6/MCAST_BLOCK_SOURCE", block_v6},
    {"IPV6/MCAST_UNBLOCK_SOURCE", unblock_v6},
};

static const struct special *special_for(const struct sockopt *o) {
  for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
    if (!strcmp(specials[i].name, o->name))
      return &specials[i];
  return NULL;
}

static struct sock_kind kind_for(const struct sockopt *o) {
  const struct special *s = special_for(o);

  if (s && s->kind.family)
    return s->kind;
  switch (o->level) {
  case SOL_SOCKET:
    return o->flags & SOCKOPT_F_DGRAM ? UDP4 : TCP4;
  case IPPROTO_IP:
  case IPPROTO_UDP:
    return UDP4;
  case IPPROTO_IPV6:
    return UDP6;
  case IPPROTO_UDPLITE:
    return (struct sock_kind){AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE};
  case IPPROTO_SCTP:
    return (struct sock_kind){AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP};
  case SOL_NETLINK:
    return (struct sock_kind){AF_NETLINK, SOCK_RAW, NETLINK_ROUTE};
  case SOL_MPTCP:
    return (struct sock_kind){AF_INET, SOCK_STREAM, IPPROTO_MPTCP};
  default:
    return TCP4;
  }
}

/* Zero bytes of min_len; a BY_VALUE rule's first free value in front. */
static socklen_t default_value(const struct sockopt *o, unsigned char *buf) {
  memset(buf, 0, VALUE_MAX);
  if (o->rule == SOCKOPT_BY_VALUE && o->value != SOCKOPT_STRING) {
    if (o->min_len >= sizeof(int))
      memcpy(buf, &o->free_min, sizeof(int));
    else
      buf[0] = (unsigned char)o->free_min;
  }
  return o->min_len;
}

static bool settable_free(const struct sockopt *o) {
  return !sockopt_never(o) && o->max_len && o->rule != SOCKOPT_PRIVILEGED &&
         !(o->flags & (SOCKOPT_F_RAW | SOCKOPT_F_REPAIR));
}

static int set_one(const struct sockopt *o) {
  const struct special *s = special_for(o);
  unsigned char buf[VALUE_MAX];
  socklen_t len = default_value(o, buf);
  int fd = open_sock(kind_for(o)), rc = 0;

  if (fd < 0)
    return SOCKET_FAILED - fd;
  if (s && s->prepare)
    rc = s->prepare(fd, buf, &len);
  rc = rc < 0 ? SETUP_FAILED - rc : try_set(fd, o, buf, len);
  close(fd);
  return rc;
}

static void set_child(const void *arg, int *res, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (settable_free(sockopt_at(i)))
      res[i] = set_one(sockopt_at(i));
}

void test_free_options_settable(void **state) {
  size_t n = sockopt_count();
  int res[MAX_RESULTS];

  if (run_unprivileged(set_child, NULL, res, n) < 0)
    skip();
  for (size_t i = 0; i < n; i++) {
    const struct sockopt *o = sockopt_at(i);
    const struct special *s = special_for(o);
    int want = s ? s->expect : 0;

    if (!settable_free(o)) {
      assert_int_equal(res[i], NOT_RUN);
      continue;
    }
    if (skipped_result(o->name, res[i]))
      continue;
    if (res[i] == EOPNOTSUPP && want != EOPNOTSUPP) {
      note_skip(o->name, "not supported on this kernel's socket "
                         "(EOPNOTSUPP)");
      continue;
    }
    if (res[i] != want)
      fail_msg("%s: nobody setting %u bytes got %s, expected %s", o->name,
               o->min_len, res[i] ? strerrorname_np(res[i]) : "success",
               want ? strerrorname_np(want) : "success");
    note_checked();
  }
}

/* ---- reading ---- */

static bool readable(const struct sockopt *o) {
  return !sockopt_never(o) && o->get_len &&
         !(o->flags & (SOCKOPT_F_RAW | SOCKOPT_F_REPAIR));
}

static int connect_loopback(int fd, int family) {
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
  struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
                              .sin6_port = htons(9),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};

  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (family == AF_INET)
    return connect(fd, (struct sockaddr *)&sin, sizeof(sin)) ? -errno : 0;
  return connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)) ? -errno : 0;
}

static int get_one(const struct sockopt *o) {
  struct sock_kind k = kind_for(o);
  unsigned char buf[VALUE_MAX];
  socklen_t len = o->get_len;
  int fd = open_sock(k), rc = 0;

  if (fd < 0)
    return SOCKET_FAILED - fd;
  if (o->flags & SOCKOPT_F_CONNECTED)
    rc = connect_loopback(fd, k.family);
  if (rc == 0)
    rc = getsockopt(fd, o->level, o->optname, buf, &len) < 0 ? errno : 0;
  else
    rc = SETUP_FAILED - rc;
  if (rc == 0 && len > o->get_len)
    rc = EOVERFLOW;
  close(fd);
  return rc;
}

static void get_child(const void *arg, int *res, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (readable(sockopt_at(i)))
      res[i] = get_one(sockopt_at(i));
}

void test_options_readable(void **state) {
  size_t n = sockopt_count();
  int res[MAX_RESULTS];

  if (run_unprivileged(get_child, NULL, res, n) < 0)
    skip();
  for (size_t i = 0; i < n; i++) {
    const struct sockopt *o = sockopt_at(i);

    if (!readable(o) || skipped_result(o->name, res[i]))
      continue;
    if (res[i] == EOPNOTSUPP) {
      note_skip(o->name, "not readable on this kernel's socket "
                         "(EOPNOTSUPP)");
      continue;
    }
    if (res[i] != 0)
      fail_msg("%s: nobody reading %u bytes got %s", o->name, o->get_len,
               strerrorname_np(res[i]));
    note_checked();
  }
}

/* ---- raw sockets ---- */

static struct sock_kind raw_kind(const struct sockopt *o) {
  if (o->level == IPPROTO_IP || o->level == SOL_RAW)
    return (struct sock_kind){AF_INET, SOCK_RAW, IPPROTO_ICMP};
  if (!strcmp(o->name, "IPV6_CHECKSUM"))
    return (struct sock_kind){AF_INET6, SOCK_RAW, IPPROTO_UDP};
  return (struct sock_kind){AF_INET6, SOCK_RAW, IPPROTO_ICMPV6};
}

/* res[i]: on root's raw socket; res[n + i]: on nobody's UDP socket. */
static void raw_child(const void *arg, int *res, size_t n) {
  const int *fds = arg;
  unsigned char buf[VALUE_MAX] = {0};

  for (size_t i = 0; i < n / 2; i++) {
    const struct sockopt *o = sockopt_at(i);
    int fd;

    if (!(o->flags & SOCKOPT_F_RAW) || fds[i] < 0)
      continue;
    res[i] = try_set(fds[i], o, buf, o->min_len);
    fd = open_sock(raw_kind(o).family == AF_INET ? UDP4 : UDP6);
    res[n / 2 + i] =
        fd < 0 ? SOCKET_FAILED - fd : try_set(fd, o, buf, o->min_len);
    if (fd >= 0)
      close(fd);
  }
}

void test_raw_only_options(void **state) {
  size_t n = sockopt_count();
  int fds[MAX_RESULTS / 2], res[MAX_RESULTS];

  assert_true(2 * n <= MAX_RESULTS);
  for (size_t i = 0; i < n; i++) {
    const struct sockopt *o = sockopt_at(i);

    fds[i] = (o->flags & SOCKOPT_F_RAW) ? open_sock(raw_kind(o)) : -1;
    if ((o->flags & SOCKOPT_F_RAW) && fds[i] < 0)
      note_skip(o->name, "root cannot open the raw socket here (%s)",
                strerror(-fds[i]));
  }
  if (run_unprivileged(raw_child, fds, res, 2 * n) < 0)
    skip();
  for (size_t i = 0; i < n; i++) {
    const struct sockopt *o = sockopt_at(i);

    if (fds[i] < 0)
      continue;
    close(fds[i]);
    if (skipped_result(o->name, res[i]))
      continue;
    if (res[i] != 0)
      fail_msg("%s: nobody on a raw socket got %s", o->name,
               strerrorname_np(res[i]));
    /* Elsewhere refused as the kernel refuses, not for privilege. */
    if (res[n + i] == 0 || res[n + i] == EPERM)
      fail_msg("%s: on a UDP socket nobody got %s", o->name,
               res[n + i] ? "EPERM" : "success");
    assert_false(sockopt_refused_for_privilege(o, res[n + i]));
    note_checked();
  }
}

/* ---- TCP repair mode ---- */

static void repair_child(const void *arg, int *res, size_t n) {
  const int *fd = arg;
  unsigned char buf[VALUE_MAX] = {0};
  int queue = 2; /* TCP_SEND_QUEUE */

  setsockopt(*fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue));
  for (size_t i = 0; i < n / 2; i++) {
    const struct sockopt *o = sockopt_at(i);
    int fresh;

    if (!(o->flags & SOCKOPT_F_REPAIR) || o->rule != SOCKOPT_FREE)
      continue;
    memset(buf, 0, sizeof(buf));
    if (o->optname == TCP_REPAIR_QUEUE)
      memcpy(buf, &queue, sizeof(queue));
    res[i] = try_set(*fd, o, buf, o->min_len);
    fresh = open_sock(TCP4);
    res[n / 2 + i] =
        fresh < 0 ? SOCKET_FAILED - fresh : try_set(fresh, o, buf, o->min_len);
    if (fresh >= 0)
      close(fresh);
  }
}

void test_repair_mode_options(void **state) {
  size_t n = sockopt_count();
  int one = 1, res[MAX_RESULTS], fd = open_sock(TCP4);

  assert_true(fd >= 0);
  if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) < 0) {
    note_skip("TCP_REPAIR_*", "root cannot enter repair mode here (%s)",
              strerror(errno));
    close(fd);
    skip();
  }
  if (run_unprivileged(repair_child, &fd, res, 2 * n) < 0)
    skip();
  close(fd);
  for (size_t i = 0; i < n; i++) {
    const struct sockopt *o = sockopt_at(i);

    if (!(o->flags & SOCKOPT_F_REPAIR) || o->rule != SOCKOPT_FREE ||
        skipped_result(o->name, res[i]))
      continue;
    if (o->optname == TCP_REPAIR_OPTIONS && res[i] == EPERM)
      note_skip(o->name, "needs an established connection in repair mode");
    else if (res[i] != 0)
      fail_msg("%s: nobody in repair mode got %s", o->name,
               strerrorname_np(res[i]));
    /* Outside repair mode: refused, and no capability would help. */
    if (res[n + i] == 0)
      fail_msg("%s: allowed outside repair mode", o->name);
    assert_false(sockopt_refused_for_privilege(o, res[n + i]));
    note_checked();
  }
}
