/* SPDX-License-Identifier: MIT */
/*
 * The shim's interface lists (client/preload/ifdump.c): getifaddrs() and
 * if_nameindex() built from NETLINK_ROUTE dumps. Canned dumps check each
 * rule glibc follows (link entries with AF_PACKET addresses and stats,
 * address entries with labels, netmasks, broadcast and point-to-point peer
 * addresses, link-local scope ids), what is skipped (other port ids and
 * sequence numbers, messages after NLMSG_DONE, short and malformed
 * messages and attributes), when to ask again (an interrupted dump, an
 * address of a link the link dump did not have), and that a list from
 * glibc's own getifaddrs() is not ours to free. A live dump of this
 * process's namespace is compared, field by field, with glibc's answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdint.h>
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

#include "../../client/preload/ifdump.h"

#define PORTID 4242
#define SEQ 77

/* ------------------------------------------------------ canned dumps */

struct canned {
  unsigned char buf[16384];
  size_t len;
  size_t msg; /* offset of the message being built */
};

static void msg_begin(struct canned *c, uint16_t type, uint16_t flags,
                      uint32_t portid, uint32_t seq) {
  struct nlmsghdr h = {.nlmsg_type = type,
                       .nlmsg_flags = flags,
                       .nlmsg_pid = portid,
                       .nlmsg_seq = seq};

  c->msg = c->len;
  memcpy(c->buf + c->len, &h, sizeof(h));
  c->len += NLMSG_HDRLEN;
}

static void put(struct canned *c, const void *data, size_t n) {
  assert_true(c->len + NLMSG_ALIGN(n) <= sizeof(c->buf));
  memcpy(c->buf + c->len, data, n);
  memset(c->buf + c->len + n, 0, NLMSG_ALIGN(n) - n);
  c->len += NLMSG_ALIGN(n);
}

static void attr(struct canned *c, uint16_t type, const void *data, size_t n) {
  struct rtattr rta = {.rta_len = (unsigned short)RTA_LENGTH(n),
                       .rta_type = type};

  put(c, &rta, sizeof(rta));
  put(c, data, n);
}

static void msg_end(struct canned *c) {
  struct nlmsghdr *h = (struct nlmsghdr *)(c->buf + c->msg);

  h->nlmsg_len = (uint32_t)(c->len - c->msg);
}

static void link_msg(struct canned *c, int index, unsigned flags,
                     unsigned short type, const char *name,
                     const unsigned char *mac, size_t maclen,
                     const unsigned char *bcast, bool stats) {
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC,
                          .ifi_type = type,
                          .ifi_index = index,
                          .ifi_flags = flags};
  uint32_t mtu = 1500;

  msg_begin(c, RTM_NEWLINK, NLM_F_MULTI, PORTID, SEQ);
  put(c, &ifi, sizeof(ifi));
  attr(c, IFLA_IFNAME, name, strlen(name) + 1);
  attr(c, IFLA_MTU, &mtu, sizeof(mtu));
  if (mac)
    attr(c, IFLA_ADDRESS, mac, maclen);
  if (bcast)
    attr(c, IFLA_BROADCAST, bcast, maclen);
  if (stats) {
    struct rtnl_link_stats st = {.rx_packets = (uint32_t)index * 10,
                                 .tx_bytes = 12345};

    attr(c, IFLA_STATS, &st, sizeof(st));
  }
  msg_end(c);
}

/* An address message; attributes follow with attr(), then msg_end(). */
static void addr_begin(struct canned *c, int family, int prefixlen, int index) {
  struct ifaddrmsg ifa = {.ifa_family = (unsigned char)family,
                          .ifa_prefixlen = (unsigned char)prefixlen,
                          .ifa_index = (uint32_t)index};

  msg_begin(c, RTM_NEWADDR, NLM_F_MULTI, PORTID, SEQ + 1);
  put(c, &ifa, sizeof(ifa));
}

static void attr_in4(struct canned *c, uint16_t type, const char *text) {
  struct in_addr a;

  assert_int_equal(inet_pton(AF_INET, text, &a), 1);
  attr(c, type, &a, sizeof(a));
}

static void attr_in6(struct canned *c, uint16_t type, const char *text) {
  struct in6_addr a;

  assert_int_equal(inet_pton(AF_INET6, text, &a), 1);
  attr(c, type, &a, sizeof(a));
}

static void done_msg(struct canned *c, uint32_t seq) {
  int zero = 0;

  msg_begin(c, NLMSG_DONE, NLM_F_MULTI, PORTID, seq);
  put(c, &zero, sizeof(zero));
  msg_end(c);
}

