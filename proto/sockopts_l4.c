/* SPDX-License-Identifier: MIT */
/*
 * sockopts_l4: the transport parts of the option table: IPPROTO_TCP
 * (do_tcp_setsockopt() in net/ipv4/tcp.c, tcp_cong.c, tcp_ulp.c),
 * IPPROTO_UDP and IPPROTO_UDPLITE (net/ipv4/udp.c), IPPROTO_SCTP
 * (net/sctp/socket.c), SOL_MPTCP (net/mptcp/sockopt.c), SOL_NETLINK
 * (net/netlink/af_netlink.c) and SOL_PACKET.
 *
 * Trust boundary: none; constant data.
 */
#include "sockopts_table.h"

/* glibc's first: <linux/sctp.h> needs them. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <linux/if_packet.h>
#include <linux/mptcp.h>
#include <linux/netlink.h>
#include <linux/sctp.h>

/* Numbers newer than the build's headers or outside uapi; these levels
 * number their options the same on every architecture. */
#ifndef TCP_AO_GET_KEYS
#define TCP_AO_GET_KEYS 41
#endif
#ifndef TCP_AO_REPAIR
#define TCP_AO_REPAIR 42
#endif
#ifndef MPTCP_FULL_INFO
#define MPTCP_FULL_INFO 4
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef UDPLITE_SEND_CSCOV /* include/net/udplite.h */
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11
#endif

#define TCP_CA_NAME_MAX 16    /* include/net/tcp.h */
#define TCP_AO_REPAIR_SIZE 16 /* struct tcp_ao_repair: four __u32 */
#define TCP_FASTOPEN_KEY_LEN 16
/* The kernel's struct tcp_info grows (glibc's copy is older): read up to
 * this much; the kernel answers at most its own size. */
#define TCP_INFO_MAX 512
#define TCP_CC_INFO_MAX 64
#define TCP_SAVED_SYN_MAX 512
#define MPTCP_INFO_MAX 256

#define REPAIR .flags = SOCKOPT_F_REPAIR
#define BROADCAST SOCKOPT_CAP(CAP_NET_BROADCAST)
#define NETLINK_GROUPS_MAX 128 /* bytes of NETLINK_LIST_MEMBERSHIPS read */

