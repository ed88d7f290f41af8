/* SPDX-License-Identifier: MIT */
/*
 * sockopts_ip: the IPPROTO_IP and IPPROTO_IPV6 parts of the option table
 * (with the raw-socket ICMP filters). Rules read from do_ip_setsockopt()
 * in net/ipv4/ip_sockglue.c and do_ipv6_setsockopt() in
 * net/ipv6/ipv6_sockglue.c, net/ipv4/raw.c, net/ipv6/raw.c.
 *
 * Trust boundary: none; constant data.
 */
#include "sockopts_table.h"

/* glibc's first: the uapi headers then leave its definitions alone. */
#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/icmp.h>
#include <linux/icmpv6.h>

/* In <linux/in.h> (which does not mix with <netinet/in.h>) but not yet in
 * glibc's; IPPROTO_IP numbers are the same on every architecture. */
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#ifndef IP_PROTOCOL
#define IP_PROTOCOL 52
#endif

/* Netfilter's numbers (<linux/netfilter_ipv{4,6}/ip{,6}_tables.h>, which
 * do not mix with glibc's headers). Only ever refused. */
#define NF_IPT_BASE_CTL 64
#define NF_SO_ORIGINAL_DST 80

/* The sticky IPv6 extension headers: 8-byte units, at most 2048 bytes. */
#define IPV6_EXTHDR_MAX 2048
/* xfrm_user_policy() refuses a policy longer than a page. */
#define XFRM_POLICY_MAX 4096

#define DGRAM .flags = SOCKOPT_F_DGRAM

