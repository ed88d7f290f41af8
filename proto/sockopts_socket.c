/* SPDX-License-Identifier: MIT */
/*
 * sockopts_socket: the SOL_SOCKET part of the option table. Rules read
 * from sk_setsockopt()/sk_getsockopt() in net/core/sock.c (Linux 6.1 and
 * 6.12 as Debian ships them; the unit test checks the running kernel).
 *
 * Trust boundary: none; constant data.
 */
#include "sockopts_table.h"

#include <linux/if.h>
#include <linux/net_tstamp.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <time.h>

/* Numbers newer than the build's headers. Only for entries psockd refuses
 * (a wrong number can then refuse too much, never allow too much), and
 * only where <asm/socket.h> is asm-generic's. */
#if !defined(__alpha__) && !defined(__mips__) && !defined(__hppa__) &&         \
    !defined(__sparc__)
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#endif

/* struct __kernel_old_timeval: two longs whatever glibc's time_t is. */
#define OLD_TIMEVAL (2 * sizeof(long))
/* struct __kernel_sock_timeval: two 64-bit integers. */
#define SOCK_TIMEVAL (2 * sizeof(int64_t))

const struct sockopt sockopts_socket[] = {
    /* Options whose setsockopt needs a capability. */
    {OPT(SOL_SOCKET, SO_DEBUG), V_INT, FREE_RANGE(0, 0, ADMIN, EACCES),
     K(2, 6, 12), .why = "0 free; other values need CAP_NET_ADMIN"},
    {OPT(SOL_SOCKET, SO_MARK), V_INT, PRIV(RAW_OR_ADMIN, EPERM), K(2, 6, 25),
     .why = "CAP_NET_ADMIN or (since 5.17) CAP_NET_RAW, any value"},
    {OPT(SOL_SOCKET, SO_PRIORITY), V_INT, FREE_RANGE(0, 6, RAW_OR_ADMIN, EPERM),
     K(2, 6, 12),
     .why = "0..6 free; other values need CAP_NET_ADMIN or (since 5.17) "
            "CAP_NET_RAW"},
    {OPT(SOL_SOCKET, SO_RCVBUFFORCE), V_INT_WO, PRIV(ADMIN, EPERM), K(2, 6, 14),
     .why = "CAP_NET_ADMIN: SO_RCVBUF past net.core.rmem_max"},
    {OPT(SOL_SOCKET, SO_SNDBUFFORCE), V_INT_WO, PRIV(ADMIN, EPERM), K(2, 6, 14),
     .why = "CAP_NET_ADMIN: SO_SNDBUF past net.core.wmem_max"},
    {OPT(SOL_SOCKET, SO_BINDTODEVICE), V_STRING(0, IFNAMSIZ, IFNAMSIZ),
     BY_STATE(RAW, EPERM), K(5, 7, 0),
     .why = "free on a socket not bound to a device; any change of a "
            "binding needs CAP_NET_RAW (always before 5.7)"},
    {OPT(SOL_SOCKET, SO_BINDTOIFINDEX), V_INT, BY_STATE(RAW, EPERM), K(5, 7, 0),
     .why = "as SO_BINDTODEVICE, by ifindex (option since 5.0; always "
            "CAP_NET_RAW before 5.7)"},
    {OPT(SOL_SOCKET, SO_BUSY_POLL), V_INT, BY_STATE(ADMIN, EPERM), K(3, 11, 0),
     .until = SOCKOPT_KERNEL(6, 4, 0),
     .why = "raising it above the socket's value needed CAP_NET_ADMIN "
            "until 6.4; free since"},
    {OPT(SOL_SOCKET, SO_PREFER_BUSY_POLL), V_INT,
     FREE_RANGE(0, 0, ADMIN, EPERM), K(5, 11, 0),
     .why = "0 free; other values need CAP_NET_ADMIN"},
    {OPT(SOL_SOCKET, SO_BUSY_POLL_BUDGET), V_INT_WO, BY_STATE(ADMIN, EPERM),
     K(5, 11, 0),
     .why = "raising it above the socket's budget (0 on a new socket) "
            "needs CAP_NET_ADMIN"},
    {OPT(SOL_SOCKET, SO_TXTIME), V_STRUCT(struct sock_txtime),
     FREE_RANGE(CLOCK_MONOTONIC, CLOCK_MONOTONIC, ADMIN, EPERM), K(5, 8, 0),
     .why = "clockid CLOCK_MONOTONIC free; other clocks need CAP_NET_ADMIN "
            "(any clock before 5.8)"},

    /* Free to set. */
    {OPT(SOL_SOCKET, SO_REUSEADDR), V_INT, K(2, 6, 12)},
    {OPT(SOL_SOCKET, SO_REUSEPORT), V_INT, K(3, 9, 0),
     .why = "inet sockets only (EOPNOTSUPP elsewhere)"},
    {OPT(SOL_SOCKET, SO_KEEPALIVE), V_INT, K(2, 6, 12)},
    {OPT(SOL_SOCKET, SO_DONTROUTE), V_INT, K(2, 6, 12)},
    {OPT(SOL_SOCKET, SO_BROADCAST), V_INT, K(2, 6, 12)},
    {OPT(SOL_SOCKET, SO_SNDBUF), V_INT, K(2, 6, 12),
     .why = "cut to net.core.wmem_max, then doubled"},
    {OPT(SOL_SOCKET, SO_RCVBUF), V_INT, K(2, 6, 12),
     .why = "cut to net.core.rmem_max, then doubled"},
    {OPT(SOL_SOCKET, SO_OOBINLINE), V_INT, K(2, 6, 12)},
    {OPT(SOL_SOCKET, SO_NO_CHECK), V_INT, K(2, 6, 12)},
    {OPT(SOL_SOCKET, SO_LINGER), V_STRUCT(struct linger), K(2, 6, 12),
     .why = "psockd never closes a lingering socket on its event loop"},
    {OPT(SOL_SOCKET, SO_RCVLOWAT), V_INT, K(2, 6, 12)},
    {NAMED("SO_RCVTIMEO", SOL_SOCKET, SO_RCVTIMEO_OLD),
     V_BYTES("struct timeval", OLD_TIMEVAL, OLD_TIMEVAL, OLD_TIMEVAL),
     K(2, 6, 12), .why = "struct __kernel_old_timeval (two longs)"},
    {NAMED("SO_SNDTIMEO", SOL_SOCKET, SO_SNDTIMEO_OLD),
     V_BYTES("struct timeval", OLD_TIMEVAL, OLD_TIMEVAL, OLD_TIMEVAL),
     K(2, 6, 12), .why = "struct __kernel_old_timeval (two longs)"},
    {OPT(SOL_SOCKET, SO_RCVTIMEO_NEW),
     V_BYTES("struct __kernel_sock_timeval", SOCK_TIMEVAL, SOCK_TIMEVAL,
             SOCK_TIMEVAL),
     K(5, 1, 0)},
    {OPT(SOL_SOCKET, SO_SNDTIMEO_NEW),
     V_BYTES("struct __kernel_sock_timeval", SOCK_TIMEVAL, SOCK_TIMEVAL,
             SOCK_TIMEVAL),
     K(5, 1, 0)},
    {NAMED("SO_TIMESTAMP", SOL_SOCKET, SO_TIMESTAMP_OLD), V_INT, K(2, 6, 12)},
    {NAMED("SO_TIMESTAMPNS", SOL_SOCKET, SO_TIMESTAMPNS_OLD), V_INT,
     K(2, 6, 22)},
    {NAMED("SO_TIMESTAMPING", SOL_SOCKET, SO_TIMESTAMPING_OLD),
     V_BYTES("int or struct so_timestamping", sizeof(int),
             sizeof(struct so_timestamping), sizeof(struct so_timestamping)),
     K(2, 6, 30), .why = "struct so_timestamping form since 5.14"},
    {OPT(SOL_SOCKET, SO_TIMESTAMP_NEW), V_INT, K(5, 1, 0)},
    {OPT(SOL_SOCKET, SO_TIMESTAMPNS_NEW), V_INT, K(5, 1, 0)},
    {OPT(SOL_SOCKET, SO_TIMESTAMPING_NEW),
     V_BYTES("int or struct so_timestamping", sizeof(int),
             sizeof(struct so_timestamping), sizeof(struct so_timestamping)),
     K(5, 1, 0)},
    {OPT(SOL_SOCKET, SO_PASSCRED), V_INT, K(2, 6, 12),
     .why = "EOPNOTSUPP on inet sockets in 6.18 (not in 6.12)"},
    {OPT(SOL_SOCKET, SO_PASSSEC), V_INT, K(2, 6, 18),
     .why = "EOPNOTSUPP on inet sockets in 6.18 (not in 6.12)"},
    {OPT(SOL_SOCKET, SO_RXQ_OVFL), V_INT, K(2, 6, 33)},
    {OPT(SOL_SOCKET, SO_WIFI_STATUS), V_INT, K(3, 3, 0)},
    {OPT(SOL_SOCKET, SO_PEEK_OFF), V_INT, K(3, 4, 0),
     .why = "EOPNOTSUPP where the protocol has no peek offset"},
    {OPT(SOL_SOCKET, SO_NOFCS), V_INT, K(3, 4, 0)},
    {OPT(SOL_SOCKET, SO_LOCK_FILTER), V_INT, K(3, 9, 0),
     .why = "once set, clearing it is EPERM for everyone"},
    {OPT(SOL_SOCKET, SO_SELECT_ERR_QUEUE), V_INT, K(3, 10, 0)},
    {OPT(SOL_SOCKET, SO_MAX_PACING_RATE),
     V_BYTES("unsigned int or unsigned long", sizeof(int),
             sizeof(unsigned long), sizeof(unsigned long)),
     K(3, 13, 0)},
    {OPT(SOL_SOCKET, SO_INCOMING_CPU), V_INT, K(3, 19, 0)},
    {OPT(SOL_SOCKET, SO_ZEROCOPY), V_INT, K(4, 14, 0),
     .why = "psockd never sends with MSG_ZEROCOPY"},
    {OPT(SOL_SOCKET, SO_BUF_LOCK), V_INT, K(5, 14, 0)},
    {OPT(SOL_SOCKET, SO_RESERVE_MEM), V_INT, K(5, 16, 0),
     .why = "charged to the socket's memory cgroup (EOPNOTSUPP without)"},
    {OPT(SOL_SOCKET, SO_TXREHASH), V_INT, K(5, 18, 0)},
    {OPT(SOL_SOCKET, SO_RCVMARK), V_INT, K(6, 0, 0)},
    {OPT(SOL_SOCKET, SO_DETACH_FILTER), V_INT_WO, K(2, 6, 12),
     .why = "also SO_DETACH_BPF"},
    {OPT(SOL_SOCKET, SO_DETACH_REUSEPORT_BPF), V_INT_WO, K(5, 2, 0)},
    {OPT(SOL_SOCKET, SO_CNX_ADVICE), V_INT_WO, K(4, 9, 0)},

    /* Read only (setsockopt answers ENOPROTOOPT). */
    {OPT(SOL_SOCKET, SO_TYPE), V_INT_RO, K(2, 6, 12)},
    {OPT(SOL_SOCKET, SO_DOMAIN), V_INT_RO, K(2, 6, 32)},
    {OPT(SOL_SOCKET, SO_PROTOCOL), V_INT_RO, K(2, 6, 32)},
    {OPT(SOL_SOCKET, SO_ERROR), V_INT_RO, K(2, 6, 12),
     .why = "reading clears the pending error"},
    {OPT(SOL_SOCKET, SO_ACCEPTCONN), V_INT_RO, K(2, 6, 12)},
    {OPT(SOL_SOCKET, SO_SNDLOWAT), V_INT_RO, K(2, 6, 12),
     .why = "always 1; not settable"},
    {OPT(SOL_SOCKET, SO_PEERCRED),
     V_STRUCT_RO(struct ucred, sizeof(struct ucred)), K(2, 6, 12)},
    {OPT(SOL_SOCKET, SO_BPF_EXTENSIONS), V_INT_RO, K(3, 14, 0)},
    {OPT(SOL_SOCKET, SO_COOKIE), V_STRUCT_RO(uint64_t, sizeof(uint64_t)),
     K(4, 12, 0)},
    {OPT(SOL_SOCKET, SO_MEMINFO),
     V_STRUCT_RO(uint32_t[SK_MEMINFO_VARS], SK_MEMINFO_VARS * 4), K(4, 12, 0)},
    {OPT(SOL_SOCKET, SO_INCOMING_NAPI_ID), V_INT_RO, K(4, 12, 0)},
    {OPT(SOL_SOCKET, SO_NETNS_COOKIE), V_STRUCT_RO(uint64_t, sizeof(uint64_t)),
     K(5, 14, 0)},

    /* Never through psockd (see docs/socket-options.md). */
    {OPT(SOL_SOCKET, SO_ATTACH_FILTER), V_NEVER("struct sock_fprog"),
     .flags = SOCKOPT_F_NEVER, K(2, 6, 12),
     .why = "the value points to the filter; its getsockopt twin "
            "SO_GET_FILTER counts len in instructions, not bytes; on TCP "
            "it needs CAP_NET_ADMIN (6.18, Debian's 6.1 and 6.12)"},
    {OPT(SOL_SOCKET, SO_ATTACH_BPF), V_NEVER("int (a BPF program fd)"),
     .flags = SOCKOPT_F_NEVER, K(3, 19, 0),
     .why = "the value is an fd in the caller's table"},
    {OPT(SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF), V_NEVER("struct sock_fprog"),
     .flags = SOCKOPT_F_NEVER, K(4, 5, 0),
     .why = "the value points to the filter"},
    {OPT(SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF),
     V_NEVER("int (a BPF program fd)"), .flags = SOCKOPT_F_NEVER, K(4, 5, 0),
     .why = "the value is an fd in the caller's table"},
#ifdef SO_PEERPIDFD
    {OPT(SOL_SOCKET, SO_PEERPIDFD), V_NEVER("int (a pidfd)"),
     .flags = SOCKOPT_F_NEVER, K(6, 5, 0),
     .why = "getsockopt creates a pidfd in the caller"},
#endif
};

const size_t sockopts_socket_count =
    sizeof(sockopts_socket) / sizeof(sockopts_socket[0]);