static struct ifdump dump_of(struct canned *c, uint32_t seq) {
  return (struct ifdump){
      .buf = c->buf, .len = c->len, .portid = PORTID, .seq = seq};
}

static const unsigned char mac_eth0[6] = {0x02, 0xfc, 0, 0, 0, 1};
static const unsigned char mac_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const unsigned char mac_zero[6] = {0};

/* lo (1), eth0 (4), ppp0 (7, no hardware address), then addresses. */
static void standard_links(struct canned *l) {
  link_msg(l, 1, IFF_UP | IFF_LOOPBACK | IFF_RUNNING, 772, "lo", mac_zero, 6,
           mac_zero, true);
  link_msg(l, 4, IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST, 1,
           "eth0", mac_eth0, 6, mac_bcast, true);
  link_msg(l, 7, IFF_UP | IFF_POINTOPOINT | IFF_RUNNING | IFF_NOARP, 512,
           "ppp0", NULL, 0, NULL, false);
  done_msg(l, SEQ);
}

static void standard_addrs(struct canned *a) {
  /* IPv4 on lo, as the kernel sends it: address, local, label. */
  addr_begin(a, AF_INET, 8, 1);
  attr_in4(a, IFA_ADDRESS, "127.0.0.1");
  attr_in4(a, IFA_LOCAL, "127.0.0.1");
  attr(a, IFA_LABEL, "lo", 3);
  msg_end(a);
  /* eth0 with a broadcast address and an alias label. */
  addr_begin(a, AF_INET, 24, 4);
  attr_in4(a, IFA_ADDRESS, "192.0.2.2");
  attr_in4(a, IFA_LOCAL, "192.0.2.2");
  attr_in4(a, IFA_BROADCAST, "192.0.2.255");
  attr(a, IFA_LABEL, "eth0:1", 7);
  msg_end(a);
  /* Point to point: IFA_ADDRESS is the peer. */
  addr_begin(a, AF_INET, 32, 7);
  attr_in4(a, IFA_ADDRESS, "10.9.0.1");
  attr_in4(a, IFA_LOCAL, "10.9.0.2");
  attr(a, IFA_LABEL, "ppp0", 5);
  msg_end(a);
  /* IPv6: IFA_ADDRESS only, no label; link-local gets a scope id. */
  addr_begin(a, AF_INET6, 64, 4);
  attr_in6(a, IFA_ADDRESS, "fe80::fc:ff:fe00:1");
  msg_end(a);
  addr_begin(a, AF_INET6, 61, 4);
  attr_in6(a, IFA_ADDRESS, "2001:db8::2");
  msg_end(a);
  done_msg(a, SEQ + 1);
}

/* ------------------------------------------------------ checks */

static const char *addr_text(const struct sockaddr *sa, char *buf, size_t len) {
  if (!sa)
    return "none";
  if (sa->sa_family == AF_INET)
    return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
                     (socklen_t)len);
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    char host[INET6_ADDRSTRLEN];

    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
    snprintf(buf, len, "%s%%%u", host, s6->sin6_scope_id);
    return buf;
  }
  if (sa->sa_family == AF_PACKET) {
    const struct sockaddr_ll *ll = (const struct sockaddr_ll *)sa;
    size_t n = (size_t)snprintf(buf, len, "ll if=%d type=%u len=%u",
                                ll->sll_ifindex, ll->sll_hatype, ll->sll_halen);

    for (unsigned i = 0; i < ll->sll_halen && i < 8 && n + 4 < len; i++)
      n += (size_t)snprintf(buf + n, len - n, "%s%02x", i ? ":" : " ",
                            ll->sll_addr[i]);
    return buf;
  }
  snprintf(buf, len, "family=%d", sa->sa_family);
  return buf;
}

/* One entry as a line: name flags addr/netmask/broad. */
static char *entry_line(const struct ifaddrs *i, bool stats_values) {
  char a[96], m[96], b[96], *line = NULL;
  char stats[64] = "no";

  if (i->ifa_data) {
    const struct rtnl_link_stats *st = i->ifa_data;

    if (stats_values)
      snprintf(stats, sizeof(stats), "rx_packets=%u tx_bytes=%u",
               st->rx_packets, st->tx_bytes);
    else
      snprintf(stats, sizeof(stats), "yes");
  }
  assert_true(asprintf(&line, "%s %#x addr=%s netmask=%s broad=%s stats=%s",
                       i->ifa_name ? i->ifa_name : "(null)", i->ifa_flags,
                       addr_text(i->ifa_addr, a, sizeof(a)),
                       addr_text(i->ifa_netmask, m, sizeof(m)),
                       addr_text(i->ifa_broadaddr, b, sizeof(b)), stats) > 0);
  return line;
}

