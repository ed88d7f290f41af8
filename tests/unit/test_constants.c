/* SPDX-License-Identifier: MIT */
/*
 * The seed's constant groups (AF_*, SOCK_*, SO_*, SOMAXCONN, MSG_*, SOL_*,
 * IPPROTO_*, IPPORT_*, INADDR_*, IP_*, IPV6_*, EAI_*, AI_*, NI_*, TCP_*,
 * TIPC_*, and SHUT_* for shutdown()). The C API takes the platform's own
 * constants: a program includes <psock/psock.h> together with the system
 * headers (docs/api.md names which one holds which group). This test shows
 * that the combination compiles and that a handful of each group has
 * Linux's value, the value psockd hands to the kernel unchanged.
 */
#include <psock/psock.h>

#include <linux/tipc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

struct constant {
  const char *name;
  long long value, linux_value;
};

#define C(name, linux_value)                                                   \
  { #name, (long long)(name), (linux_value) }

static void check(const struct constant *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (c[i].value != c[i].linux_value)
      fail_msg("%s is %lld, Linux has %lld", c[i].name, c[i].value,
               c[i].linux_value);
  }
}

#define CHECK_GROUP(table) check((table), sizeof(table) / sizeof((table)[0]))

static void test_address_families(void **state) {
  static const struct constant t[] = {
      C(AF_UNSPEC, 0),   C(AF_UNIX, 1),    C(AF_INET, 2),  C(AF_INET6, 10),
      C(AF_NETLINK, 16), C(AF_PACKET, 17), C(AF_TIPC, 30), C(AF_LOCAL, 1),
  };
  CHECK_GROUP(t);
}

static void test_socket_types(void **state) {
  static const struct constant t[] = {
      C(SOCK_STREAM, 1),
      C(SOCK_DGRAM, 2),
      C(SOCK_RAW, 3),
      C(SOCK_RDM, 4),
      C(SOCK_SEQPACKET, 5),
      C(SOCK_NONBLOCK, 04000),
      C(SOCK_CLOEXEC, 02000000),
  };
  CHECK_GROUP(t);
}

static void test_socket_options_and_somaxconn(void **state) {
  static const struct constant t[] = {
      C(SO_DEBUG, 1),         C(SO_REUSEADDR, 2),   C(SO_TYPE, 3),
      C(SO_ERROR, 4),         C(SO_DONTROUTE, 5),   C(SO_BROADCAST, 6),
      C(SO_SNDBUF, 7),        C(SO_RCVBUF, 8),      C(SO_KEEPALIVE, 9),
      C(SO_OOBINLINE, 10),    C(SO_PRIORITY, 12),   C(SO_LINGER, 13),
      C(SO_REUSEPORT, 15),    C(SO_RCVLOWAT, 18),   C(SO_SNDLOWAT, 19),
      C(SO_BINDTODEVICE, 25), C(SO_ACCEPTCONN, 30), C(SO_SNDBUFFORCE, 32),
      C(SO_RCVBUFFORCE, 33),  C(SO_MARK, 36),       C(SO_PROTOCOL, 38),
      C(SO_DOMAIN, 39),       C(SOMAXCONN, 4096),
  };
  CHECK_GROUP(t);
}

static void test_message_flags_and_levels(void **state) {
  static const struct constant t[] = {
      C(MSG_OOB, 1),       C(MSG_PEEK, 2),        C(MSG_DONTROUTE, 4),
      C(MSG_CTRUNC, 8),    C(MSG_TRUNC, 0x20),    C(MSG_DONTWAIT, 0x40),
      C(MSG_EOR, 0x80),    C(MSG_WAITALL, 0x100), C(MSG_NOSIGNAL, 0x4000),
      C(MSG_MORE, 0x8000), C(SOL_SOCKET, 1),      C(SOL_IP, 0),
      C(SOL_TCP, 6),       C(SOL_UDP, 17),        C(SOL_IPV6, 41),
      C(SOL_NETLINK, 270), C(SOL_TIPC, 271),      C(SHUT_RD, 0),
      C(SHUT_WR, 1),       C(SHUT_RDWR, 2),
  };
  CHECK_GROUP(t);
}

