/* SPDX-License-Identifier: MIT */
/*
 * The battery's sections on what privilege changes, on the kernel's
 * netlink families and on the interfaces a program sees (battery.h).
 *
 * Run as nobody natively and as nobody through psock-run under psockd's
 * default policy, every line must be the same: raw and packet sockets are
 * EPERM, ICMP datagram sockets EACCES where ping_group_range leaves the
 * user out, a privileged port EACCES, the options that need a capability
 * EPERM (SO_DEBUG on: EACCES) while the ones that do not (a first
 * SO_BINDTODEVICE since Linux 5.7, SO_PRIORITY up to 6) work, protocols
 * the kernel lacks (SCTP on some kernels) its own errno, and the interfaces
 * are those of the network the sockets live in. Run as root both ways,
 * the same lines show what privilege grants.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tipc.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "battery.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif

/* ------------------------------------------------------------ sockets */

static void socket_close(const char *args, int domain, int type, int proto) {
  int fd = do_socket(args, domain, type, proto);

  if (fd >= 0)
    close(fd);
}

static void pair(const char *args, int domain, int type, int proto) {
  int sv[2], rc;

  errno = 0;
  rc = socketpair(domain, type, proto, sv);
  line("socketpair", args, rc_word(rc), rc, errno);
  if (rc == 0) {
    close(sv[0]);
    close(sv[1]);
  }
}

static void privileged_sockets(void) {
  socket_close("AF_INET, SOCK_RAW, IPPROTO_RAW", AF_INET, SOCK_RAW,
               IPPROTO_RAW);
  socket_close("AF_INET, SOCK_RAW, IPPROTO_UDP", AF_INET, SOCK_RAW,
               IPPROTO_UDP);
  socket_close("AF_INET6, SOCK_RAW, IPPROTO_RAW", AF_INET6, SOCK_RAW,
               IPPROTO_RAW);
  socket_close("AF_PACKET, SOCK_DGRAM, ETH_P_IP", AF_PACKET, SOCK_DGRAM,
               htons(0x0800));
  socket_close("AF_PACKET, SOCK_RAW, 0", AF_PACKET, SOCK_RAW, 0);
  /* Obsolete: the kernel makes it a packet socket. Not for root: psockd-priv
   * makes packet sockets of type raw and dgram only. */
  if (geteuid() != 0)
    socket_close("AF_INET, SOCK_PACKET, ETH_P_ALL", AF_INET, SOCK_PACKET,
                 htons(0x0003));
  socket_close("AF_INET6, SOCK_PACKET, ETH_P_ALL", AF_INET6, SOCK_PACKET,
               htons(0x0003));
  socket_close("AF_INET, SOCK_RAW, 0", AF_INET, SOCK_RAW, 0);
  socket_close("AF_NETLINK, SOCK_RAW, 99", AF_NETLINK, SOCK_RAW, 99);
  /* ping_group_range decides, not a capability. */
  socket_close("AF_INET, SOCK_DGRAM, IPPROTO_ICMP", AF_INET, SOCK_DGRAM,
               IPPROTO_ICMP);
  socket_close("AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6", AF_INET6, SOCK_DGRAM,
               IPPROTO_ICMPV6);
}

static void unprivileged_protocols(void) {
  socket_close("AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE", AF_INET, SOCK_DGRAM,
               IPPROTO_UDPLITE);
  socket_close("AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE", AF_INET6, SOCK_DGRAM,
               IPPROTO_UDPLITE);
  socket_close("AF_INET, SOCK_STREAM, IPPROTO_SCTP", AF_INET, SOCK_STREAM,
               IPPROTO_SCTP);
  socket_close("AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP", AF_INET, SOCK_SEQPACKET,
               IPPROTO_SCTP);
  socket_close("AF_INET6, SOCK_STREAM, IPPROTO_SCTP", AF_INET6, SOCK_STREAM,
               IPPROTO_SCTP);
  socket_close("AF_INET, SOCK_STREAM, IPPROTO_MPTCP", AF_INET, SOCK_STREAM,
               IPPROTO_MPTCP);
  socket_close("AF_INET6, SOCK_STREAM, IPPROTO_MPTCP", AF_INET6, SOCK_STREAM,
               IPPROTO_MPTCP);
  socket_close("AF_INET, SOCK_DGRAM, IPPROTO_MPTCP", AF_INET, SOCK_DGRAM,
               IPPROTO_MPTCP);
  /* A family this kernel may not have. */
  socket_close("AF_TIPC, SOCK_RDM, 0", AF_TIPC, SOCK_RDM, 0);
  socket_close("AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG", AF_NETLINK, SOCK_RAW,
               NETLINK_SOCK_DIAG);
  socket_close("AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE", AF_NETLINK, SOCK_DGRAM,
               NETLINK_ROUTE);
  pair("AF_INET, 15, 0", AF_INET, 15, 0);
  pair("AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE", AF_INET, SOCK_DGRAM,
       IPPROTO_UDPLITE);
  pair("AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG", AF_NETLINK, SOCK_RAW,
       NETLINK_SOCK_DIAG);
  pair("AF_INET6, SOCK_RAW, IPPROTO_RAW", AF_INET6, SOCK_RAW, IPPROTO_RAW);
  /* Refused by the default policy, a family without pairs to the kernel. */
  pair("AF_NETLINK, SOCK_RAW, NETLINK_GENERIC", AF_NETLINK, SOCK_RAW,
       NETLINK_GENERIC);
}