static void assert_lines(const struct ifaddrs *list, const char *const *want) {
  size_t n = 0;

  for (const struct ifaddrs *i = list; i; i = i->ifa_next, n++) {
    char *got = entry_line(i, true);

    assert_non_null(want[n]);
    if (strcmp(got, want[n]) != 0)
      fail_msg("entry %zu:\n got  %s\n want %s", n, got, want[n]);
    free(got);
  }
  assert_null(want[n]);
}

/* ------------------------------------------------------ tests */

static void test_links_and_addresses(void **state) {
  static struct canned l, a;
  struct ifdump links, addrs;
  struct ifaddrs *list = NULL;
  const char *const want[] = {
      "lo 0x49 addr=ll if=1 type=772 len=6 00:00:00:00:00:00 netmask=none "
      "broad=ll if=1 type=772 len=6 00:00:00:00:00:00 "
      "stats=rx_packets=10 tx_bytes=12345",
      "eth0 0x1043 addr=ll if=4 type=1 len=6 02:fc:00:00:00:01 netmask=none "
      "broad=ll if=4 type=1 len=6 ff:ff:ff:ff:ff:ff "
      "stats=rx_packets=40 tx_bytes=12345",
      "ppp0 0xd1 addr=none netmask=none broad=none stats=no",
      /* glibc's reading: IFA_LOCAL after IFA_ADDRESS leaves the latter as
       * the peer, even when it is the same address. */
      "lo 0x49 addr=127.0.0.1 netmask=255.0.0.0 broad=127.0.0.1 stats=no",
      "eth0:1 0x1043 addr=192.0.2.2 netmask=255.255.255.0 "
      "broad=192.0.2.255 stats=no",
      "ppp0 0xd1 addr=10.9.0.2 netmask=255.255.255.255 broad=10.9.0.1 "
      "stats=no",
      "eth0 0x1043 addr=fe80::fc:ff:fe00:1%4 netmask=ffff:ffff:ffff:ffff::%0 "
      "broad=none stats=no",
      "eth0 0x1043 addr=2001:db8::2%0 netmask=ffff:ffff:ffff:fff8::%0 "
      "broad=none stats=no",
      NULL};

  memset(&l, 0, sizeof(l));
  memset(&a, 0, sizeof(a));
  standard_links(&l);
  standard_addrs(&a);
  links = dump_of(&l, SEQ);
  addrs = dump_of(&a, SEQ + 1);
  assert_int_equal(ifdump_ifaddrs(&links, &addrs, &list), 0);
  assert_non_null(list);
  assert_lines(list, want);
  /* The list is one allocation, as glibc's: it starts at its first entry
   * and ours is freed by us. */
  assert_true(ifdump_freeifaddrs(list));
}

static void test_foreign_and_after_done_skipped(void **state) {
  static struct canned l, a;
  struct ifdump links, addrs;
  struct ifaddrs *list = NULL;
  const char *const want[] = {
      "lo 0x49 addr=ll if=1 type=772 len=6 00:00:00:00:00:00 netmask=none "
      "broad=none stats=no",
      "lo 0x49 addr=127.0.0.1 netmask=255.0.0.0 broad=none stats=no", NULL};
  struct ifinfomsg ifi = {.ifi_index = 9, .ifi_flags = IFF_UP};

  memset(&l, 0, sizeof(l));
  memset(&a, 0, sizeof(a));
  /* Another socket's answer and an old sequence number: not ours. */
  msg_begin(&l, RTM_NEWLINK, NLM_F_MULTI, PORTID + 1, SEQ);
  put(&l, &ifi, sizeof(ifi));
  attr(&l, IFLA_IFNAME, "other0", 7);
  msg_end(&l);
  msg_begin(&l, RTM_NEWLINK, NLM_F_MULTI, PORTID, SEQ - 1);
  put(&l, &ifi, sizeof(ifi));
  attr(&l, IFLA_IFNAME, "stale0", 7);
  msg_end(&l);
  link_msg(&l, 1, IFF_UP | IFF_LOOPBACK | IFF_RUNNING, 772, "lo", mac_zero, 6,
           NULL, false);
  /* A message too short for its fixed header: skipped. */
  msg_begin(&l, RTM_NEWLINK, NLM_F_MULTI, PORTID, SEQ);
  put(&l, "xy", 2);
  msg_end(&l);
  done_msg(&l, SEQ);
  /* After NLMSG_DONE nothing counts. */
  link_msg(&l, 5, IFF_UP, 1, "late0", mac_eth0, 6, NULL, false);

  addr_begin(&a, AF_INET, 8, 1);
  attr_in4(&a, IFA_LOCAL, "127.0.0.1");
  /* An attribute that claims more than the message has: ignored. */
  {
    struct rtattr bad = {.rta_len = 200, .rta_type = IFA_LABEL};

    put(&a, &bad, sizeof(bad));
  }
  msg_end(&a);
  done_msg(&a, SEQ + 1);

  links = dump_of(&l, SEQ);
  addrs = dump_of(&a, SEQ + 1);
  assert_int_equal(ifdump_ifaddrs(&links, &addrs, &list), 0);
  assert_lines(list, want);
  assert_true(ifdump_freeifaddrs(list));
}