static void test_ip_protocols_ports_addresses(void **state) {
  static const struct constant t[] = {
      C(IPPROTO_IP, 0),
      C(IPPROTO_ICMP, 1),
      C(IPPROTO_IGMP, 2),
      C(IPPROTO_TCP, 6),
      C(IPPROTO_UDP, 17),
      C(IPPROTO_IPV6, 41),
      C(IPPROTO_ICMPV6, 58),
      C(IPPROTO_SCTP, 132),
      C(IPPROTO_UDPLITE, 136),
      C(IPPROTO_RAW, 255),
      C(IPPORT_RESERVED, 1024),
      C(IPPORT_USERRESERVED, 5000),
      C(INADDR_ANY, 0),
      C(INADDR_BROADCAST, 0xffffffff),
      C(INADDR_LOOPBACK, 0x7f000001),
      C(INADDR_NONE, 0xffffffff),
      C(INADDR_UNSPEC_GROUP, 0xe0000000),
      C(INADDR_ALLHOSTS_GROUP, 0xe0000001),
      C(INADDR_MAX_LOCAL_GROUP, 0xe00000ff),
  };
  CHECK_GROUP(t);
}

static void test_ip_and_ipv6_options(void **state) {
  static const struct constant t[] = {
      C(IP_TOS, 1),
      C(IP_TTL, 2),
      C(IP_HDRINCL, 3),
      C(IP_OPTIONS, 4),
      C(IP_RECVOPTS, 6),
      C(IP_PKTINFO, 8),
      C(IP_MTU_DISCOVER, 10),
      C(IP_RECVERR, 11),
      C(IP_TRANSPARENT, 19),
      C(IP_MULTICAST_IF, 32),
      C(IP_MULTICAST_TTL, 33),
      C(IP_MULTICAST_LOOP, 34),
      C(IP_ADD_MEMBERSHIP, 35),
      C(IP_DROP_MEMBERSHIP, 36),
      C(IP_DEFAULT_MULTICAST_TTL, 1),
      C(IP_DEFAULT_MULTICAST_LOOP, 1),
      C(IP_MAX_MEMBERSHIPS, 20),
      C(IPV6_CHECKSUM, 7),
      C(IPV6_UNICAST_HOPS, 16),
      C(IPV6_MULTICAST_IF, 17),
      C(IPV6_MULTICAST_HOPS, 18),
      C(IPV6_MULTICAST_LOOP, 19),
      C(IPV6_JOIN_GROUP, 20),
      C(IPV6_LEAVE_GROUP, 21),
      C(IPV6_V6ONLY, 26),
      C(IPV6_RECVPKTINFO, 49),
      C(IPV6_PKTINFO, 50),
      C(IPV6_TCLASS, 67),
      C(IPV6_TRANSPARENT, 75),
  };
  CHECK_GROUP(t);
}

static void test_name_service_codes_and_flags(void **state) {
  static const struct constant t[] = {
      C(EAI_BADFLAGS, -1),      C(EAI_NONAME, -2),    C(EAI_AGAIN, -3),
      C(EAI_FAIL, -4),          C(EAI_NODATA, -5),    C(EAI_FAMILY, -6),
      C(EAI_SOCKTYPE, -7),      C(EAI_SERVICE, -8),   C(EAI_ADDRFAMILY, -9),
      C(EAI_MEMORY, -10),       C(EAI_SYSTEM, -11),   C(EAI_OVERFLOW, -12),
      C(AI_PASSIVE, 1),         C(AI_CANONNAME, 2),   C(AI_NUMERICHOST, 4),
      C(AI_V4MAPPED, 8),        C(AI_ALL, 0x10),      C(AI_ADDRCONFIG, 0x20),
      C(AI_NUMERICSERV, 0x400), C(NI_NUMERICHOST, 1), C(NI_NUMERICSERV, 2),
      C(NI_NOFQDN, 4),          C(NI_NAMEREQD, 8),    C(NI_DGRAM, 16),
      C(NI_MAXHOST, 1025),      C(NI_MAXSERV, 32),    C(HOST_NOT_FOUND, 1),
      C(TRY_AGAIN, 2),          C(NO_RECOVERY, 3),    C(NO_DATA, 4),
  };
  CHECK_GROUP(t);
}

