/* SPDX-License-Identifier: MIT */
/*
 * ifdump: getifaddrs() and if_nameindex() results built from NETLINK_ROUTE
 * dumps (see ifdump.h). The layout and the meaning of each field are
 * glibc's (sysdeps/unix/sysv/linux/ifaddrs.c, if_index.c), so that a
 * program cannot tell this list from the one glibc would have built in the
 * namespace the socket belongs to:
 *
 *  - one entry per RTM_NEWLINK, in the kernel's order: ifa_flags the
 *    link's ifi_flags, ifa_addr and ifa_broadaddr AF_PACKET addresses
 *    (IFLA_ADDRESS, IFLA_BROADCAST, with the index and hardware type),
 *    ifa_data the link's IFLA_STATS (struct rtnl_link_stats), no netmask;
 *  - then one per RTM_NEWADDR: the link's flags, IFA_LABEL or the link's
 *    name, IFA_ADDRESS and IFA_LOCAL as glibc reads them (a second address
 *    after the first is the peer, in ifa_dstaddr = ifa_broadaddr; an
 *    IFA_BROADCAST replaces it), the netmask from the prefix length, the
 *    scope id of a link-local IPv6 address its interface index.
 *
 * A list is one allocation that starts with its first entry (as glibc's
 * does, so even glibc's freeifaddrs() could free it); the lists this module
 * made are remembered so that the shim's freeifaddrs() can tell them from
 * glibc's own.
 *
 * Trust boundary: every length in a dump is checked before it is used.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "ifdump.h"

/* A hardware address up to 24 bytes (InfiniBand's are 20): sockaddr_ll's
 * own sll_addr[8] is too short, as glibc's sockaddr_ll_max says. */
struct sockaddr_ll_max {
  unsigned short sll_family;
  unsigned short sll_protocol;
  int sll_ifindex;
  unsigned short sll_hatype;
  unsigned char sll_pkttype;
  unsigned char sll_halen;
  unsigned char sll_addr[24];
};

union if_sockaddr {
  struct sockaddr sa;
  struct sockaddr_ll_max sl;
  struct sockaddr_in s4;
  struct sockaddr_in6 s6;
};

/* One element of the list; ifa comes first, so &entry == &entry->ifa. */
struct entry {
  struct ifaddrs ifa;
  union if_sockaddr addr, netmask, broadaddr;
  char name[IF_NAMESIZE + 1];
};

/* At the end of each list this module made: the registry's link. */
struct block_tail {
  struct block_tail *next;
  struct entry *first;
};

static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct block_tail *blocks;

/* A fork while another thread holds the registry must not leave the
 * child's copy locked for ever. */
static void blocks_prepare(void) {
  pthread_mutex_lock(&blocks_lock);
}

static void blocks_release(void) {
  pthread_mutex_unlock(&blocks_lock);
}

__attribute__((constructor)) static void blocks_init(void) {
  pthread_atfork(blocks_prepare, blocks_release, blocks_release);
}

/* ------------------------------------------------------ collecting */

#define RECV_MIN 32768

/* Append one datagram to d, padded to the netlink alignment. */
static int append(struct ifdump *d, const unsigned char *data, size_t n) {
  size_t padded = NLMSG_ALIGN(n);
  unsigned char *grown = realloc(d->buf, d->len + padded);

  if (!grown)
    return -ENOMEM;
  d->buf = grown;
  memcpy(d->buf + d->len, data, n);
  memset(d->buf + d->len + n, 0, padded - n);
  d->len += padded;
  return 0;
}

/*
 * Look at one datagram: 1 if it holds messages of ours (and *done when
 * NLMSG_DONE is among them), 0 if none, or the kernel's -errno.
 */
static int scan(const unsigned char *data, size_t n, const struct ifdump *d,
                bool *done) {
  const struct nlmsghdr *h = (const struct nlmsghdr *)data;
  size_t left = n;
  int ours = 0;

  for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
    if (h->nlmsg_pid != d->portid || h->nlmsg_seq != d->seq)
      continue;
    ours = 1;
    if (h->nlmsg_type == NLMSG_DONE) {
      *done = true;
      break;
    }
    if (h->nlmsg_type == NLMSG_ERROR) {
      const struct nlmsgerr *e = NLMSG_DATA(h);

      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)) || e->error >= 0)
        return -EIO;
      return e->error;
    }
  }
  return ours;
}

static int send_request(int fd, uint16_t type, uint32_t seq) {
  struct {
    struct nlmsghdr h;
    struct rtgenmsg g;
  } req;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;

  memset(&req, 0, sizeof(req));
  req.h.nlmsg_len = sizeof(req);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = seq;
  req.g.rtgen_family = AF_UNSPEC;
  do
    n = sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel,
               sizeof(kernel));
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