static void test_oversized_attributes(void **state) {
  static struct canned l, a;
  struct ifdump links, addrs;
  struct ifaddrs *list = NULL;
  unsigned char long_hw[32];
  const char *const want[] = {
      "ib0 0x1 addr=none netmask=none broad=none stats=no",
      /* A label too long for a name: the link's name. A prefix longer than
       * the address: all ones. */
      "ib0 0x1 addr=198.51.100.1 netmask=255.255.255.255 broad=none stats=no",
      NULL};
  char label[40];

  memset(&l, 0, sizeof(l));
  memset(&a, 0, sizeof(a));
  memset(long_hw, 0xab, sizeof(long_hw));
  link_msg(&l, 3, IFF_UP, 32, "ib0", long_hw, sizeof(long_hw), NULL, false);
  done_msg(&l, SEQ);
  memset(label, 'x', sizeof(label) - 1);
  label[sizeof(label) - 1] = '\0';
  addr_begin(&a, AF_INET, 40, 3);
  attr_in4(&a, IFA_LOCAL, "198.51.100.1");
  attr(&a, IFA_LABEL, label, sizeof(label));
  msg_end(&a);
  done_msg(&a, SEQ + 1);
  links = dump_of(&l, SEQ);
  addrs = dump_of(&a, SEQ + 1);
  assert_int_equal(ifdump_ifaddrs(&links, &addrs, &list), 0);
  assert_lines(list, want);
  assert_true(ifdump_freeifaddrs(list));
}

static void test_ask_again(void **state) {
  static struct canned l, a;
  struct ifdump links, addrs;
  struct ifaddrs *list = (struct ifaddrs *)&list;

  /* An address of a link the link dump did not list. */
  memset(&l, 0, sizeof(l));
  memset(&a, 0, sizeof(a));
  standard_links(&l);
  addr_begin(&a, AF_INET, 24, 99);
  attr_in4(&a, IFA_LOCAL, "192.0.2.99");
  msg_end(&a);
  done_msg(&a, SEQ + 1);
  links = dump_of(&l, SEQ);
  addrs = dump_of(&a, SEQ + 1);
  assert_int_equal(ifdump_ifaddrs(&links, &addrs, &list), -EAGAIN);
  assert_ptr_equal(list, (struct ifaddrs *)&list);

  /* An interrupted dump. */
  memset(&l, 0, sizeof(l));
  link_msg(&l, 1, IFF_UP, 772, "lo", NULL, 0, NULL, false);
  ((struct nlmsghdr *)l.buf)->nlmsg_flags |= NLM_F_DUMP_INTR;
  done_msg(&l, SEQ);
  memset(&a, 0, sizeof(a));
  done_msg(&a, SEQ + 1);
  links = dump_of(&l, SEQ);
  addrs = dump_of(&a, SEQ + 1);
  assert_int_equal(ifdump_ifaddrs(&links, &addrs, &list), -EAGAIN);
}

static void test_empty(void **state) {
  static struct canned l, a;
  struct ifdump links, addrs;
  struct ifaddrs *list = (struct ifaddrs *)&list;
  struct if_nameindex *idx = NULL;

  memset(&l, 0, sizeof(l));
  memset(&a, 0, sizeof(a));
  done_msg(&l, SEQ);
  done_msg(&a, SEQ + 1);
  links = dump_of(&l, SEQ);
  addrs = dump_of(&a, SEQ + 1);
  assert_int_equal(ifdump_ifaddrs(&links, &addrs, &list), 0);
  assert_null(list);
  assert_int_equal(ifdump_nameindex(&links, &idx), 0);
  assert_non_null(idx);
  assert_int_equal(idx[0].if_index, 0);
  assert_null(idx[0].if_name);
  if_freenameindex(idx);
}