const struct sockopt sockopts_l4[] = {
    /* TCP: needs a capability. */
    {OPT(IPPROTO_TCP, TCP_REPAIR), V_INT, PRIV(ADMIN, EPERM), K(3, 5, 0),
     .why = "CAP_NET_ADMIN for every value; never on a listening socket"},
    {OPT(IPPROTO_TCP, TCP_AO_REPAIR),
     V_BYTES("struct tcp_ao_repair", TCP_AO_REPAIR_SIZE, TCP_AO_REPAIR_SIZE, 0),
     PRIV(ADMIN, EPERM), REPAIR, K(6, 7, 0),
     .why = "CAP_NET_ADMIN, and then repair mode (EPERM again without)"},
    {OPT(IPPROTO_TCP, TCP_CONGESTION),
     V_STRING(1, TCP_CA_NAME_MAX, TCP_CA_NAME_MAX), BY_NAME(ADMIN, EPERM),
     .flags = SOCKOPT_F_MODULE, K(2, 6, 19),
     .why = "algorithms in net.ipv4.tcp_allowed_congestion_control free; "
            "others need CAP_NET_ADMIN (ENOENT if unknown)"},

    /* TCP: free. */
    {OPT(IPPROTO_TCP, TCP_NODELAY), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_TCP, TCP_MAXSEG), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_TCP, TCP_CORK), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_TCP, TCP_KEEPIDLE), V_INT, K(2, 6, 12),
     .why = "1..32767 seconds"},
    {OPT(IPPROTO_TCP, TCP_KEEPINTVL), V_INT, K(2, 6, 12),
     .why = "1..32767 seconds"},
    {OPT(IPPROTO_TCP, TCP_KEEPCNT), V_INT, K(2, 6, 12), .why = "1..127"},
    {OPT(IPPROTO_TCP, TCP_SYNCNT), V_INT, K(2, 6, 12), .why = "1..127"},
    {OPT(IPPROTO_TCP, TCP_LINGER2), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_TCP, TCP_DEFER_ACCEPT), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_TCP, TCP_WINDOW_CLAMP), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_TCP, TCP_QUICKACK), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS), V_INT, K(2, 6, 34)},
    {OPT(IPPROTO_TCP, TCP_THIN_DUPACK), V_INT, K(2, 6, 34)},
    {OPT(IPPROTO_TCP, TCP_USER_TIMEOUT), V_INT, K(2, 6, 37)},
    {OPT(IPPROTO_TCP, TCP_FASTOPEN), V_INT, K(3, 7, 0)},
    {OPT(IPPROTO_TCP, TCP_NOTSENT_LOWAT), V_INT, K(3, 12, 0)},
    {OPT(IPPROTO_TCP, TCP_SAVE_SYN), V_INT, K(4, 2, 0)},
    {OPT(IPPROTO_TCP, TCP_FASTOPEN_CONNECT), V_INT, K(4, 11, 0)},
    {OPT(IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE), V_INT, K(4, 19, 0)},
    {OPT(IPPROTO_TCP, TCP_INQ), V_INT, K(4, 18, 0)},
    {OPT(IPPROTO_TCP, TCP_TX_DELAY), V_INT, K(5, 4, 0)},
    {OPT(IPPROTO_TCP, TCP_FASTOPEN_KEY),
     V_BYTES("uint8_t[16] or [32]", TCP_FASTOPEN_KEY_LEN,
             2 * TCP_FASTOPEN_KEY_LEN, 2 * TCP_FASTOPEN_KEY_LEN),
     K(4, 20, 0), .why = "this listener's key, or key and backup key"},
    {OPT(IPPROTO_TCP, TCP_MD5SIG), V_STRUCT_WO(struct tcp_md5sig), K(2, 6, 20),
     .why = "a key for one peer address"},
    {OPT(IPPROTO_TCP, TCP_MD5SIG_EXT), V_STRUCT_WO(struct tcp_md5sig),
     K(4, 13, 0), .why = "a key for a peer prefix or interface"},
    {OPT(IPPROTO_TCP, TCP_TIMESTAMP), V_INT, REPAIR, K(3, 9, 0),
     .why = "set only in repair mode (EPERM otherwise); read freely"},

    /* TCP: repair mode, which TCP_REPAIR needs CAP_NET_ADMIN to enter. The
     * options themselves check no capability: outside repair mode they
     * answer EPERM (escalating would not help). */
    {OPT(IPPROTO_TCP, TCP_REPAIR_QUEUE), V_INT, REPAIR, K(3, 5, 0),
     .why = "repair mode only"},
    {OPT(IPPROTO_TCP, TCP_QUEUE_SEQ), V_INT, REPAIR, K(3, 5, 0),
     .why = "repair mode only, on a closed socket"},
    {OPT(IPPROTO_TCP, TCP_REPAIR_OPTIONS),
     V_BYTES("struct tcp_repair_opt[]", sizeof(struct tcp_repair_opt),
             8 * sizeof(struct tcp_repair_opt), 0),
     REPAIR, K(3, 5, 0), .why = "repair mode only, on an established socket"},
    {OPT(IPPROTO_TCP, TCP_REPAIR_WINDOW), V_STRUCT(struct tcp_repair_window),
     REPAIR, K(4, 8, 0), .why = "repair mode only"},

    /* TCP: read only. */
    {OPT(IPPROTO_TCP, TCP_INFO), V_STRUCT_RO(struct tcp_info, TCP_INFO_MAX),
     K(2, 6, 12)},
    {OPT(IPPROTO_TCP, TCP_CC_INFO),
     V_STRUCT_RO(union tcp_cc_info, TCP_CC_INFO_MAX), K(4, 1, 0)},
    {OPT(IPPROTO_TCP, TCP_SAVED_SYN), V_STRUCT_RO(uint8_t[], TCP_SAVED_SYN_MAX),
     K(4, 2, 0), .why = "reading frees the saved SYN"},

    /* TCP: never through psockd. */
    {OPT(IPPROTO_TCP, TCP_ULP), V_NEVER("char[] (a ULP name)"),
     .flags = SOCKOPT_F_NEVER | SOCKOPT_F_MODULE, K(4, 13, 0),
     .why = "with CAP_NET_ADMIN loads module tcp-ulp-NAME; a ULP (tls) "
            "then takes key material on its own level"},
    {OPT(IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE),
     V_NEVER("struct tcp_zerocopy_receive"), .flags = SOCKOPT_F_NEVER,
     K(4, 18, 0),
     .why = "getsockopt maps pages at an address taken from the buffer"},
    {OPT(IPPROTO_TCP, TCP_AO_GET_KEYS), V_NEVER("struct tcp_ao_getsockopt"),
     .flags = SOCKOPT_F_NEVER, K(6, 7, 0),
     .why = "getsockopt reads its query from the buffer"},

    /* UDP and UDP-Lite: free. */
    {OPT(IPPROTO_UDP, UDP_CORK), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_UDP, UDP_NO_CHECK6_TX), V_INT, K(3, 16, 0)},
    {OPT(IPPROTO_UDP, UDP_NO_CHECK6_RX), V_INT, K(3, 16, 0)},
    {OPT(IPPROTO_UDP, UDP_SEGMENT), V_INT, K(4, 18, 0),
     .why = "GSO segment size, 0..65535"},
    {OPT(IPPROTO_UDP, UDP_GRO), V_INT, K(5, 0, 0)},
    {OPT(IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV), V_INT, K(2, 6, 20)},
    {OPT(IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV), V_INT, K(2, 6, 20)},

    /* SCTP: free (options whose getsockopt reads an association id from
     * the buffer are left out). */
    {OPT(IPPROTO_SCTP, SCTP_INITMSG), V_STRUCT(struct sctp_initmsg),
     K(2, 6, 12)},
    {OPT(IPPROTO_SCTP, SCTP_NODELAY), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_SCTP, SCTP_AUTOCLOSE), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_SCTP, SCTP_DISABLE_FRAGMENTS), V_INT, K(2, 6, 12)},
    {OPT(IPPROTO_SCTP, SCTP_RECVRCVINFO), V_INT, K(3, 17, 0)},
    {OPT(IPPROTO_SCTP, SCTP_RECVNXTINFO), V_INT, K(3, 17, 0)},

    /* SCTP: never through psockd. */
    {OPT(IPPROTO_SCTP, SCTP_SOCKOPT_BINDX_ADD), V_NEVER("struct sockaddr[]"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "binds addresses: the policy decides binds"},
    {OPT(IPPROTO_SCTP, SCTP_SOCKOPT_BINDX_REM), V_NEVER("struct sockaddr[]"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "binds addresses: the policy decides binds"},
    {OPT(IPPROTO_SCTP, SCTP_SOCKOPT_CONNECTX_OLD), V_NEVER("struct sockaddr[]"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "connects: the policy decides connects"},
    {OPT(IPPROTO_SCTP, SCTP_SOCKOPT_CONNECTX), V_NEVER("struct sockaddr[]"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "connects: the policy decides connects"},
    {OPT(IPPROTO_SCTP, SCTP_SOCKOPT_CONNECTX3),
     V_NEVER("struct sctp_getaddrs_old"), .flags = SOCKOPT_F_NEVER, K(2, 6, 26),
     .why = "a getsockopt that connects and reads input"},
    {OPT(IPPROTO_SCTP, SCTP_SOCKOPT_PEELOFF), V_NEVER("sctp_peeloff_arg_t"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "getsockopt creates an fd in the caller"},
    {OPT(IPPROTO_SCTP, SCTP_SOCKOPT_PEELOFF_FLAGS),
     V_NEVER("sctp_peeloff_flags_arg_t"), .flags = SOCKOPT_F_NEVER, K(4, 13, 0),
     .why = "getsockopt creates an fd in the caller"},
    {OPT(IPPROTO_SCTP, SCTP_GET_PEER_ADDRS), V_NEVER("struct sctp_getaddrs"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "getsockopt reads the association from the buffer"},
    {OPT(IPPROTO_SCTP, SCTP_STATUS), V_NEVER("struct sctp_status"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "getsockopt reads the association from the buffer"},

    /* MPTCP. */
    {OPT(SOL_MPTCP, MPTCP_INFO), V_STRUCT_RO(struct mptcp_info, MPTCP_INFO_MAX),
     K(5, 16, 0)},
    {OPT(SOL_MPTCP, MPTCP_TCPINFO), V_NEVER("struct mptcp_subflow_data"),
     .flags = SOCKOPT_F_NEVER, K(5, 16, 0),
     .why = "getsockopt reads a header from the buffer"},
    {OPT(SOL_MPTCP, MPTCP_SUBFLOW_ADDRS), V_NEVER("struct mptcp_subflow_data"),
     .flags = SOCKOPT_F_NEVER, K(5, 16, 0),
     .why = "getsockopt reads a header from the buffer"},
    {OPT(SOL_MPTCP, MPTCP_FULL_INFO), V_NEVER("struct mptcp_full_info"),
     .flags = SOCKOPT_F_NEVER, K(6, 5, 0),
     .why = "the buffer holds pointers the kernel writes through"},

    /* Netlink. */
    {OPT(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP), V_INT_WO, BY_STATE(ADMIN, EPERM),
     K(2, 6, 14),
     .why = "free on NETLINK_ROUTE, NETLINK_SOCK_DIAG, NETLINK_GENERIC, "
            "NETLINK_KOBJECT_UEVENT; other protocols need CAP_NET_ADMIN"},
    {OPT(SOL_NETLINK, NETLINK_DROP_MEMBERSHIP), V_INT_WO,
     BY_STATE(ADMIN, EPERM), K(2, 6, 14), .why = "as NETLINK_ADD_MEMBERSHIP"},
    {OPT(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID), V_INT, PRIV(BROADCAST, EPERM),
     K(4, 2, 0), .why = "CAP_NET_BROADCAST (which psockd-priv does not hold)"},
    {OPT(SOL_NETLINK, NETLINK_PKTINFO), V_INT, K(2, 6, 14)},
    {OPT(SOL_NETLINK, NETLINK_BROADCAST_ERROR), V_INT, K(2, 6, 26)},
    {OPT(SOL_NETLINK, NETLINK_NO_ENOBUFS), V_INT, K(2, 6, 30)},
    {OPT(SOL_NETLINK, NETLINK_CAP_ACK), V_INT, K(4, 2, 0)},
    {OPT(SOL_NETLINK, NETLINK_EXT_ACK), V_INT, K(4, 12, 0)},
    {OPT(SOL_NETLINK, NETLINK_GET_STRICT_CHK), V_INT, K(4, 20, 0)},
    {OPT(SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS),
     V_STRUCT_RO(uint32_t[], NETLINK_GROUPS_MAX), K(4, 2, 0),
     .why = "the length answered is the groups' size, which may exceed "
            "the buffer: psockd returns what it read"},

    /* Packet sockets (psockd hands them out only by explicit rule). */
    {OPT(SOL_PACKET, PACKET_FANOUT_DATA), V_NEVER("struct sock_fprog or fd"),
     .flags = SOCKOPT_F_NEVER, K(4, 2, 0),
     .why = "the value points to a filter or is a BPF program fd"},
};

const size_t sockopts_l4_count = sizeof(sockopts_l4) / sizeof(sockopts_l4[0]);