/* ---------------------------------------------------- privileged ports */

static void bind_port(const char *args, int type, const struct sockaddr *sa,
                      socklen_t len) {
  int fd = socket(sa->sa_family, type, 0), rc;

  errno = 0;
  rc = bind(fd, sa, len);
  line("bind", args, rc_word(rc), rc, errno);
  close(fd);
}

static void privileged_ports(void) {
  struct sockaddr_in a = in4("127.0.0.1", 1023);
  struct sockaddr_in6 a6 = in6("::1", 977);

  bind_port("udp, 127.0.0.1:1023", SOCK_DGRAM, (struct sockaddr *)&a,
            sizeof(a));
  a.sin_port = htons(1);
  bind_port("tcp, 127.0.0.1:1", SOCK_STREAM, (struct sockaddr *)&a, sizeof(a));
  bind_port("tcp6, [::1]:977", SOCK_STREAM, (struct sockaddr *)&a6, sizeof(a6));
}

/* ------------------------------------------------------------ options */

static void print_device(const char *args, int fd) {
  char dev[IFNAMSIZ + 1] = "";
  socklen_t len = sizeof(dev);
  int rc;

  errno = 0;
  rc = getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &len);
  line("getsockopt", args, rc < 0 ? "-1" : *dev ? dev : "(none)", rc, errno);
}

/* SO_BINDTODEVICE: free on a socket bound to no device (Linux 5.7), a
 * change of device needs CAP_NET_RAW. */
static void bind_to_device(void) {
  int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1, zero = 0;

  do_setsockopt("SO_BINDTODEVICE lo, unbound tcp", t, SOL_SOCKET,
                SO_BINDTODEVICE, "lo", 3);
  print_device("SO_BINDTODEVICE tcp", t);
  do_setsockopt("SO_BINDTODEVICE lo again", t, SOL_SOCKET, SO_BINDTODEVICE,
                "lo", 3);
  do_setsockopt("SO_BINDTODEVICE \"\" (unbind)", t, SOL_SOCKET, SO_BINDTODEVICE,
                "", 1);
  print_device("SO_BINDTODEVICE tcp after", t);
  do_setsockopt("SO_BINDTOIFINDEX 1, unbound udp", u, SOL_SOCKET,
                SO_BINDTOIFINDEX, &one, sizeof(one));
  print_int_opt("SO_BINDTOIFINDEX udp", u, SOL_SOCKET, SO_BINDTOIFINDEX);
  do_setsockopt("SO_BINDTOIFINDEX 0 (unbind)", u, SOL_SOCKET, SO_BINDTOIFINDEX,
                &zero, sizeof(zero));
  close(t);
  close(u);
}

