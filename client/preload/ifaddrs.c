/* SPDX-License-Identifier: MIT */
/*
 * The interfaces of an unmodified program's network: getifaddrs,
 * freeifaddrs, if_nameindex, if_freenameindex, if_nametoindex and
 * if_indextoname answered for psockd's network namespace, the one every
 * socket the program gets from psockd lives in, so that `hostname -I`,
 * Python's socket.if_nameindex() and `ip addr` (netlink on a socket from
 * psockd) describe the same network.
 *
 * glibc answers these with sockets of its own, made by its internal
 * socket() that no preload reaches, in the program's namespace (an empty
 * one under psock-run). The shim asks psockd for a NETLINK_ROUTE socket
 * instead (policy `socket family=netlink proto=route`, in the default
 * policy) and makes glibc's requests on it itself: the RTM_GETLINK and
 * RTM_GETADDR dumps (ifdump.c builds glibc's lists from them) and the
 * SIOCGIFINDEX and SIOCGIFNAME ioctls, which the kernel answers for the
 * namespace of the socket they are made on.
 *
 * Where psockd refuses the socket or cannot be reached, libc's own
 * functions answer, for the program's own namespace, as the kernel would
 * have answered the program. freeifaddrs() frees a list of ours itself and
 * hands anything else to glibc's; if_nameindex() lists have glibc's layout
 * and glibc's if_freenameindex() frees both kinds.
 *
 * Errors are glibc's: -1 or NULL or 0 with errno (ENODEV from
 * if_nametoindex for an unknown or too long name, ENXIO from
 * if_indextoname for an unknown index, ENOBUFS from if_nameindex when out
 * of memory).
 */
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ifdump.h"
#include "psock/psock.h"
#include "shim.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* Interfaces that change while they are dumped make the dumps disagree:
 * glibc asks again until they agree; so do we, a bounded number of times. */
#define DUMP_TRIES 16

/*
 * A NETLINK_ROUTE socket of psockd's namespace (close-on-exec), or -1 if
 * psockd refused it, could not be reached, or the process is out of fds:
 * the caller then lets libc answer, for the program's own namespace.
 */
static int host_netlink(void) {
  psock_sock *s;
  int fd;

  shim_enter();
  s = psock_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  fd = s ? psock_detach(s) : -1;
  shim_hint(fd < 0, "socket family=netlink type=raw proto=route");
  shim_leave();
  return fd;
}

/* Sequence numbers for our dumps: any will do, distinct ones help. */
static uint32_t next_seq(void) {
  static atomic_uint counter;

  return (uint32_t)time(NULL) + atomic_fetch_add(&counter, 2);
}

/* Close fd, then set errno to err (a close must not change it). */
static void close_keep(int fd, int err) {
  close(fd);
  errno = err;
}

/* ------------------------------------------------------- getifaddrs */

/* One try: 0 with *ret, -EAGAIN if the interfaces changed meanwhile. */
static int dump_ifaddrs(int fd, struct ifaddrs **ret) {
  struct ifdump links = {0}, addrs = {0};
  uint32_t seq = next_seq();
  int r;

  r = ifdump_collect(fd, RTM_GETLINK, seq, &links);
  if (r == 0)
    r = ifdump_collect(fd, RTM_GETADDR, seq + 1, &addrs);
  if (r == 0)
    r = ifdump_ifaddrs(&links, &addrs, ret);
  ifdump_release(&links);
  ifdump_release(&addrs);
  return r;
}

SHIM_EXPORT int getifaddrs(struct ifaddrs **ifap) {
  const struct shim_real *real = shim_real();
  int fd, r = -EAGAIN;

  if (shim_busy())
    return real->getifaddrs(ifap);
  *ifap = NULL;
  fd = host_netlink();
  if (fd < 0)
    return real->getifaddrs(ifap);
  for (int i = 0; i < DUMP_TRIES && r == -EAGAIN; i++)
    r = dump_ifaddrs(fd, ifap);
  close_keep(fd, r < 0 ? -r : errno);
  return r < 0 ? -1 : 0;
}

SHIM_EXPORT void freeifaddrs(struct ifaddrs *ifa) {
  if (!ifdump_freeifaddrs(ifa))
    shim_real()->freeifaddrs(ifa);
}

/* ----------------------------------------------------- if_nameindex */

SHIM_EXPORT struct if_nameindex *if_nameindex(void) {
  const struct shim_real *real = shim_real();
  struct if_nameindex *list = NULL;
  struct ifdump links = {0};
  int fd, r;

  if (shim_busy())
    return real->if_nameindex();
  fd = host_netlink();
  if (fd < 0)
    return real->if_nameindex();
  r = ifdump_collect(fd, RTM_GETLINK, next_seq(), &links);
  if (r == 0)
    r = ifdump_nameindex(&links, &list);
  ifdump_release(&links);
  close_keep(fd, r == 0 ? errno : r == -ENOMEM ? ENOBUFS : -r);
  return r < 0 ? NULL : list;
}

/* Our lists have glibc's layout (an array, each name allocated apart). */
SHIM_EXPORT void if_freenameindex(struct if_nameindex *list) {
  shim_real()->if_freenameindex(list);
}

/* ----------------------------------------------- names and indexes */

/* ioctl(cmd) on a socket of psockd's namespace: 0, -errno, or 1 if there
 * is none (libc is to answer). */
static int host_ioctl(unsigned long cmd, struct ifreq *ifr) {
  int fd = host_netlink(), r;

  if (fd < 0)
    return 1;
  r = ioctl(fd, cmd, ifr) < 0 ? -errno : 0;
  close(fd);
  return r;
}

SHIM_EXPORT unsigned if_nametoindex(const char *ifname) {
  const struct shim_real *real = shim_real();
  struct ifreq ifr;
  int r;

  if (shim_busy())
    return real->if_nametoindex(ifname);
  /* glibc's own check, before any socket. */
  if (strlen(ifname) >= IFNAMSIZ) {
    errno = ENODEV;
    return 0;
  }
  memset(&ifr, 0, sizeof(ifr));
  strncpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name) - 1);
  r = host_ioctl(SIOCGIFINDEX, &ifr);
  if (r == 1)
    return real->if_nametoindex(ifname);
  if (r < 0) {
    errno = r == -EINVAL ? ENOSYS : -r;
    return 0;
  }
  return (unsigned)ifr.ifr_ifindex;
}

SHIM_EXPORT char *if_indextoname(unsigned ifindex, char ifname[IF_NAMESIZE]) {
  const struct shim_real *real = shim_real();
  struct ifreq ifr;
  int r;

  if (shim_busy())
    return real->if_indextoname(ifindex, ifname);
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_ifindex = (int)ifindex;
  r = host_ioctl(SIOCGIFNAME, &ifr);
  if (r == 1)
    return real->if_indextoname(ifindex, ifname);
  if (r < 0) {
    /* POSIX wants ENXIO for an index no interface has. */
    errno = r == -ENODEV ? ENXIO : -r;
    return NULL;
  }
  return strncpy(ifname, ifr.ifr_name, IFNAMSIZ);
}
