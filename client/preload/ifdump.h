/* SPDX-License-Identifier: MIT */
/*
 * ifdump: the interfaces of a network namespace from NETLINK_ROUTE dumps
 * (RTM_GETLINK, RTM_GETADDR), laid out as glibc's getifaddrs() and
 * if_nameindex() lay them out. The shim's ifaddrs.c asks psockd for the
 * netlink socket; this module only talks to the kernel on the socket it is
 * given (ifdump_collect()) and parses what came back, so the unit tests
 * feed it canned dumps as well as live ones.
 *
 * Trust boundary: the bytes parsed come from the kernel, but every length
 * is checked as if they did not (a canned or truncated dump cannot make it
 * read or write out of bounds).
 */
#pragma once

#include <ifaddrs.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One dump as received: the datagrams of every recvmsg(), back to back,
 * each padded to the netlink alignment. Messages whose port id or
 * sequence number are not these are someone else's and skipped. */
struct ifdump {
  unsigned char *buf;
  size_t len;
  uint32_t portid;
  uint32_t seq;
};

/*
 * Send a dump request of type (RTM_GETLINK, RTM_GETADDR; family
 * AF_UNSPEC, as glibc asks) with sequence number seq on fd, a
 * NETLINK_ROUTE socket, and receive the answer up to NLMSG_DONE.
 * 0 with *ret filled (release with ifdump_release()), or -errno: the
 * kernel's error in an NLMSG_ERROR answer, a system call's, -EMSGSIZE for
 * a truncated datagram, -ENOMEM. *ret is untouched on failure.
 */
int ifdump_collect(int fd, uint16_t type, uint32_t seq, struct ifdump *ret);
void ifdump_release(struct ifdump *d);

/*
 * getifaddrs() from a link dump and an address dump: one entry per link
 * (AF_PACKET address and broadcast, flags, IFLA_STATS in ifa_data), then
 * one per address (local, netmask from the prefix length, broadcast or
 * peer address, the link's flags, IFA_LABEL or the link's name), in the
 * kernel's order, as glibc builds them. 0 with *ret (NULL if there is
 * nothing; free with ifdump_freeifaddrs()), -EAGAIN if the interfaces
 * changed between or during the dumps (ask again), -ENOMEM.
 */
int ifdump_ifaddrs(const struct ifdump *links, const struct ifdump *addrs,
                   struct ifaddrs **ret);

/*
 * Free a list from ifdump_ifaddrs() and return true; return false, and
 * touch nothing, for any other pointer (glibc's own getifaddrs() result:
 * the caller hands it to glibc's freeifaddrs()). NULL is not ours.
 */
bool ifdump_freeifaddrs(struct ifaddrs *ifa);

/*
 * if_nameindex() from a link dump: an array ended by {0, NULL}, the names
 * allocated one by one, as glibc's if_freenameindex() frees them. 0 with
 * *ret, or -ENOMEM.
 */
int ifdump_nameindex(const struct ifdump *links, struct if_nameindex **ret);