static void test_nameindex(void **state) {
  static struct canned l;
  struct ifdump links;
  struct if_nameindex *idx = NULL;
  struct ifinfomsg ifi = {.ifi_index = 12};

  memset(&l, 0, sizeof(l));
  link_msg(&l, 1, IFF_UP, 772, "lo", NULL, 0, NULL, false);
  /* No name: not listed. */
  msg_begin(&l, RTM_NEWLINK, NLM_F_MULTI, PORTID, SEQ);
  put(&l, &ifi, sizeof(ifi));
  msg_end(&l);
  link_msg(&l, 4, IFF_UP, 1, "eth0", NULL, 0, NULL, false);
  done_msg(&l, SEQ);
  links = dump_of(&l, SEQ);
  assert_int_equal(ifdump_nameindex(&links, &idx), 0);
  assert_int_equal(idx[0].if_index, 1);
  assert_string_equal(idx[0].if_name, "lo");
  assert_int_equal(idx[1].if_index, 4);
  assert_string_equal(idx[1].if_name, "eth0");
  assert_int_equal(idx[2].if_index, 0);
  assert_null(idx[2].if_name);
  /* glibc's if_freenameindex() frees it: the same layout. */
  if_freenameindex(idx);
}

/* glibc's own list is not ours: we leave it to glibc's freeifaddrs()
 * (under ASan, a free of ours would show up as a double free). */
static void test_glibc_list_not_ours(void **state) {
  struct ifaddrs *list = NULL;

  assert_false(ifdump_freeifaddrs(NULL));
  assert_int_equal(getifaddrs(&list), 0);
  assert_non_null(list);
  assert_false(ifdump_freeifaddrs(list));
  freeifaddrs(list);
}

/* ------------------------------------------------------ live */

static char *lines_of(const struct ifaddrs *list) {
  char *all = strdup("");

  for (const struct ifaddrs *i = list; i; i = i->ifa_next) {
    char *line = entry_line(i, false), *grown = NULL;

    assert_true(asprintf(&grown, "%s%s\n", all, line) > 0);
    free(all);
    free(line);
    all = grown;
  }
  return all;
}

/* This namespace's interfaces, from our dumps and from glibc, the same. */
static void test_live_against_glibc(void **state) {
  struct ifaddrs *ours = NULL, *theirs = NULL;
  struct if_nameindex *idx = NULL, *gidx;
  struct ifdump links, addrs;
  char *a, *b;
  int fd, r;

  for (int tries = 0;; tries++) {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    assert_true(fd >= 0);
    assert_int_equal(ifdump_collect(fd, RTM_GETLINK, 1000, &links), 0);
    assert_int_equal(ifdump_collect(fd, RTM_GETADDR, 1001, &addrs), 0);
    close(fd);
    r = ifdump_ifaddrs(&links, &addrs, &ours);
    if (r == 0 || tries == 5)
      break;
    ifdump_release(&links);
    ifdump_release(&addrs);
  }
  assert_int_equal(r, 0);
  assert_int_equal(getifaddrs(&theirs), 0);
  a = lines_of(ours);
  b = lines_of(theirs);
  if (strcmp(a, b) != 0)
    fail_msg("ours:\n%sglibc's:\n%s", a, b);
  assert_int_equal(ifdump_nameindex(&links, &idx), 0);
  gidx = if_nameindex();
  assert_non_null(gidx);
  for (size_t i = 0;; i++) {
    assert_int_equal(idx[i].if_index, gidx[i].if_index);
    if (!idx[i].if_index)
      break;
    assert_string_equal(idx[i].if_name, gidx[i].if_name);
  }
  if_freenameindex(idx);
  if_freenameindex(gidx);
  free(a);
  free(b);
  assert_true(ifdump_freeifaddrs(ours));
  freeifaddrs(theirs);
  ifdump_release(&links);
  ifdump_release(&addrs);
}

/* A request the kernel refuses comes back as its errno. */
static void test_collect_error(void **state) {
  struct ifdump d = {.buf = (unsigned char *)&d};
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

  assert_true(fd >= 0);
  /* Not a dump the kernel has a handler for. */
  assert_true(ifdump_collect(fd, RTM_BASE + 300, 5, &d) < 0);
  assert_ptr_equal(d.buf, (unsigned char *)&d);
  close(fd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_links_and_addresses),
      cmocka_unit_test(test_foreign_and_after_done_skipped),
      cmocka_unit_test(test_oversized_attributes),
      cmocka_unit_test(test_ask_again),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_nameindex),
      cmocka_unit_test(test_glibc_list_not_ours),
      cmocka_unit_test(test_live_against_glibc),
      cmocka_unit_test(test_collect_error),
  };

  return cmocka_run_group_tests_name("ifdump", tests, NULL, NULL);
}