const struct sockopt sockopts_ip[] = {
    /* IPv4: needs a capability. */
    {OPT(IPPROTO_IP, IP_TRANSPARENT), V_INT_OR_BYTE,
     FREE_RANGE(0, 0, RAW_OR_ADMIN, EPERM), K(2, 6, 28),
     .why = "0 free; other values need CAP_NET_RAW or CAP_NET_ADMIN"},
    {OPT(IPPROTO_IP, IP_IPSEC_POLICY),
     V_BYTES("IPsec policy", 1, XFRM_POLICY_MAX, 0), PRIV(ADMIN, EPERM),
     K(2, 6, 12), .why = "CAP_NET_ADMIN: a per-socket IPsec policy"},
    {OPT(IPPROTO_IP, IP_XFRM_POLICY),
     V_BYTES("struct xfrm_userpolicy_info", 1, XFRM_POLICY_MAX, 0),
     PRIV(ADMIN, EPERM), K(2, 6, 12),
     .why = "CAP_NET_ADMIN: a per-socket IPsec policy"},

    /* IPv4: free. */
    {OPT(IPPROTO_IP, IP_TOS), V_INT_OR_BYTE, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_TTL), V_INT_OR_BYTE, K(2, 6, 12),
     .why = "1..255, or -1 for the default"},
    {OPT(IPPROTO_IP, IP_OPTIONS), V_BYTES("unsigned char[]", 0, 40, 40),
     K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_RECVOPTS), V_INT_OR_BYTE, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_RETOPTS), V_INT_OR_BYTE, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_PKTINFO), V_INT_OR_BYTE, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_MTU_DISCOVER), V_INT_OR_BYTE, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_RECVERR), V_INT_OR_BYTE, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_RECVTTL), V_INT_OR_BYTE, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_RECVTOS), V_INT_OR_BYTE, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_FREEBIND), V_INT_OR_BYTE, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_PASSSEC), V_INT_OR_BYTE, K(2, 6, 17)},
    {OPT(IPPROTO_IP, IP_RECVORIGDSTADDR), V_INT_OR_BYTE, K(2, 6, 29)},
    {OPT(IPPROTO_IP, IP_MINTTL), V_INT_OR_BYTE, K(2, 6, 34)},
    {OPT(IPPROTO_IP, IP_CHECKSUM), V_INT_OR_BYTE, K(4, 0, 0)},
    {OPT(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT), V_INT_OR_BYTE, K(4, 2, 0)},
    {OPT(IPPROTO_IP, IP_RECVFRAGSIZE), V_INT_OR_BYTE, DGRAM, K(4, 14, 0),
     .why = "datagram and raw sockets only"},
    {OPT(IPPROTO_IP, IP_RECVERR_RFC4884), V_INT_OR_BYTE, K(5, 9, 0)},
    {OPT(IPPROTO_IP, IP_UNICAST_IF), V_INT, K(3, 4, 0),
     .why = "an ifindex in network byte order"},
    {OPT(IPPROTO_IP, IP_LOCAL_PORT_RANGE),
     SHAPE(SOCKOPT_INT, "uint32_t", 4, 4, 4), K(6, 3, 0),
     .why = "low 16 bits: lowest port; high 16 bits: highest (Debian's 6.1 "
            "has it too)"},
    {OPT(IPPROTO_IP, IP_MTU), V_INT_RO, .flags = SOCKOPT_F_CONNECTED,
     K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_PROTOCOL), V_INT_RO,
     .why = "upstream since 2023 (release not checked); Debian's 6.1 has it"},
    {OPT(IPPROTO_IP, IP_MULTICAST_TTL), V_INT_OR_BYTE, DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_MULTICAST_LOOP), V_INT_OR_BYTE, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_MULTICAST_ALL), V_INT_OR_BYTE, K(2, 6, 31)},
    {OPT(IPPROTO_IP, IP_MULTICAST_IF),
     V_BYTES("struct in_addr, ip_mreq or ip_mreqn", sizeof(struct in_addr),
             sizeof(struct ip_mreqn), sizeof(struct in_addr)),
     DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_ADD_MEMBERSHIP),
     V_BYTES("struct ip_mreq or ip_mreqn", sizeof(struct ip_mreq),
             sizeof(struct ip_mreqn), 0),
     DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_DROP_MEMBERSHIP),
     V_BYTES("struct ip_mreq or ip_mreqn", sizeof(struct ip_mreq),
             sizeof(struct ip_mreqn), 0),
     DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP),
     V_STRUCT_WO(struct ip_mreq_source), DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP),
     V_STRUCT_WO(struct ip_mreq_source), DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_BLOCK_SOURCE), V_STRUCT_WO(struct ip_mreq_source),
     DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, IP_UNBLOCK_SOURCE), V_STRUCT_WO(struct ip_mreq_source),
     DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, MCAST_JOIN_GROUP), V_STRUCT_WO(struct group_req), DGRAM,
     K(2, 6, 12)},
    {OPT(IPPROTO_IP, MCAST_LEAVE_GROUP), V_STRUCT_WO(struct group_req), DGRAM,
     K(2, 6, 12)},
    {OPT(IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP),
     V_STRUCT_WO(struct group_source_req), DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, MCAST_LEAVE_SOURCE_GROUP),
     V_STRUCT_WO(struct group_source_req), DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, MCAST_BLOCK_SOURCE), V_STRUCT_WO(struct group_source_req),
     DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IP, MCAST_UNBLOCK_SOURCE),
     V_STRUCT_WO(struct group_source_req), DGRAM, K(2, 6, 12)},

    /* IPv4: raw sockets only (creating one needs CAP_NET_RAW; the option
     * itself asks for nothing). */
    {OPT(IPPROTO_IP, IP_HDRINCL), V_INT_OR_BYTE, .flags = SOCKOPT_F_RAW,
     K(2, 6, 12), .why = "raw sockets only (ENOPROTOOPT elsewhere)"},
    {OPT(IPPROTO_IP, IP_NODEFRAG), V_INT_OR_BYTE, .flags = SOCKOPT_F_RAW,
     K(2, 6, 36), .why = "raw sockets only (ENOPROTOOPT elsewhere)"},
    {OPT(SOL_RAW, ICMP_FILTER), V_STRUCT(struct icmp_filter),
     .flags = SOCKOPT_F_RAW, K(2, 6, 12),
     .why = "raw IPPROTO_ICMP sockets only"},

    /* IPv4: never through psockd. */
    {OPT(IPPROTO_IP, IP_MSFILTER), V_NEVER("struct ip_msfilter"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "getsockopt reads the group from the buffer"},
    {OPT(IPPROTO_IP, MCAST_MSFILTER), V_NEVER("struct group_filter"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "getsockopt reads the group from the buffer"},
    {NAMED("IPT_SO_SET_REPLACE", IPPROTO_IP, NF_IPT_BASE_CTL),
     V_NEVER("struct ipt_replace"), .flags = SOCKOPT_F_NEVER,
     .why = "netfilter: holds a pointer; as getsockopt IPT_SO_GET_INFO "
            "reads the table name from the buffer"},
    {NAMED("IPT_SO_SET_ADD_COUNTERS", IPPROTO_IP, NF_IPT_BASE_CTL + 1),
     V_NEVER("struct xt_counters_info"), .flags = SOCKOPT_F_NEVER,
     .why = "netfilter; as getsockopt IPT_SO_GET_ENTRIES reads input"},
    {NAMED("IPT_SO_GET_REVISION_MATCH", IPPROTO_IP, NF_IPT_BASE_CTL + 2),
     V_NEVER("struct xt_get_revision"), .flags = SOCKOPT_F_NEVER,
     .why = "netfilter: reads input, may load a module"},
    {NAMED("IPT_SO_GET_REVISION_TARGET", IPPROTO_IP, NF_IPT_BASE_CTL + 3),
     V_NEVER("struct xt_get_revision"), .flags = SOCKOPT_F_NEVER,
     .why = "netfilter: reads input, may load a module"},
    {NAMED("SO_ORIGINAL_DST", IPPROTO_IP, NF_SO_ORIGINAL_DST),
     V_NEVER("struct sockaddr_in"), .flags = SOCKOPT_F_NEVER,
     .why = "netfilter (conntrack); the client reads it on its own fd"},

    /* IPv6: needs a capability. */
    {OPT(IPPROTO_IPV6, IPV6_TRANSPARENT), V_INT,
     FREE_RANGE(0, 0, RAW_OR_ADMIN, EPERM), K(2, 6, 37),
     .why = "0 free; other values need CAP_NET_RAW or CAP_NET_ADMIN"},
    {OPT(IPPROTO_IPV6, IPV6_HOPOPTS),
     V_BYTES("struct ip6_hbh", 0, IPV6_EXTHDR_MAX, IPV6_EXTHDR_MAX),
     PRIV(RAW, EPERM), K(2, 6, 14),
     .why = "CAP_NET_RAW for every value, clearing included"},
    {OPT(IPPROTO_IPV6, IPV6_DSTOPTS),
     V_BYTES("struct ip6_dest", 0, IPV6_EXTHDR_MAX, IPV6_EXTHDR_MAX),
     PRIV(RAW, EPERM), K(2, 6, 14),
     .why = "CAP_NET_RAW for every value, clearing included"},
    {OPT(IPPROTO_IPV6, IPV6_RTHDRDSTOPTS),
     V_BYTES("struct ip6_dest", 0, IPV6_EXTHDR_MAX, IPV6_EXTHDR_MAX),
     PRIV(RAW, EPERM), K(2, 6, 14),
     .why = "CAP_NET_RAW for every value, clearing included"},
    {OPT(IPPROTO_IPV6, IPV6_JOIN_ANYCAST), V_STRUCT_WO(struct ipv6_mreq),
     PRIV(ADMIN, EPERM), K(2, 6, 12),
     .why = "CAP_NET_ADMIN for every address (net/ipv6/anycast.c)"},
    {OPT(IPPROTO_IPV6, IPV6_IPSEC_POLICY),
     V_BYTES("IPsec policy", 1, XFRM_POLICY_MAX, 0), PRIV(ADMIN, EPERM),
     K(2, 6, 12), .why = "CAP_NET_ADMIN: a per-socket IPsec policy"},
    {OPT(IPPROTO_IPV6, IPV6_XFRM_POLICY),
     V_BYTES("struct xfrm_userpolicy_info", 1, XFRM_POLICY_MAX, 0),
     PRIV(ADMIN, EPERM), K(2, 6, 12),
     .why = "CAP_NET_ADMIN: a per-socket IPsec policy"},

    /* IPv6: free. */
    {OPT(IPPROTO_IPV6, IPV6_V6ONLY), V_INT, K(2, 6, 12),
     .why = "not on a bound socket (EINVAL)"},
    {OPT(IPPROTO_IPV6, IPV6_UNICAST_HOPS), V_INT, K(2, 6, 12),
     .why = "0..255, or -1 for the default"},
    {OPT(IPPROTO_IPV6, IPV6_MTU), V_INT, .flags = SOCKOPT_F_CONNECTED,
     K(2, 6, 12), .why = "getsockopt: connected sockets only"},
    {OPT(IPPROTO_IPV6, IPV6_MTU_DISCOVER), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_IPV6, IPV6_RECVERR), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_IPV6, IPV6_RECVPKTINFO), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_2292PKTINFO), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_RECVHOPLIMIT), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_2292HOPLIMIT), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_RECVRTHDR), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_2292RTHDR), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_RECVHOPOPTS), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_2292HOPOPTS), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_RECVDSTOPTS), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_2292DSTOPTS), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_TCLASS), V_INT, K(2, 6, 14),
     .why = "0..255, or -1 for the default"},
    {OPT(IPPROTO_IPV6, IPV6_RECVTCLASS), V_INT, K(2, 6, 14)},
    {OPT(IPPROTO_IPV6, IPV6_FLOWINFO), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_IPV6, IPV6_FLOWINFO_SEND), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_IPV6, IPV6_RECVPATHMTU), V_INT, K(2, 6, 35)},
    {OPT(IPPROTO_IPV6, IPV6_PATHMTU),
     V_STRUCT_RO(struct ip6_mtuinfo, sizeof(struct ip6_mtuinfo)),
     .flags = SOCKOPT_F_CONNECTED, K(2, 6, 35)},
    {OPT(IPPROTO_IPV6, IPV6_DONTFRAG), V_INT, K(2, 6, 35)},
    {OPT(IPPROTO_IPV6, IPV6_ADDR_PREFERENCES), V_INT, K(2, 6, 26)},
    {OPT(IPPROTO_IPV6, IPV6_MINHOPCOUNT), V_INT, K(2, 6, 35)},
    {OPT(IPPROTO_IPV6, IPV6_RECVORIGDSTADDR), V_INT, K(2, 6, 29)},
    {OPT(IPPROTO_IPV6, IPV6_AUTOFLOWLABEL), V_INT, K(3, 19, 0)},
    {OPT(IPPROTO_IPV6, IPV6_FREEBIND), V_INT, K(4, 15, 0)},
    {OPT(IPPROTO_IPV6, IPV6_RECVFRAGSIZE), V_INT, K(4, 14, 0)},
    {OPT(IPPROTO_IPV6, IPV6_MULTICAST_ALL), V_INT, K(4, 20, 0)},
    {OPT(IPPROTO_IPV6, IPV6_RECVERR_RFC4884), V_INT, K(5, 9, 0)},
    {OPT(IPPROTO_IPV6, IPV6_UNICAST_IF), V_INT, K(3, 4, 0),
     .why = "an ifindex in network byte order"},
    {OPT(IPPROTO_IPV6, IPV6_PKTINFO), V_STRUCT_WO(struct in6_pktinfo),
     K(2, 6, 14), .why = "sticky source address and interface"},
    {OPT(IPPROTO_IPV6, IPV6_RTHDR),
     V_BYTES("struct ip6_rthdr", 0, IPV6_EXTHDR_MAX, IPV6_EXTHDR_MAX),
     K(2, 6, 14), .why = "free, unlike the other extension headers"},
    {OPT(IPPROTO_IPV6, IPV6_MULTICAST_HOPS), V_INT, DGRAM, K(2, 6, 12)},
    {OPT(IPPROTO_IPV6, IPV6_MULTICAST_LOOP), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_IPV6, IPV6_MULTICAST_IF), V_INT, DGRAM, K(2, 6, 12),
     .why = "an ifindex"},
    {OPT(IPPROTO_IPV6, IPV6_JOIN_GROUP), V_STRUCT_WO(struct ipv6_mreq), DGRAM,
     K(2, 6, 12)},
    {OPT(IPPROTO_IPV6, IPV6_LEAVE_GROUP), V_STRUCT_WO(struct ipv6_mreq), DGRAM,
     K(2, 6, 12)},
    {OPT(IPPROTO_IPV6, IPV6_LEAVE_ANYCAST), V_STRUCT_WO(struct ipv6_mreq),
     K(2, 6, 12),
     .why = "free: leaving needs no capability (ENOENT if not "
            "joined)"},
    {NAMED("IPV6/MCAST_JOIN_GROUP", IPPROTO_IPV6, MCAST_JOIN_GROUP),
     V_STRUCT_WO(struct group_req), DGRAM, K(2, 6, 12)},
    {NAMED("IPV6/MCAST_LEAVE_GROUP", IPPROTO_IPV6, MCAST_LEAVE_GROUP),
     V_STRUCT_WO(struct group_req), DGRAM, K(2, 6, 12)},
    {NAMED("IPV6/MCAST_JOIN_SOURCE_GROUP", IPPROTO_IPV6,
           MCAST_JOIN_SOURCE_GROUP),
     V_STRUCT_WO(struct group_source_req), DGRAM, K(2, 6, 12)},
    {NAMED("IPV6/MCAST_LEAVE_SOURCE_GROUP", IPPROTO_IPV6,
           MCAST_LEAVE_SOURCE_GROUP),
     V_STRUCT_WO(struct group_source_req), DGRAM, K(2, 6, 12)},
    {NAMED("IPV6/MCAST_BLOCK_SOURCE", IPPROTO_IPV6, MCAST_BLOCK_SOURCE),
     V_STRUCT_WO(struct group_source_req), DGRAM, K(2, 6, 12)},
    {NAMED("IPV6/MCAST_UNBLOCK_SOURCE", IPPROTO_IPV6, MCAST_UNBLOCK_SOURCE),
     V_STRUCT_WO(struct group_source_req), DGRAM, K(2, 6, 12)},

    /* IPv6: raw sockets only. */
    {OPT(IPPROTO_IPV6, IPV6_HDRINCL), V_INT, .flags = SOCKOPT_F_RAW, K(4, 5, 0),
     .why = "raw sockets only (ENOPROTOOPT elsewhere)"},
    {OPT(IPPROTO_IPV6, IPV6_CHECKSUM), V_INT, .flags = SOCKOPT_F_RAW,
     K(2, 6, 12), .why = "raw sockets other than ICMPv6 only"},
    {OPT(IPPROTO_ICMPV6, ICMPV6_FILTER), V_STRUCT(struct icmp6_filter),
     .flags = SOCKOPT_F_RAW, K(2, 6, 12),
     .why = "raw IPPROTO_ICMPV6 sockets only"},

    /* IPv6: never through psockd. */
    {OPT(IPPROTO_IPV6, IPV6_FLOWLABEL_MGR), V_NEVER("struct in6_flowlabel_req"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "getsockopt reads the label from the buffer; lease limits by "
            "CAP_NET_ADMIN answer ENOBUFS"},
    {NAMED("IPV6/MCAST_MSFILTER", IPPROTO_IPV6, MCAST_MSFILTER),
     V_NEVER("struct group_filter"), .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "getsockopt reads the group from the buffer"},
    {NAMED("IP6T_SO_SET_REPLACE", IPPROTO_IPV6, NF_IPT_BASE_CTL),
     V_NEVER("struct ip6t_replace"), .flags = SOCKOPT_F_NEVER,
     .why = "netfilter: holds a pointer; as getsockopt IP6T_SO_GET_INFO "
            "reads the table name from the buffer"},
    {NAMED("IP6T_SO_SET_ADD_COUNTERS", IPPROTO_IPV6, NF_IPT_BASE_CTL + 1),
     V_NEVER("struct xt_counters_info"), .flags = SOCKOPT_F_NEVER,
     .why = "netfilter; as getsockopt IP6T_SO_GET_ENTRIES reads input"},
    {NAMED("IP6T_SO_GET_REVISION_MATCH", IPPROTO_IPV6, NF_IPT_BASE_CTL + 4),
     V_NEVER("struct xt_get_revision"), .flags = SOCKOPT_F_NEVER,
     .why = "netfilter: reads input, may load a module"},
    {NAMED("IP6T_SO_GET_REVISION_TARGET", IPPROTO_IPV6, NF_IPT_BASE_CTL + 5),
     V_NEVER("struct xt_get_revision"), .flags = SOCKOPT_F_NEVER,
     .why = "netfilter: reads input, may load a module"},
    {NAMED("IP6T_SO_ORIGINAL_DST", IPPROTO_IPV6, NF_SO_ORIGINAL_DST),
     V_NEVER("struct sockaddr_in6"), .flags = SOCKOPT_F_NEVER,
     .why = "netfilter (conntrack); the client reads it on its own fd"},
};

const size_t sockopts_ip_count = sizeof(sockopts_ip) / sizeof(sockopts_ip[0]);