static void privileged_options(void) {
  int t = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1, two = 2, six = 6, seven = 7, big = 1 << 20;

  do_setsockopt("SO_PRIORITY 6", t, SOL_SOCKET, SO_PRIORITY, &six, sizeof(six));
  print_int_opt("SO_PRIORITY", t, SOL_SOCKET, SO_PRIORITY);
  do_setsockopt("SO_PRIORITY 7", t, SOL_SOCKET, SO_PRIORITY, &seven,
                sizeof(seven));
  print_int_opt("SO_PRIORITY", t, SOL_SOCKET, SO_PRIORITY);
  do_setsockopt("SO_MARK 1", t, SOL_SOCKET, SO_MARK, &one, sizeof(one));
  print_int_opt("SO_MARK", t, SOL_SOCKET, SO_MARK);
  do_setsockopt("SO_DEBUG 1", t, SOL_SOCKET, SO_DEBUG, &one, sizeof(one));
  print_int_opt("SO_DEBUG", t, SOL_SOCKET, SO_DEBUG);
  do_setsockopt("SO_SNDBUFFORCE 1 MiB", t, SOL_SOCKET, SO_SNDBUFFORCE, &big,
                sizeof(big));
  do_setsockopt("IP_TRANSPARENT 1", t, SOL_IP, IP_TRANSPARENT, &one,
                sizeof(one));
  do_setsockopt("IP_FREEBIND 1", t, SOL_IP, IP_FREEBIND, &one, sizeof(one));
  do_setsockopt("SO_REUSEPORT 1", t, SOL_SOCKET, SO_REUSEPORT, &one,
                sizeof(one));
  do_setsockopt("TCP_REPAIR 1", t, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one));
  do_setsockopt("IP_TOS 2", t, SOL_IP, IP_TOS, &two, sizeof(two));
  close(t);
}

void test_privilege(void) {
  privileged_sockets();
  unprivileged_protocols();
  privileged_ports();
  bind_to_device();
  privileged_options();
}

/* ------------------------------------------------------------ netlink */

/* Send one request on fd and read the first answer: its errno for an
 * NLMSG_ERROR (0 is an acknowledgement), or -1 for data; found is set when
 * a data answer holds an inet_diag_msg for port. */
static int netlink_ask(int fd, const void *req, size_t len, int port,
                       bool *found) {
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  static unsigned char buf[65536];
  ssize_t n;

  if (sendto(fd, req, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
    return errno;
  for (bool done = false; !done;) {
    n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0)
      return errno;
    size_t left = (size_t)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_ERROR) {
        return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
      } else if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
      } else if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && found) {
        struct inet_diag_msg *m = NLMSG_DATA(h);

        *found = *found || ntohs(m->id.idiag_sport) == port;
      }
      if (!(h->nlmsg_flags & NLM_F_MULTI))
        done = true;
    }
  }
  return -1;
}

static const char *answer_word(int r, char *buf, size_t len) {
  if (r < 0)
    return "data";
  snprintf(buf, len, "%s", r == 0 ? "ack" : errname(r));
  return buf;
}

/* sock_diag: the TCP listeners (our own among them), then SOCK_DESTROY of
 * ours, which needs CAP_NET_ADMIN. */
static void sock_diag(void) {
  struct {
    struct nlmsghdr h;
    struct inet_diag_req_v2 r;
  } req = {
      .h = {.nlmsg_len = sizeof(req),
            .nlmsg_type = SOCK_DIAG_BY_FAMILY,
            .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
            .nlmsg_seq = 1},
      .r = {.sdiag_family = AF_INET,
            .sdiag_protocol = IPPROTO_TCP,
            .idiag_states = 1 << 10 /* TCP_LISTEN */},
  };
  struct sockaddr_in lo = in4("127.0.0.1", 0);
  int d = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port, r;
  bool found = false;
  char buf[64], word[32];

  bind(l, (struct sockaddr *)&lo, sizeof(lo));
  listen(l, 4);
  port = port_of(l);
  r = netlink_ask(d, &req, sizeof(req), port, &found);
  snprintf(buf, sizeof(buf), "%s, our listener %s",
           answer_word(r, word, sizeof(word)), found ? "listed" : "MISSING");
  line("sock_diag", "dump tcp listeners", buf, 0, 0);

  req.h.nlmsg_type = SOCK_DESTROY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.h.nlmsg_seq = 2;
  req.r.id.idiag_sport = htons((uint16_t)port);
  req.r.id.idiag_src[0] = lo.sin_addr.s_addr;
  req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  r = netlink_ask(d, &req, sizeof(req), 0, NULL);
  line("sock_diag", "SOCK_DESTROY our listener",
       answer_word(r, word, sizeof(word)), 0, 0);
  close(l);
  close(d);
}

/* rtnetlink: a read by name, and a write (which needs CAP_NET_ADMIN
 * before the kernel looks at it: on an interface that does not exist it
 * changes nothing either way). */