/* The size of the next datagram, without taking it; -errno. */
static ssize_t next_size(int fd) {
  ssize_t n;

  do
    n = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

static int receive_dump(int fd, struct ifdump *d) {
  _cleanup_free_ unsigned char *buf = NULL;
  size_t cap = 0;
  bool done = false;

  while (!done) {
    struct sockaddr_nl from;
    struct iovec iov;
    struct msghdr msg = {.msg_name = &from,
                         .msg_namelen = sizeof(from),
                         .msg_iov = &iov,
                         .msg_iovlen = 1};
    ssize_t size = next_size(fd), n;
    int r;

    if (size < 0)
      return (int)size;
    if (!buf || (size_t)size > cap) {
      unsigned char *grown;

      cap = (size_t)size > RECV_MIN ? (size_t)size : RECV_MIN;
      grown = realloc(buf, cap);
      if (!grown)
        return -ENOMEM;
      buf = grown;
    }
    iov.iov_base = buf;
    iov.iov_len = cap;
    do
      n = recvmsg(fd, &msg, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
      return -errno;
    /* Only the kernel's answers (port id 0) count. */
    if (from.nl_pid != 0)
      continue;
    if (msg.msg_flags & MSG_TRUNC)
      return -EMSGSIZE;
    r = scan(buf, (size_t)n, d, &done);
    if (r < 0)
      return r;
    if (r > 0 && (r = append(d, buf, (size_t)n)) < 0)
      return r;
  }
  return 0;
}

int ifdump_collect(int fd, uint16_t type, uint32_t seq, struct ifdump *ret) {
  struct ifdump d = {.seq = seq};
  struct sockaddr_nl self = {0};
  socklen_t len = sizeof(self);
  int r;

  r = send_request(fd, type, seq);
  /* The send bound the socket: its port id is what answers carry. */
  if (r == 0 && getsockname(fd, (struct sockaddr *)&self, &len) < 0)
    r = -errno;
  if (r < 0)
    return r;
  d.portid = self.nl_pid;
  r = receive_dump(fd, &d);
  if (r < 0) {
    free(d.buf);
    return r;
  }
  *ret = d;
  return 0;
}

void ifdump_release(struct ifdump *d) {
  free(d->buf);
  d->buf = NULL;
  d->len = 0;
}

/* ------------------------------------------------------ walking */

struct walk {
  const struct ifdump *d;
  size_t off;
};

/* The next message of ours before NLMSG_DONE, or NULL. A message that
 * claims more than is there ends the walk. */
static const struct nlmsghdr *walk_next(struct walk *w) {
  while (w->off + sizeof(struct nlmsghdr) <= w->d->len) {
    const struct nlmsghdr *h = (const struct nlmsghdr *)(w->d->buf + w->off);
    size_t left = w->d->len - w->off;

    if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > left)
      break;
    w->off +=
        NLMSG_ALIGN(h->nlmsg_len) < left ? NLMSG_ALIGN(h->nlmsg_len) : left;
    if (h->nlmsg_pid != w->d->portid || h->nlmsg_seq != w->d->seq)
      continue;
    if (h->nlmsg_type == NLMSG_DONE)
      break;
    return h;
  }
  w->off = w->d->len;
  return NULL;
}

/* The fixed header of h's payload if it is all there, else NULL. */
static const void *payload(const struct nlmsghdr *h, size_t fixed) {
  return h->nlmsg_len >= NLMSG_LENGTH(fixed) ? NLMSG_DATA(h) : NULL;
}

/* The first attribute after h's fixed header, or NULL; *left is what
 * remains of the message from there. */
static const struct rtattr *attr_first(const struct nlmsghdr *h, size_t fixed,
                                       size_t *left) {
  const struct rtattr *rta =
      (const struct rtattr *)((const char *)NLMSG_DATA(h) + NLMSG_ALIGN(fixed));

  *left = h->nlmsg_len >= NLMSG_SPACE(fixed) ? h->nlmsg_len - NLMSG_SPACE(fixed)
                                             : 0;
  return RTA_OK(rta, *left) ? rta : NULL;
}

static const struct rtattr *attr_next(const struct rtattr *rta, size_t *left) {
  rta = RTA_NEXT(rta, *left);
  return RTA_OK(rta, *left) ? rta : NULL;
}

#define FOR_ATTR(rta, h, fixed, left)                                          \
  for (const struct rtattr *rta = attr_first((h), (fixed), &(left)); rta;      \
       rta = attr_next(rta, &(left)))

/* ------------------------------------------------------ links */

struct counts {
  size_t links, addrs, stats;
};

static int count(const struct ifdump *links, const struct ifdump *addrs,
                 struct counts *c) {
  const struct ifdump *dumps[2] = {links, addrs};

  memset(c, 0, sizeof(*c));
  for (int i = 0; i < 2; i++) {
    struct walk w = {.d = dumps[i]};
    const struct nlmsghdr *h;

    while ((h = walk_next(&w))) {
      size_t len;

      /* An interrupted dump may be inconsistent: ask again. */
      if (h->nlmsg_flags & NLM_F_DUMP_INTR)
        return -EAGAIN;
      if (h->nlmsg_type == RTM_NEWADDR && payload(h, sizeof(struct ifaddrmsg)))
        c->addrs++;
      if (h->nlmsg_type != RTM_NEWLINK || !payload(h, sizeof(struct ifinfomsg)))
        continue;
      c->links++;
      FOR_ATTR(rta, h, sizeof(struct ifinfomsg), len) {
        if (rta->rta_type == IFLA_STATS) {
          c->stats += NLMSG_ALIGN(RTA_PAYLOAD(rta));
          break;
        }
      }
    }
  }
  return 0;
}

/* An AF_PACKET address of link ifi, if the hardware address fits. */
static bool set_link_addr(union if_sockaddr *u, const struct ifinfomsg *ifi,
                          const struct rtattr *rta) {
  size_t n = RTA_PAYLOAD(rta);

  if (n > sizeof(u->sl.sll_addr))
    return false;
  u->sl.sll_family = AF_PACKET;
  u->sl.sll_ifindex = ifi->ifi_index;
  u->sl.sll_hatype = ifi->ifi_type;
  u->sl.sll_halen = (unsigned char)n;
  memcpy(u->sl.sll_addr, RTA_DATA(rta), n);
  return true;
}

static void fill_link(struct entry *e, const struct nlmsghdr *h,
                      unsigned char **stats) {
  const struct ifinfomsg *ifi = NLMSG_DATA(h);
  bool have_stats = false;
  size_t len;

  e->ifa.ifa_flags = ifi->ifi_flags;
  FOR_ATTR(rta, h, sizeof(*ifi), len) {
    size_t n = RTA_PAYLOAD(rta);

    switch (rta->rta_type) {
    case IFLA_ADDRESS:
      if (set_link_addr(&e->addr, ifi, rta))
        e->ifa.ifa_addr = &e->addr.sa;
      break;
    case IFLA_BROADCAST:
      if (set_link_addr(&e->broadaddr, ifi, rta))
        e->ifa.ifa_broadaddr = &e->broadaddr.sa;
      break;
    case IFLA_IFNAME:
      if (n + 1 <= sizeof(e->name)) {
        memcpy(e->name, RTA_DATA(rta), n);
        e->name[n] = '\0';
        e->ifa.ifa_name = e->name;
      }
      break;
    case IFLA_STATS:
      if (!have_stats) {
        memcpy(*stats, RTA_DATA(rta), n);
        e->ifa.ifa_data = *stats;
        *stats += NLMSG_ALIGN(n);
        have_stats = true;
      }
      break;
    default:
      break;
    }
  }
}

/* ------------------------------------------------------ addresses */

/* Which entry holds link index: a sorted map for the addresses' lookups. */
struct link_slot {
  int index;
  size_t entry;
};

static int slot_cmp(const void *a, const void *b) {
  int x = ((const struct link_slot *)a)->index;
  int y = ((const struct link_slot *)b)->index;

  return (x > y) - (x < y);
}

static const struct link_slot *find_link(const struct link_slot *map, size_t n,
                                         int index) {
  struct link_slot key = {.index = index};

  return n ? bsearch(&key, map, n, sizeof(*map), slot_cmp) : NULL;
}

static bool link_local6(const void *a) {
  const struct in6_addr *in6 = a;

  return IN6_IS_ADDR_LINKLOCAL(in6) || IN6_IS_ADDR_MC_LINKLOCAL(in6);
}

/* An address of family as glibc stores it: inet and inet6 only at their
 * exact lengths (a link-local one scoped to its interface), anything else
 * as raw bytes in sa_data. */
static void set_ip_addr(union if_sockaddr *u, const struct ifaddrmsg *ifa,
                        const struct rtattr *rta) {
  size_t n = RTA_PAYLOAD(rta);

  u->sa.sa_family = ifa->ifa_family;
  switch (ifa->ifa_family) {
  case AF_INET:
    if (n == sizeof(u->s4.sin_addr))
      memcpy(&u->s4.sin_addr, RTA_DATA(rta), n);
    break;
  case AF_INET6:
    if (n == sizeof(u->s6.sin6_addr)) {
      memcpy(&u->s6.sin6_addr, RTA_DATA(rta), n);
      if (link_local6(RTA_DATA(rta)))
        u->s6.sin6_scope_id = ifa->ifa_index;
    }
    break;
  default:
    if (n <= sizeof(*u) - offsetof(struct sockaddr, sa_data))
      memcpy(u->sa.sa_data, RTA_DATA(rta), n);
    break;
  }
}

/* The netmask of e's address from the prefix length. */
static void set_netmask(struct entry *e, unsigned prefixlen) {
  unsigned char *bits = NULL;
  unsigned max = 0;
  int family;

  if (!e->ifa.ifa_addr)
    return;
  family = e->ifa.ifa_addr->sa_family;
  if (family == AF_UNSPEC || family == AF_PACKET)
    return;
  e->netmask.sa.sa_family = (sa_family_t)family;
  e->ifa.ifa_netmask = &e->netmask.sa;
  if (family == AF_INET) {
    bits = (unsigned char *)&e->netmask.s4.sin_addr;
    max = 32;
  } else if (family == AF_INET6) {
    bits = (unsigned char *)&e->netmask.s6.sin6_addr;
    max = 128;
  }
  if (!bits)
    return;
  if (prefixlen > max)
    prefixlen = max;
  memset(bits, 0xff, prefixlen / 8);
  if (prefixlen % 8)
    bits[prefixlen / 8] = (unsigned char)(0xff << (8 - prefixlen % 8));
}

static void address_attr(struct entry *e, const struct ifaddrmsg *ifa,
                         const struct rtattr *rta) {
  size_t n = RTA_PAYLOAD(rta);

  switch (rta->rta_type) {
  case IFA_ADDRESS:
    /* After IFA_LOCAL, IFA_ADDRESS is the peer of a point-to-point
     * link: ifa_dstaddr, which is ifa_broadaddr. */
    if (e->ifa.ifa_addr) {
      e->ifa.ifa_broadaddr = &e->broadaddr.sa;
      set_ip_addr(&e->broadaddr, ifa, rta);
    } else {
      e->ifa.ifa_addr = &e->addr.sa;
      set_ip_addr(&e->addr, ifa, rta);
    }
    break;
  case IFA_LOCAL:
    /* IFA_LOCAL is the address; what came first in IFA_ADDRESS is taken
     * for the peer (a broadcast address replaces it below). */
    if (e->ifa.ifa_addr) {
      e->broadaddr = e->addr;
      e->ifa.ifa_broadaddr = &e->broadaddr.sa;
      memset(&e->addr, 0, sizeof(e->addr));
    }
    e->ifa.ifa_addr = &e->addr.sa;
    set_ip_addr(&e->addr, ifa, rta);
    break;
  case IFA_BROADCAST:
    if (e->ifa.ifa_broadaddr)
      memset(&e->broadaddr, 0, sizeof(e->broadaddr));
    e->ifa.ifa_broadaddr = &e->broadaddr.sa;
    set_ip_addr(&e->broadaddr, ifa, rta);
    break;
  case IFA_LABEL:
    if (n + 1 <= sizeof(e->name)) {
      memcpy(e->name, RTA_DATA(rta), n);
      e->name[n] = '\0';
      e->ifa.ifa_name = e->name;
    }
    break;
  default:
    break;
  }
}

/* Fill e from an RTM_NEWADDR; -EAGAIN if its link was not in the link
 * dump (the interfaces changed in between). */
static int fill_address(struct entry *e, const struct nlmsghdr *h,
                        struct entry *entries, const struct link_slot *map,
                        size_t nmap) {
  const struct ifaddrmsg *ifa = NLMSG_DATA(h);
  const struct link_slot *link = find_link(map, nmap, (int)ifa->ifa_index);
  size_t len;

  if (!link)
    return -EAGAIN;
  e->ifa.ifa_flags = entries[link->entry].ifa.ifa_flags;
  FOR_ATTR(rta, h, sizeof(*ifa), len) {
    address_attr(e, ifa, rta);
  }
  if (!e->ifa.ifa_name)
    e->ifa.ifa_name = entries[link->entry].ifa.ifa_name;
  set_netmask(e, ifa->ifa_prefixlen);
  return 0;
}

/* ------------------------------------------------------ the list */

static void remember(struct block_tail *t) {
  pthread_mutex_lock(&blocks_lock);
  t->next = blocks;
  blocks = t;
  pthread_mutex_unlock(&blocks_lock);
}

bool ifdump_freeifaddrs(struct ifaddrs *ifa) {
  struct block_tail **p, *found = NULL;

  if (!ifa)
    return false;
  pthread_mutex_lock(&blocks_lock);
  for (p = &blocks; *p; p = &(*p)->next)
    if (&(*p)->first->ifa == ifa) {
      found = *p;
      *p = found->next;
      break;
    }
  pthread_mutex_unlock(&blocks_lock);
  if (found)
    free(found->first);
  return found != NULL;
}

/* Fill the links' entries and the map from link index to entry. */
static void fill_links(const struct ifdump *links, struct entry *entries,
                       struct link_slot *map, unsigned char *stats) {
  struct walk w = {.d = links};
  const struct nlmsghdr *h;
  size_t i = 0;

  while ((h = walk_next(&w))) {
    if (h->nlmsg_type != RTM_NEWLINK || !payload(h, sizeof(struct ifinfomsg)))
      continue;
    fill_link(&entries[i], h, &stats);
    map[i].index = ((const struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
    map[i].entry = i;
    i++;
  }
  qsort(map, i, sizeof(*map), slot_cmp);
}

static int fill_addresses(const struct ifdump *addrs, struct entry *entries,
                          const struct link_slot *map, size_t nlinks) {
  struct walk w = {.d = addrs};
  const struct nlmsghdr *h;
  size_t i = nlinks;
  int r;

  while ((h = walk_next(&w))) {
    if (h->nlmsg_type != RTM_NEWADDR || !payload(h, sizeof(struct ifaddrmsg)))
      continue;
    r = fill_address(&entries[i++], h, entries, map, nlinks);
    if (r < 0)
      return r;
  }
  return 0;
}

int ifdump_ifaddrs(const struct ifdump *links, const struct ifdump *addrs,
                   struct ifaddrs **ret) {
  _cleanup_free_ struct link_slot *map = NULL;
  _cleanup_free_ struct entry *entries = NULL;
  struct block_tail *tail;
  struct counts c;
  size_t n, tail_at;
  int r;

  r = count(links, addrs, &c);
  if (r < 0)
    return r;
  n = c.links + c.addrs;
  if (n == 0) {
    *ret = NULL;
    return 0;
  }
  tail_at = n * sizeof(struct entry) + c.stats;
  tail_at = (tail_at + alignof(struct block_tail) - 1) &
            ~(alignof(struct block_tail) - 1);
  entries = calloc(1, tail_at + sizeof(*tail));
  map = calloc(c.links ? c.links : 1, sizeof(*map));
  if (!entries || !map)
    return -ENOMEM;
  fill_links(links, entries, map, (unsigned char *)&entries[n]);
  r = fill_addresses(addrs, entries, map, c.links);
  if (r < 0)
    return r;
  for (size_t i = 0; i + 1 < n; i++)
    entries[i].ifa.ifa_next = &entries[i + 1].ifa;
  tail = (struct block_tail *)((unsigned char *)entries + tail_at);
  tail->first = entries;
  remember(tail);
  *ret = &TAKE_PTR(entries)->ifa;
  return 0;
}

/* ------------------------------------------------------ if_nameindex */

static void free_nameindex(struct if_nameindex *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i].if_name);
  free(list);
}

int ifdump_nameindex(const struct ifdump *links, struct if_nameindex **ret) {
  struct walk w = {.d = links};
  const struct nlmsghdr *h;
  struct if_nameindex *list;
  size_t n = 0, i = 0;

  while ((h = walk_next(&w)))
    n += h->nlmsg_type == RTM_NEWLINK && payload(h, sizeof(struct ifinfomsg));
  list = calloc(n + 1, sizeof(*list));
  if (!list)
    return -ENOMEM;
  w.off = 0;
  while ((h = walk_next(&w))) {
    const struct ifinfomsg *ifi = payload(h, sizeof(*ifi));
    size_t len;

    if (h->nlmsg_type != RTM_NEWLINK || !ifi)
      continue;
    FOR_ATTR(rta, h, sizeof(*ifi), len) {
      if (rta->rta_type != IFLA_IFNAME)
        continue;
      list[i].if_name = strndup(RTA_DATA(rta), RTA_PAYLOAD(rta));
      if (!list[i].if_name) {
        free_nameindex(list, i);
        return -ENOMEM;
      }
      list[i++].if_index = (unsigned)ifi->ifi_index;
      break;
    }
  }
  *ret = list;
  return 0;
}