static void test_tcp_options(void **state) {
  static const struct constant t[] = {
      C(TCP_NODELAY, 1),       C(TCP_MAXSEG, 2),        C(TCP_CORK, 3),
      C(TCP_KEEPIDLE, 4),      C(TCP_KEEPINTVL, 5),     C(TCP_KEEPCNT, 6),
      C(TCP_SYNCNT, 7),        C(TCP_LINGER2, 8),       C(TCP_DEFER_ACCEPT, 9),
      C(TCP_WINDOW_CLAMP, 10), C(TCP_INFO, 11),         C(TCP_QUICKACK, 12),
      C(TCP_CONGESTION, 13),   C(TCP_USER_TIMEOUT, 18), C(TCP_FASTOPEN, 23),
  };
  CHECK_GROUP(t);
}

static void test_tipc_constants(void **state) {
  static const struct constant t[] = {
      C(TIPC_ADDR_NAMESEQ, 1),
      C(TIPC_ADDR_MCAST, 1),
      C(TIPC_ADDR_NAME, 2),
      C(TIPC_ADDR_ID, 3),
      C(TIPC_ZONE_SCOPE, 1),
      C(TIPC_CLUSTER_SCOPE, 2),
      C(TIPC_NODE_SCOPE, 3),
      C(TIPC_IMPORTANCE, 127),
      C(TIPC_SRC_DROPPABLE, 128),
      C(TIPC_DEST_DROPPABLE, 129),
      C(TIPC_CONN_TIMEOUT, 130),
      C(TIPC_LOW_IMPORTANCE, 0),
      C(TIPC_MEDIUM_IMPORTANCE, 1),
      C(TIPC_HIGH_IMPORTANCE, 2),
      C(TIPC_CRITICAL_IMPORTANCE, 3),
      C(TIPC_SUB_PORTS, 1),
      C(TIPC_SUB_SERVICE, 2),
      C(TIPC_SUB_CANCEL, 4),
      C(TIPC_WAIT_FOREVER, -1),
      C(TIPC_PUBLISHED, 1),
      C(TIPC_WITHDRAWN, 2),
      C(TIPC_SUBSCR_TIMEOUT, 3),
      C(TIPC_CFG_SRV, 0),
      C(TIPC_TOP_SRV, 1),
  };
  CHECK_GROUP(t);
}

/* psock's own: the seed's None timeout and the exception kinds. */
static void test_psock_constants(void **state) {
  static const struct constant t[] = {
      C(PSOCK_ERR_NONE, 0),     C(PSOCK_ERR_OS, 1),      C(PSOCK_ERR_HOST, 2),
      C(PSOCK_ERR_GAI, 3),      C(PSOCK_ERR_TIMEOUT, 4), C(PSOCK_ERR_POLICY, 5),
      C(PSOCK_ERR_PROTOCOL, 6), C(PSOCK_ERR_VALUE, 7),
  };
  CHECK_GROUP(t);
  assert_true(PSOCK_TIMEOUT_NONE < 0.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_address_families),
      cmocka_unit_test(test_socket_types),
      cmocka_unit_test(test_socket_options_and_somaxconn),
      cmocka_unit_test(test_message_flags_and_levels),
      cmocka_unit_test(test_ip_protocols_ports_addresses),
      cmocka_unit_test(test_ip_and_ipv6_options),
      cmocka_unit_test(test_name_service_codes_and_flags),
      cmocka_unit_test(test_tcp_options),
      cmocka_unit_test(test_tipc_constants),
      cmocka_unit_test(test_psock_constants),
  };

  return cmocka_run_group_tests_name("constants", tests, NULL, NULL);
}