static void rtnetlink(void) {
  struct {
    struct nlmsghdr h;
    struct ifaddrmsg a;
    struct rtattr rta;
    struct in_addr addr;
  } add = {
      .h = {.nlmsg_len = sizeof(add),
            .nlmsg_type = RTM_NEWADDR,
            .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE,
            .nlmsg_seq = 3},
      .a = {.ifa_family = AF_INET,
            .ifa_prefixlen = 32,
            .ifa_index = 0x7ffffff0},
      .rta = {.rta_len = RTA_LENGTH(sizeof(struct in_addr)),
              .rta_type = IFA_LOCAL},
  };
  int n = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), r;
  char word[32];

  add.addr.s_addr = htonl(0xc0000263); /* 192.0.2.99 */
  r = netlink_ask(n, &add, sizeof(add), 0, NULL);
  line("rtnetlink", "RTM_NEWADDR on no interface",
       answer_word(r, word, sizeof(word)), 0, 0);
  close(n);
}

void test_netlink(void) {
  sock_diag();
  rtnetlink();
}

/* --------------------------------------------------------- interfaces */

static const char *sa_words(const struct sockaddr *sa, char *buf, size_t len) {
  if (!sa)
    return "none";
  if (sa->sa_family == AF_PACKET) {
    const struct sockaddr_ll *ll = (const struct sockaddr_ll *)sa;
    int n = snprintf(buf, len, "packet if=%d type=%u len=%u", ll->sll_ifindex,
                     ll->sll_hatype, ll->sll_halen);

    for (unsigned i = 0;
         i < ll->sll_halen && i < 8 && n > 0 && (size_t)n + 4 < len; i++)
      n += snprintf(buf + n, len - (size_t)n, "%s%02x", i ? ":" : " ",
                    ll->sll_addr[i]);
    return buf;
  }
  addr_words(sa,
             sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                       : sizeof(struct sockaddr_in),
             false, buf, len);
  return buf;
}

static void print_ifaddrs(void) {
  struct ifaddrs *list = NULL;
  int rc;

  errno = 0;
  rc = getifaddrs(&list);
  line("getifaddrs", "", rc_word(rc), rc, errno);
  for (struct ifaddrs *i = list; i; i = i->ifa_next) {
    char a[160], m[160], b[160];

    printf("  %s flags=%#x addr=%s netmask=%s %s=%s data=%s\n",
           i->ifa_name ? i->ifa_name : "(null)", i->ifa_flags,
           sa_words(i->ifa_addr, a, sizeof(a)),
           sa_words(i->ifa_netmask, m, sizeof(m)),
           i->ifa_flags & IFF_POINTOPOINT ? "dst" : "broad",
           sa_words(i->ifa_broadaddr, b, sizeof(b)),
           i->ifa_data ? "stats" : "none");
  }
  freeifaddrs(list);
}

static void print_nameindex(void) {
  struct if_nameindex *idx = if_nameindex();
  char name[IF_NAMESIZE];

  line("if_nameindex", "", idx ? "list" : "NULL", idx ? 0 : -1, errno);
  for (struct if_nameindex *i = idx; i && i->if_index; i++) {
    unsigned back = if_nametoindex(i->if_name);
    const char *fwd = if_indextoname(i->if_index, name);

    printf("  %u %s nametoindex=%s indextoname=%s\n", i->if_index, i->if_name,
           back == i->if_index ? "same" : "OTHER",
           fwd && strcmp(fwd, i->if_name) == 0 ? "same" : "OTHER");
  }
  if (idx)
    if_freenameindex(idx);
}

static void name_lookups(void) {
  char name[IF_NAMESIZE], buf[32];
  const char *r;
  unsigned idx;

  errno = 0;
  idx = if_nametoindex("lo");
  snprintf(buf, sizeof(buf), "%u", idx);
  line("if_nametoindex", "lo", buf, idx ? 0 : -1, errno);
  errno = 0;
  idx = if_nametoindex("no-such-if0");
  snprintf(buf, sizeof(buf), "%u", idx);
  line("if_nametoindex", "no-such-if0", buf, idx ? 0 : -1, errno);
  errno = 0;
  idx = if_nametoindex("a-name-far-too-long-for-an-interface");
  snprintf(buf, sizeof(buf), "%u", idx);
  line("if_nametoindex", "a name too long", buf, idx ? 0 : -1, errno);
  errno = 0;
  r = if_indextoname(1, name);
  line("if_indextoname", "1", r ? r : "NULL", r ? 0 : -1, errno);
  errno = 0;
  r = if_indextoname(0x7ffffff0, name);
  line("if_indextoname", "0x7ffffff0", r ? r : "NULL", r ? 0 : -1, errno);
}

void test_interfaces(void) {
  print_ifaddrs();
  print_nameindex();
  name_lookups();
}
